"""A live screening is never taken for dead; a dead or silent one is resumed."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from engine.store import Store
from engine.store import owner as owner_mod
from engine.store.tables import Run

MODEL = "a" * 64


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _age(store: Store, run_id: int, seconds: float, **fields: object) -> None:
    """As if the run's last batch and heartbeat were ``seconds`` ago."""
    with store.write() as s:
        row = s.get(Run, run_id)
        row.updated_at = row.updated_at - timedelta(seconds=seconds)
        row.heartbeat_at = row.updated_at
        for name, value in fields.items():
            setattr(row, name, value)


def test_a_live_owner_silent_for_a_minute_keeps_its_run(tmp_path: Path) -> None:
    db = tmp_path / "case.db"
    with Store.open(db) as first, Store.open(db) as second:
        run = first.begin_run("/photos", {}, MODEL)
        info = first.run(run)
        assert info.owner_pid is not None and info.owner_host == owner_mod.this_host()
        _age(first, run, 60)  # a long lock wait: was taken for dead after 30 s
        assert not first.run(run).interrupted
        assert second.begin_run("/photos", {}, MODEL, resume=True) != run


def test_a_dead_owner_on_this_host_is_resumed_at_once(tmp_path: Path) -> None:
    with Store.open(tmp_path / "case.db") as store:
        run = store.begin_run("/photos", {}, MODEL)
        _age(store, run, 1, owner_pid=_dead_pid())
        assert store.run(run).interrupted
        assert store.begin_run("/photos", {}, MODEL, resume=True) == run
        assert store.run(run).owner_pid == __import__("os").getpid()


@pytest.mark.parametrize(("silent", "resumed"), [(100, False), (130, True)])
def test_another_hosts_run_is_resumed_only_after_120_s_of_silence(
    tmp_path: Path, silent: float, resumed: bool
) -> None:
    with Store.open(tmp_path / "case.db") as store:
        run = store.begin_run("/photos", {}, MODEL)
        _age(store, run, silent, owner_host="other-workstation", owner_pid=1)
        assert (store.begin_run("/photos", {}, MODEL, resume=True) == run) is resumed


def test_heartbeat_refreshes_a_run_without_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(owner_mod, "HEARTBEAT_SECONDS", 0.05)
    with Store.open(tmp_path / "case.db") as store:
        run = store.begin_run("/photos", {}, MODEL)
        _age(store, run, 300, owner_host="other-workstation")
        deadline = time.monotonic() + 20
        while store.run(run).interrupted and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not store.run(run).interrupted  # the heartbeat alone brought it back to life
        store.finish_run(run, "finished")
        beat = store.run(run).heartbeat_at
        time.sleep(0.3)
        assert store.run(run).heartbeat_at == beat  # finishing stops the heartbeat
