"""Who the command line records: --who, else $POXSCREEN_USER, else the login name marked
unverified (and said once)."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

import pytest

from engine.cli import common, main
from engine.store import Store
from tests.engine.store.conftest import make_photo


@pytest.fixture(autouse=True)
def _fresh_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "_told", [])
    monkeypatch.setattr(getpass, "getuser", lambda: "root")


def test_who_prefers_the_option_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POXSCREEN_USER", "Dr Env")
    assert common.who(argparse.Namespace(who="Dr Flag")) == "Dr Flag"
    assert common.who(argparse.Namespace(who=None)) == "Dr Env"


def test_login_name_is_marked_unverified_and_said_once(
    tmp_path: Path,
    db_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("POXSCREEN_USER", raising=False)
    photo = make_photo(tmp_path / "lesion.png", seed=3)
    assert main(["label", str(photo), "Measles", "--db", str(db_path)]) == 0
    assert main(["label", str(photo), "Normal", "--db", str(db_path)]) == 0
    err = capsys.readouterr().err
    assert err.count("recording you as 'root (login, unverified)'") == 1
    assert "--who NAME" in err and "POXSCREEN_USER" in err
    with Store.open(db_path) as store:
        assert [e.who for e in store.history(photo)] == ["root (login, unverified)"] * 2


def test_the_training_child_records_the_apps_clinician(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import time

    from engine.training import TrainingProcess

    monkeypatch.setenv("POXSCREEN_USER", "someone else")
    code = (
        "import os, sys; out = sys.argv[sys.argv.index('--out') + 1]; "
        "open(os.path.join(out, 'who.txt'), 'w').write(os.environ['POXSCREEN_USER'])"
    )
    proc = TrainingProcess.start(
        [], run_dir=tmp_path / "run", command=[sys.executable, "-c", code], who="Dr A. Mensah"
    )
    for _ in range(200):
        if (tmp_path / "run" / "who.txt").is_file():
            break
        time.sleep(0.05)
    assert (tmp_path / "run" / "who.txt").read_text() == "Dr A. Mensah"
    assert proc.run_dir == tmp_path / "run"
