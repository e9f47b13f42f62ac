"""engine.training: the desktop's handle on a trainer child process (start, progress file,
stop, re-attach after a restart, past runs)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from engine.store import Store
from engine.training import TrainingProcess, list_training_runs
from tests.trainer.synth import make_folder, save_start_model

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


def _store(tmp_path: Path) -> tuple[Path, str]:
    meta = save_start_model(tmp_path / "start.safetensors")
    db = tmp_path / "store.db"
    with Store.open(db) as store:
        store.add_model_file(tmp_path / "start.safetensors", activate=True)
    return db, meta.content_hash


def _wait_for(proc: TrainingProcess, event: str, timeout: float = 240) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(e["event"] == event for e in proc.events):
            return proc.events
        if not proc.running:
            break
        time.sleep(0.2)
    stderr = (proc.run_dir / "stderr.log").read_text(errors="replace")
    raise AssertionError(f"no {event!r} event; stderr: {stderr[-2000:]}")


def test_start_progress_attach_stop_and_list(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(REPO)  # `python -m trainer` from the source tree
    db, start_hash = _store(tmp_path)
    data = make_folder(tmp_path / "data", per_class=10)
    args = ["--data", str(data), "--init", "active", "--input-size", "64", "--epochs", "200"]
    args += ["--patience", "200", "--batch-size", "16", "--lr", "1e-3", "--freeze", "1"]
    args += ["--val-fraction", "0.25", "--gate-fraction", "0", "--device", "cpu"]
    runs = tmp_path / "runs"
    proc = TrainingProcess.start(args, db=db, run_dir=runs / "r1")
    try:
        events = _wait_for(proc, "epoch")
        assert proc.running and proc.pid and proc.result() is None
        assert events[0]["event"] == "run" and events[0]["pid"] == proc.pid
        assert (proc.run_dir / "progress.jsonl").is_file()
        assert proc.poll() == [] or all("event" in e for e in proc.poll())
        again = TrainingProcess.attach(proc.run_dir)  # the GUI restarted
        assert again.pid == proc.pid and again.running
        assert [e["event"] for e in again.events][:2] == [e["event"] for e in events][:2]
        (listed,) = list_training_runs(runs)
        assert listed.running and listed.status == "running" and listed.pid == proc.pid
        result = proc.stop(grace_s=120)
    finally:
        if proc.running:
            proc._signal(9)
    assert result is not None and result.status == "stopped" and result.returncode == 0
    assert result.registered and not result.activated  # the GUI's Promote decides
    assert result.model_version and result.model_path and Path(result.model_path).is_file()
    assert any(e["event"] == "stopping" and e["reason"] == "stop file" for e in proc.events)
    with Store.open(db) as store:
        assert store.active_model().content_hash == start_hash
        assert result.model_version in {m.version for m in store.models()}
    finished = TrainingProcess.attach(proc.run_dir)
    assert not finished.running and finished.result() == result.__class__(
        **{**result.__dict__, "returncode": None}
    )
    (listed,) = list_training_runs(runs)
    assert not listed.running and listed.status == "stopped"
    assert listed.model_version == result.model_version


def test_a_run_that_died_without_a_final_event_reads_as_killed(tmp_path: Path) -> None:
    run = tmp_path / "dead"
    run.mkdir()
    (run / "process.json").write_text(json.dumps({"pid": 2**22 + 12345, "started_at": "x"}))
    line = json.dumps({"event": "run", "time": 1.0, "pid": 2**22 + 12345})
    (run / "progress.jsonl").write_text(line + "\n" + '{"event": "ep')  # a half-written line
    proc = TrainingProcess.attach(run)
    assert [e["event"] for e in proc.events] == ["run"] and not proc.running
    result = proc.result()
    assert result is not None and result.status == "killed" and not result.registered
    with open(run / "progress.jsonl", "a") as fh:
        fh.write('och", "epoch": 1}\n{"event": "error", "message": "out of memory"}\n')
    assert [e["event"] for e in proc.poll()] == ["epoch", "error"]
    failed = proc.result()
    assert failed is not None and failed.status == "failed" and failed.message == "out of memory"


def test_the_command_line_for_source_and_frozen_apps(monkeypatch) -> None:
    import sys

    from engine.training import trainer_command

    assert trainer_command()[1:] == ["-m", "trainer"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert trainer_command() == [sys.executable]


def test_the_child_is_marked_so_the_packaged_app_trains_in_it(tmp_path: Path) -> None:
    """The packaged app starts itself with ``train``: the marker makes that process train
    instead of starting yet another child (launcher.route)."""
    import sys

    from engine.training import TRAINER_CHILD_ENV

    code = f"import os; print(os.environ.get({TRAINER_CHILD_ENV!r}))"
    proc = TrainingProcess.start([], run_dir=tmp_path / "run", command=[sys.executable, "-c", code])
    deadline = time.monotonic() + 60
    while proc.running and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (tmp_path / "run" / "stdout.log").read_text().strip() == "1"
