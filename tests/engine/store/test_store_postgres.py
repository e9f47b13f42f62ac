"""The same store on PostgreSQL (a clinic server): a throwaway local server, skipped when the
PostgreSQL binaries or the psycopg driver are not installed."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.referral import ReferralRule
from engine.store import REFER, ReviewFilter, Store, StoreError, StoreVersionError
from tests.engine.store.conftest import CLASSES, MODEL_A, MODEL_B, fake_result

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _is_root() -> bool:
    return getattr(os, "geteuid", lambda: -1)() == 0


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb/postgres refuse to run as root: run them as the postgres user then."""
    if _is_root():
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    pytest.importorskip("psycopg", reason="psycopg not installed (pip install psycopg[binary])")
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed")
    base = Path(tempfile.mkdtemp(prefix="poxscreen-pg-"))
    base.chmod(0o777)
    data, port = base / "data", _free_port()
    try:
        if _is_root():
            shutil.chown(base, "postgres")
        subprocess.run(
            _as_postgres(
                [
                    initdb,
                    "-D",
                    str(data),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ]
            ),
            check=True,
            capture_output=True,
        )
        opts = f"-k {base} -p {port} -c listen_addresses='' -c fsync=off"
        subprocess.run(
            _as_postgres(
                [pg_ctl, "-D", str(data), "-o", opts, "-w", "start", "-l", str(base / "log")]
            ),
            check=True,
            capture_output=True,
        )
    except (subprocess.CalledProcessError, LookupError, OSError) as exc:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"could not start a throwaway PostgreSQL: {exc}")
    try:
        yield f"postgresql+psycopg://postgres@/{{db}}?host={base}&port={port}"
    finally:
        subprocess.run(
            _as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True
        )
        shutil.rmtree(base, ignore_errors=True)


def _database(pg_server: str, name: str) -> str:
    import psycopg

    admin = pg_server.format(db="postgres").replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_server.format(db=name)


def test_the_store_works_on_postgresql(pg_server: str, tmp_path: Path) -> None:
    url = _database(pg_server, "clinic")
    with Store.open(url, image_root=tmp_path / "images") as store:
        run = store.begin_run("/photos", {}, MODEL_A, model_meta={"classes": CLASSES})
        batch = [fake_result(i, top=CLASSES[i % 4], confidence=0.4 + i / 100) for i in range(30)]
        batch.append({**batch[0], "path": "/photos/copy-of-0.jpg"})  # same image twice in a batch
        stats = store.record_results(run, batch)
        assert (stats.screened, stats.skipped) == (30, 1)
        assert store.record_results(run, batch[:5]).skipped == 5
        run_b = store.begin_run("/photos", {}, MODEL_B)
        store.record_results(run_b, [fake_result(0, top="Normal", confidence=0.99)])
        assert store.done_hashes(MODEL_A, [fake_result(i)["sha256"] for i in range(40)]) == {
            fake_result(i)["sha256"] for i in range(30)
        }
        sha = fake_result(3)["sha256"]
        store.label(sha, "Measles", who="dr a", classes=CLASSES)
        store.label(sha, REFER, who="dr b")
        assert store.undo(sha, who="dr b").current_label == "Measles"
        assert [e.label_after for e in store.history(sha)] == ["Measles", REFER, "Measles"]
        pages, after = [], None
        while True:
            page = store.review_queue(ReviewFilter(reviewed=False), limit=7, after=after)
            pages += [i.confidence for i in page.items]
            if page.next_cursor is None:
                break
            after = page.next_cursor
        assert len(pages) == 29 and pages == sorted(pages)
        assert store.count(ReviewFilter(disagreement=True)) == 1  # Measles vs model's class
        assert store.undo(sha, who="dr b").current_label is None
        assert store.redo(sha, who="dr b").current_label == "Measles"
        rule = ReferralRule(min_confidence=0.5, mpox_above=0.2)
        store.set_referral_rule(rule, who="lead")
        want = {r["sha256"] for r in batch[:30] if rule.flags(r["probabilities"])}
        got = store.review_queue(ReviewFilter(referral=True), limit=100).items
        assert {i.sha256 for i in got} == want and 0 < len(want) < 30
        names = [i.path for i in store.review_queue(ReviewFilter(sort="name"), limit=100).items]
        assert names == sorted(names) and len(names) == 30
        assert store.count(ReviewFilter(search="IMG1")) == 11  # img1, img10..img19
        store.register_model(MODEL_B, name="b")
        assert store.activate_model("b").active
        assert [m.content_hash for m in store.models() if m.active] == [MODEL_B]
        assert store.finish_run(run, "finished").counts.screened == 30
        assert store.export_csv(tmp_path / "run.csv", run_id=run) == 31
    with Store.open(url) as again:  # reopening at head: no migration
        assert again.current_label(sha) == "Measles"


def test_a_foreign_postgresql_database_is_refused(pg_server: str) -> None:
    import psycopg

    url = _database(pg_server, "other_app")
    plain = url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("CREATE TABLE patients (id serial primary key, name text)")
    with pytest.raises(StoreVersionError, match="patients"):
        Store.open(url)
    with psycopg.connect(plain) as conn:
        tables = [
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
    assert tables == ["patients"]


def test_an_unreachable_server_is_a_store_error(pg_server: str) -> None:
    with pytest.raises(StoreError, match="cannot inspect"):
        Store.open(pg_server.format(db="no_such_database"))
