"""Two readers: different clinicians' labels make a photo disputed; it is left out of training
until a third clinician settles it (an adjudication); ``poxscreen audit --agreement``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine

from engine.cli import main
from engine.store import ReviewFilter, Store, StoreError
from engine.store.db import _alembic_config
from tests.engine.store.conftest import CLASSES, MODEL_A, fake_result, make_photo, sha_of
from trainer.sources import DISPUTED, store_samples


def _label(store: Store, photo: Path | str, label: str, who: str) -> bool:
    store.label(photo, label, who=who, classes=CLASSES)
    return store.image(photo if isinstance(photo, str) else sha_of(photo)).sha256 in {
        i.sha256 for i in store.labelled_images() if i.disputed
    }


def test_different_clinicians_dispute_a_photo_one_changing_their_mind_does_not(
    tmp_path: Path, store: Store
) -> None:
    photo = make_photo(tmp_path / "p.png", seed=1)
    assert not _label(store, photo, "Monkeypox", "Dr A")
    assert not _label(store, photo, "Chickenpox", "Dr A")  # a relabel
    assert not _label(store, photo, "refer", "Dr B")  # "uncertain" disputes nothing
    assert _label(store, photo, "Monkeypox", "Dr B")  # Dr A says Chickenpox
    readings = store.readings([sha_of(photo)])[sha_of(photo)]
    assert [(r.who, r.label) for r in readings] == [("Dr A", "Chickenpox"), ("Dr B", "Monkeypox")]
    assert not _label(store, photo, "Monkeypox", "dr a")  # Dr A comes round: agreed
    store.label(photo, "Measles", who="Dr B", classes=CLASSES)
    store.undo(photo, who="Dr B")  # Dr B takes the disagreeing label back
    assert not [i for i in store.labelled_images() if i.disputed]


def test_a_disputed_photo_is_left_out_of_training_until_a_third_clinician_settles_it(
    tmp_path: Path, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = [make_photo(tmp_path / f"p{i}.png", seed=i) for i in range(3)]
    for p in photos:
        store.label(p, "Measles", who="Dr A", classes=CLASSES)
    store.label(photos[0], "Normal", who="Dr B", classes=CLASSES)
    samples, skipped = store_samples(store)
    assert sorted(s.sha256 for s in samples) == sorted(sha_of(p) for p in photos[1:])
    assert [(s.path, s.reason) for s in skipped] == [(f"sha256:{sha_of(photos[0])}", DISPUTED)]
    assert "left out until it is settled" in DISPUTED
    store.label(photos[0], "Monkeypox", who="Dr A", classes=CLASSES)  # a disputant: no settling
    assert len(store_samples(store)[1]) == 1
    outcome = store.label(photos[0], "Normal", who="Dr C", classes=CLASSES)
    assert outcome.current_label == "Normal"
    assert len(store_samples(store)[0]) == 3 and store_samples(store)[1] == []
    assert store.history(photos[0])[-1].source == "adjudicate"
    assert [e.kind for e in store.events(kinds=["adjudicate"])] == ["adjudicate"]
    assert main(["history", sha_of(photos[0]), "--db", str(store.db.sqlite_path)]) == 0
    assert "adjudicate Normal" in capsys.readouterr().out
    from engine.store.case_rows import label_details

    image_id = store.image(sha_of(photos[0])).id
    with store.read() as s:  # what the report and the cases CSV print
        assert label_details(s, [image_id])[image_id].who == "Dr C (adjudication)"
    store.label(photos[0], "Measles", who="Dr D", classes=CLASSES)  # after the adjudication
    assert store.labelled_images()[0].disputed  # a new disagreement with the adjudicator


def test_disputed_filter_of_the_review_queue(store: Store) -> None:
    run = store.begin_run("/photos", {}, MODEL_A, model_meta={"classes": CLASSES})
    results = [fake_result(i) for i in range(3)]
    store.record_results(run, results)
    shas = [r["sha256"] for r in results]
    store.label(shas[0], "Measles", who="Dr A", classes=CLASSES)
    store.label(shas[0], "Normal", who="Dr B", classes=CLASSES)
    store.label(shas[1], "Measles", who="Dr A", classes=CLASSES)
    page = store.review_queue(ReviewFilter(disputed=True))
    assert [i.sha256 for i in page.items] == [shas[0]] and page.items[0].disputed
    assert len(store.review_queue(ReviewFilter(disputed=False)).items) == 2


def test_agreement_prints_kappa_and_pair_counts(
    tmp_path: Path, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(store.db.sqlite_path)
    assert main(["audit", "--agreement", "--db", db]) == 0
    assert "nothing to compare" in capsys.readouterr().out
    pairs = [("Measles", "Measles"), ("Measles", "Measles"), ("Normal", "Normal"),
             ("Monkeypox", "Chickenpox"), ("Normal", "Measles")]  # fmt: skip
    for i, (a, b) in enumerate(pairs):
        photo = make_photo(tmp_path / f"p{i}.png", seed=i)
        store.label(photo, a, who="Dr A", classes=CLASSES)
        store.label(photo, b, who="Dr B", classes=CLASSES)
    assert main(["audit", "--agreement", "--db", db]) == 0
    out = capsys.readouterr().out
    from sklearn.metrics import cohen_kappa_score

    kappa = cohen_kappa_score([a for a, _ in pairs], [b for _, b in pairs])
    assert f"Cohen's kappa: {kappa:.3f}" in out and "agreed: 3 of 5 pairs" in out
    assert any(line.split()[:3] == ["Measles", "Measles", "2"] for line in out.splitlines())
    assert any(line.split()[:3] == ["Chickenpox", "Monkeypox", "1"] for line in out.splitlines())


def test_an_old_database_with_two_readers_is_marked_disputed_when_migrated(db_path: Path) -> None:
    engine = create_engine(f"sqlite:///{db_path}")
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0006")
    engine.dispose()
    with sqlite3.connect(db_path) as conn:
        for i in (1, 2):
            conn.execute(
                "INSERT INTO images (id, sha256, current_label, first_seen_at, last_seen_at) "
                "VALUES (?, ?, ?, '2026-01-01 10:00:00', '2026-01-01 10:00:00')",
                (i, str(i) * 64, {1: "Chickenpox", 2: "Normal"}[i]),
            )
        events = [(1, "Monkeypox", "dr a"), (1, "Chickenpox", "dr b"),
                  (2, "Measles", "dr a"), (2, "Normal", "dr a")]  # fmt: skip
        for image_id, label, who in events:
            conn.execute(
                "INSERT INTO label_events (image_id, kind, label, who, source, created_at) "
                "VALUES (?, 'set', ?, ?, 'clinician', '2026-01-01 10:01:00')",
                (image_id, label, who),
            )
    conn.close()
    with Store.open(db_path) as store:
        disputed = {i.sha256: i.disputed for i in store.labelled_images()}
    assert disputed == {"1" * 64: True, "2" * 64: False}


def test_an_explicit_adjudication_needs_a_dispute_and_sqlites_user_is_admin(
    tmp_path: Path, store: Store
) -> None:
    photo = make_photo(tmp_path / "p.png", seed=7)
    store.label(photo, "Measles", who="Dr A", classes=CLASSES)
    with pytest.raises(StoreError, match="is not disputed: nothing to adjudicate"):
        store.label(photo, "Normal", who="Dr A", source="adjudicate", classes=CLASSES)
    store.label(photo, "Normal", who="Dr B", classes=CLASSES)
    store.label(photo, "Normal", who="Dr A", source="adjudicate", classes=CLASSES)  # admin
    assert not store.labelled_images()[0].disputed
    assert store.events(kinds=["adjudicate"])[0].who == "Dr A"
