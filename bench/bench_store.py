"""Benchmark: the case store at 100,000 images -- recording a screening and the review queue.

Why: a clinic screens whole archives; recording must not slow screening down, and the GUI's
"review the most uncertain next" page must come back instantly at that size. Results are
synthetic (random probabilities, hashes of counters), recorded through the public Store API in
batches of 256, one transaction each (``synchronous=FULL``, so every batch is fsynced). 5% of the
images then get a clinician label (bulk-inserted label events for set-up speed; single corrections
through ``Store.label`` are timed separately).

Run from the repository root: ``.venv/bin/python bench/bench_store.py [--images N]``.
Prints a table and writes ``bench/results/store.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import text

from engine.store import ReviewFilter, Store
from engine.store.tables import Image, LabelEvent, utcnow

RESULTS = Path(__file__).resolve().parent / "results" / "store.json"
CLASSES = ["Chickenpox", "Measles", "Monkeypox", "Normal"]
MODEL = hashlib.sha256(b"bench-model").hexdigest()


def make_results(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        weights = [rng.random() ** 3 for _ in CLASSES]
        total = sum(weights)
        probs = {c: w / total for c, w in zip(CLASSES, weights, strict=True)}
        out.append(
            {
                "path": f"/archive/{i // 1000:03}/IMG_{i:06}.jpg",
                "sha256": hashlib.sha256(f"photo-{i}".encode()).hexdigest(),
                "size_bytes": 2_000_000 + i,
                "width": 4000,
                "height": 3000,
                "format": "JPEG",
                "probabilities": probs,
            }
        )
    return out


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    result = fn()  # warm-up: page cache, statement cache
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, min(times) * 1000, result


def bulk_labels(store: Store, fraction: float, seed: int = 1) -> int:
    """Give ``fraction`` of the images a current label (set-up only; not what is measured)."""
    rng = random.Random(seed)
    now = utcnow()
    with store.write() as s:
        ids = [i for (i,) in s.execute(sqlalchemy.select(Image.id))]
        chosen = rng.sample(ids, int(len(ids) * fraction))
        rows, updates = [], []
        for image_id in chosen:
            label = rng.choice([*CLASSES, "refer"])
            rows.append(
                {
                    "image_id": image_id,
                    "kind": "set",
                    "label": label,
                    "who": "bench",
                    "source": "clinician",
                    "created_at": now,
                }
            )
            updates.append({"b_id": image_id, "b_label": label})
        s.execute(sqlalchemy.insert(LabelEvent), rows)
        s.execute(
            sqlalchemy.update(Image.__table__)
            .where(Image.__table__.c.id == sqlalchemy.bindparam("b_id"))
            .values(current_label=sqlalchemy.bindparam("b_label")),
            updates,
        )
    return len(chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    results = make_results(args.images)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        store = Store.open(db)
        run = store.begin_run(
            "/archive",
            {"batch_size": args.batch},
            MODEL,
            model_name="bench",
            model_meta={"classes": CLASSES},
            total=args.images,
        )
        batch_times = []
        start = time.perf_counter()
        for i in range(0, len(results), args.batch):
            t0 = time.perf_counter()
            store.record_results(run, results[i : i + args.batch])
            batch_times.append(time.perf_counter() - t0)
        record_s = time.perf_counter() - start
        t0 = time.perf_counter()
        store.finish_run(run, "finished", total=args.images)
        finish_ms = (time.perf_counter() - t0) * 1000

        t0 = time.perf_counter()
        again = store.record_results(run, results[: args.batch])  # a resumed batch: all skipped
        rerecord_ms = (time.perf_counter() - t0) * 1000
        assert again.skipped == min(args.batch, args.images)

        n_labelled = bulk_labels(store, 0.05)
        some = [r["sha256"] for r in results[:: max(1, args.images // 20)]][:20]
        t0 = time.perf_counter()
        for sha in some:
            store.label(sha, "Measles", who="bench", classes=CLASSES)
        label_ms = (time.perf_counter() - t0) * 1000 / len(some)

        deep: dict[str, Any] = {}

        def keyset_page_50() -> Any:
            flt = ReviewFilter(reviewed=False)
            after = deep.get("cursor")
            if after is None:
                page = store.review_queue(flt, limit=100)
                for _ in range(49):
                    page = store.review_queue(flt, limit=100, after=page.next_cursor)
                deep["cursor"] = after = page.next_cursor
            return store.review_queue(flt, limit=100, after=after)

        queries: dict[str, Callable[[], Any]] = {
            "queue: unreviewed, class=Monkeypox, lowest confidence, page 1 (100)": lambda: (
                store.review_queue(
                    ReviewFilter(predicted_class="Monkeypox", reviewed=False), limit=100
                )
            ),
            "queue: unreviewed, highest entropy, page 1": lambda: store.review_queue(
                ReviewFilter(reviewed=False, sort="entropy"), limit=100
            ),
            "queue: run, unreviewed, confidence < 0.5, page 1": lambda: store.review_queue(
                ReviewFilter(run_id=run, reviewed=False, max_confidence=0.5), limit=100
            ),
            "queue: disagreement (model vs clinician), page 1": lambda: store.review_queue(
                ReviewFilter(disagreement=True), limit=100
            ),
            "queue: unreviewed, page 51 by keyset cursor": keyset_page_50,
            "queue: unreviewed, page 51 by offset": lambda: store.review_queue(
                ReviewFilter(reviewed=False), limit=100, offset=5000
            ),
            "count: unreviewed, class=Monkeypox": lambda: store.count(
                ReviewFilter(predicted_class="Monkeypox", reviewed=False)
            ),
            "class counts: unreviewed": lambda: store.class_counts(ReviewFilter(reviewed=False)),
            "done_hashes(model, 256 hashes) (resume check)": lambda: store.done_hashes(
                MODEL, [r["sha256"] for r in results[: args.batch]]
            ),
            "done_hashes(model) all": lambda: store.done_hashes(MODEL),
        }
        rows = []
        for name, fn in queries.items():
            median_ms, min_ms, result = timed(fn, args.repeats)
            size = (
                len(result.items)
                if hasattr(result, "items") and not isinstance(result, dict)
                else (result if isinstance(result, int) else len(result))
            )
            rows.append(
                {
                    "case": name,
                    "median_ms": round(median_ms, 2),
                    "min_ms": round(min_ms, 2),
                    "rows": size,
                }
            )

        with store.read() as s:
            plan = [
                r[-1]
                for r in s.execute(
                    text(
                        "EXPLAIN QUERY PLAN SELECT p.id FROM predictions p JOIN images i ON "
                        "i.id = p.image_id WHERE p.model_id = 1 AND p.top_class = 'Monkeypox' "
                        "AND i.current_label IS NULL ORDER BY p.confidence, p.image_id LIMIT 100"
                    )
                )
            ]
        store.close()
        db_mb = sum(p.stat().st_size for p in Path(tmp).glob("bench.db*")) / 1e6

    per_image_us = record_s / args.images * 1e6
    print(
        f"{args.images} images, batches of {args.batch}, SQLite {sqlalchemy.__version__} "
        f"(SQLAlchemy), database {db_mb:.0f} MB"
    )
    print(
        f"record screening: {record_s:.1f} s total, {per_image_us:.0f} us/image, "
        f"batch median {statistics.median(batch_times) * 1000:.1f} ms, "
        f"max {max(batch_times) * 1000:.1f} ms"
    )
    print(
        f"finish_run (recount): {finish_ms:.0f} ms; re-record a done batch: {rerecord_ms:.1f} ms; "
        f"one label (incl. lookup): {label_ms:.1f} ms; {n_labelled} images labelled"
    )
    print(f"{'query':70} {'median ms':>10} {'min ms':>8} {'rows':>7}")
    for r in rows:
        print(f"{r['case']:70} {r['median_ms']:>10.1f} {r['min_ms']:>8.1f} {r['rows']:>7}")
    print("plan (class + unreviewed + lowest confidence):", " | ".join(plan))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "store",
                "images": args.images,
                "batch": args.batch,
                "record_total_s": round(record_s, 2),
                "record_per_image_us": round(per_image_us, 1),
                "batch_median_ms": round(statistics.median(batch_times) * 1000, 2),
                "batch_max_ms": round(max(batch_times) * 1000, 2),
                "finish_run_ms": round(finish_ms, 1),
                "rerecord_batch_ms": round(rerecord_ms, 2),
                "label_ms": round(label_ms, 2),
                "labelled": n_labelled,
                "db_mb": round(db_mb, 1),
                "queries": rows,
                "plan": plan,
                "python": platform.python_version(),
                "sqlalchemy": sqlalchemy.__version__,
                "machine": platform.machine(),
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
