"""``poxscreen label|undo|history|runs|export|models`` against a real database file."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main
from engine.referral import DEFAULT_REFERRAL_RULE
from engine.store import Store
from tests.engine.store.conftest import CLASSES, MODEL_A, MODEL_B, make_photo, probs_for, sha_of


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_label_undo_history_from_the_command_line(
    tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = make_photo(tmp_path / "lesion.png", seed=3)
    db = str(db_path)
    code, out, _ = _run(capsys, "label", str(photo), "measles", "--who", "dr a", "--db", db)
    assert code == 0 and "(no label) -> Measles" in out
    code, out, _ = _run(
        capsys, "label", str(photo), "Normal", "--who", "dr b", "--note", "on review", "--db", db
    )
    assert code == 0 and "Measles -> Normal" in out
    code, out, _ = _run(capsys, "undo", sha_of(photo)[:12], "--who", "dr b", "--db", db)
    assert code == 0 and "label now Measles" in out
    code, out, _ = _run(capsys, "history", str(photo), "--db", db)
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith(sha_of(photo))
    assert "set Measles" in lines[1] and "dr a" in lines[1]
    assert "set Normal" in lines[2] and "note: on review" in lines[2]
    assert "undo #" in lines[3] and lines[3].split("->")[1].split()[0] == "Measles"
    with Store.open(db_path) as store:
        assert store.current_label(photo) == "Measles"


def test_bad_label_and_foreign_database_give_exit_code_2(
    tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = make_photo(tmp_path / "lesion.png", seed=3)
    code, _, err = _run(capsys, "label", str(photo), "smallpox", "--who", "x", "--db", str(db_path))
    assert code == 2 and "not one of Chickenpox, Measles, Monkeypox, Normal" in err
    foreign = tmp_path / "notes.db"
    foreign.write_text("not a database")
    code, _, err = _run(capsys, "history", str(photo), "--db", str(foreign))
    assert code == 2 and "not an SQLite database" in err
    assert foreign.read_text() == "not a database"
    code, _, err = _run(capsys, "models", "activate", "--db", str(db_path))
    assert code == 2 and "needs a model" in err


def test_models_list_and_activate(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Store.open(db_path) as store:
        store.register_model(MODEL_A, name="msid")
        store.register_model(MODEL_B, name="clinic")
    code, out, _ = _run(capsys, "models", "list", "--db", str(db_path))
    assert code == 0 and out.splitlines()[0].startswith(f"* msid@{MODEL_A[:12]}")
    # neither has a recorded evaluation: activating one needs a reason (recorded)
    code, out, _ = _run(
        capsys, "models", "activate", "clinic", "--reason", "trial", "--db", str(db_path)
    )
    assert code == 0 and f"clinic@{MODEL_B[:12]}" in out
    code, out, _ = _run(capsys, "models", "--db", str(db_path))
    assert out.splitlines()[1].startswith("* clinic")


def test_runs_and_exports(
    tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = [make_photo(tmp_path / "in" / f"{i}.png", seed=i) for i in range(3)]
    with Store.open(db_path) as store:
        run = store.begin_run(str(tmp_path / "in"), {}, MODEL_A, model_meta={"classes": CLASSES})
        store.record_results(
            run,
            [
                {"path": str(p), "sha256": sha_of(p), "probabilities": probs_for("Measles", 0.7)}
                for p in photos
            ],
        )
        store.finish_run(run, "finished", total=3)
    _run(capsys, "label", str(photos[0]), "Monkeypox", "--who", "dr a", "--db", str(db_path))
    code, out, _ = _run(capsys, "runs", "--db", str(db_path))
    assert code == 0 and out.startswith(f"#{run}") and "finished" in out and "3 screened" in out
    code, out, _ = _run(
        capsys,
        "export",
        "--run",
        str(run),
        "--format",
        "csv",
        "--out",
        str(tmp_path / "x"),
        "--db",
        str(db_path),
    )
    assert code == 0 and (tmp_path / "x" / f"run-{run}.csv").is_file() and "3 rows" in out
    code, out, _ = _run(
        capsys,
        "export",
        "--run",
        str(run),
        "--format",
        "imagefolder",
        "--out",
        str(tmp_path / "folders"),
        "--db",
        str(db_path),
    )
    assert code == 0 and "1 labelled images" in out
    assert [p.parent.name for p in (tmp_path / "folders").rglob("*.png")] == ["Monkeypox"]
    code, _, err = _run(
        capsys,
        "export",
        "--run",
        "99",
        "--format",
        "csv",
        "--out",
        str(tmp_path),
        "--db",
        str(db_path),
    )
    assert code == 2 and "#99" in err


def test_redo_and_the_referral_rule_from_the_command_line(
    tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = make_photo(tmp_path / "lesion.png", seed=4)
    db = str(db_path)
    _run(capsys, "label", str(photo), "measles", "--who", "dr a", "--db", db)
    assert _run(capsys, "undo", str(photo), "--who", "dr a", "--db", db)[0] == 0
    code, out, _ = _run(capsys, "redo", str(photo), "--who", "dr a", "--db", db)
    assert code == 0 and "label now Measles" in out
    code, _, err = _run(capsys, "redo", str(photo), "--who", "dr a", "--db", db)
    assert code == 2 and "no undone label" in err
    code, out, _ = _run(capsys, "referral", "--db", db)
    default = DEFAULT_REFERRAL_RULE
    assert code == 0
    assert f"below {default.min_confidence}" in out and f"above {default.mpox_above}" in out
    code, out, _ = _run(capsys, "referral", "set", "--mpox-above", "0.15", "--db", db)
    assert code == 0 and f"below {default.min_confidence}" in out and "above 0.15" in out
    code, _, err = _run(capsys, "referral", "set", "--min-confidence", "2", "--db", db)
    assert code == 2 and "min_confidence must be within [0, 1]" in err
    with Store.open(db_path) as store:
        assert store.referral_rule().mpox_above == 0.15


def test_screening_csv_flags_referrals_by_the_stores_rule(
    tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import csv

    import torch

    from engine.checkpoint import ModelMeta, save_model
    from engine.model import MobileNetV2MSCAPFR

    torch.manual_seed(0)
    model = tmp_path / "m.safetensors"
    save_model(model, MobileNetV2MSCAPFR(4).eval(), ModelMeta(name="m", trained=True))
    folder = tmp_path / "photos"
    for i in range(4):  # 224 px or more: a smaller photo is referred as "check photo" (too small)
        make_photo(folder / f"p{i}.png", seed=i, size=(240, 224))
    db = str(db_path)
    out = tmp_path / "out.csv"

    def screen(rule: tuple[str, str]) -> list[dict[str, str]]:
        _run(
            capsys,
            "referral",
            "set",
            "--min-confidence",
            rule[0],
            "--mpox-above",
            rule[1],
            "--db",
            db,
        )
        args = ["screen", str(folder), "--model", str(model), "--device", "cpu", "-q"]
        assert main([*args, "--db", db, "--out", str(out)]) == 0
        with open(out, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    assert {r["referral"] for r in screen(("1", "1"))} == {"true"}  # nothing is that sure
    assert {r["referral"] for r in screen(("0", "1"))} == {"false"}  # refer nothing
    assert {r["quality_issues"] for r in screen(("0", "1"))} == {""}
