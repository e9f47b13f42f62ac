"""The trainer as the child process the GUI launches: SIGTERM stops cleanly, kill -9 registers
nothing, and progress lines arrive on stdout as they happen."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.trainer.conftest import open_test_store
from tests.trainer.synth import make_folder, save_start_model
from trainer.progress import parse_line

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


def _start(tmp_path: Path, db: Path) -> subprocess.Popen[str]:
    data = make_folder(tmp_path / "data", per_class=10)
    cmd = [
        sys.executable,
        "-m",
        "trainer",
        "train",
        "--data",
        str(data),
        "--db",
        str(db),
        "--init",
        "imagenet",
        "--input-size",
        "64",
        "--epochs",
        "200",
        "--patience",
        "200",
        "--batch-size",
        "16",
        "--lr",
        "1e-3",
        "--freeze",
        "1",
        "--val-fraction",
        "0.25",
        "--device",
        "cpu",
        "--out",
        str(tmp_path / "run"),
        "--name",
        "child",
    ]
    return subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
    )


def _read_until(
    proc: subprocess.Popen[str],
    event: str,
    timeout: float = 240.0,
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    for line in proc.stdout:
        parsed = parse_line(line)
        if parsed is not None:
            events.append(parsed)
            if parsed["event"] == event:
                return events
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise AssertionError(f"no {event!r} event; stderr: {proc.stderr.read() if proc.stderr else ''}")


def _store_with_active_model(tmp_path: Path) -> tuple[Path, str]:
    meta = save_start_model(tmp_path / "start.safetensors")
    db = tmp_path / "store.db"
    with open_test_store(db) as store:
        store.register_model(
            meta.content_hash, name="start", path=tmp_path / "start.safetensors", activate=True
        )
    return db, meta.content_hash


def test_sigterm_stops_cleanly_keeping_the_best_model(tmp_path: Path) -> None:
    db, _ = _store_with_active_model(tmp_path)
    proc = _start(tmp_path, db)
    try:
        _read_until(proc, "epoch")
        proc.send_signal(signal.SIGTERM)
        rest = _read_until(proc, "done", timeout=120)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    done = rest[-1]
    assert done["status"] == "stopped"
    assert any(e["event"] == "stopping" and e["reason"] == "SIGTERM" for e in rest)
    assert (tmp_path / "run" / "model.safetensors").is_file()
    assert done["registered"] is True  # a clean stop keeps (and registers) the best model
    with open_test_store(db) as store:
        run = store.training_run(done["registration"]["training_run"])
        assert run.status == "cancelled"
        assert run.result_model.startswith(done["version"].split("@")[1])


def test_kill_9_mid_run_registers_nothing(tmp_path: Path) -> None:
    db, start_hash = _store_with_active_model(tmp_path)
    proc = _start(tmp_path, db)
    try:
        _read_until(proc, "epoch")  # a best checkpoint exists by now
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (tmp_path / "run" / "best.safetensors").is_file()
    with open_test_store(db) as store:
        assert [m.content_hash for m in store.models()] == [start_hash]
        assert store.active_model().content_hash == start_hash
    assert not db.with_name("store-models").exists()
    assert not (tmp_path / "run" / "model.safetensors").exists()
