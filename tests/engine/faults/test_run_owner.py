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


def test_an_owner_whose_run_was_taken_over_writes_nothing_more(tmp_path: Path) -> None:
    from engine.store.runs import RunTakenOver
    from tests.engine.store.conftest import fake_result

    db = tmp_path / "case.db"
    with Store.open(db) as first, Store.open(db) as second:
        run = first.begin_run("/photos", {}, MODEL)
        first.record_results(run, [fake_result(0)])
        _age(first, run, 130)  # first was paused past the takeover window
        assert second.begin_run("/photos", {}, MODEL, resume=True) == run
        with pytest.raises(RunTakenOver, match=r"taken over by \d+@.* while this process was "):
            first.record_results(run, [fake_result(1)])
        first.finish_run(run, "failed", error="stopped")  # leaves the new owner's run alone
        assert second.run(run).status == "running"
        second.record_results(run, [fake_result(2)])
        second.finish_run(run, "finished")
        assert second.run(run).counts.seen == 2  # images 0 and 2; never image 1


_PAUSED_OWNER = """
import sys, time
from engine.store import Store, owner
from engine.store.runs import RunTakenOver
from tests.engine.store.conftest import fake_result
# No heartbeat thread: a SIGSTOP landing inside its write would hold SQLite's lock for the
# whole pause, and the test could not take the run over (a real lock wait, not this fault).
owner.OWNER_SILENT_SECONDS, owner.HEARTBEAT_SECONDS = 1.0, 3600.0
store = Store.open(sys.argv[1])
run = store.begin_run("/photos", {}, sys.argv[2])
try:
    for i in range(100000):
        store.record_results(run, [fake_result(i)])
        print("wrote", i, flush=True)
        if i == 2:
            sys.stdin.readline()  # the test stops it here, between writes, holding no lock
        time.sleep(0.05)
except RunTakenOver as exc:
    print("STOPPED", exc, flush=True)
    store.finish_run(run, "failed", error=str(exc))
    sys.exit(3)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGSTOP is POSIX")
def test_a_process_resumed_after_sigstop_notices_the_takeover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal

    db = tmp_path / "case.db"
    root = Path(__file__).resolve().parents[3]
    proc = subprocess.Popen(
        [sys.executable, "-c", _PAUSED_OWNER, str(db), MODEL],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        while not proc.stdout.readline().startswith("wrote 2"):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        proc.send_signal(signal.SIGSTOP)
        paused_at = time.monotonic()
        monkeypatch.setattr(owner_mod, "OWNER_SILENT_SECONDS", 1.0)
        with Store.open(db) as store:
            run = store.runs()[0].id
            while store.screening.find_resumable_run("/photos", MODEL) != run:
                assert time.monotonic() - paused_at < 30, "the paused run was never taken over"
                time.sleep(0.2)
            assert store.begin_run("/photos", {}, MODEL, resume=True) == run
            assert store.run(run).owner_pid == __import__("os").getpid()
            before = {p for p, _ in store.screening.run_errors(run)}
            proc.send_signal(signal.SIGCONT)
            out, errs = proc.communicate("go\n", timeout=60)
            assert proc.returncode == 3, errs
            assert f"taken over by {__import__('os').getpid()}@" in out
            assert "while this process was paused; stopped, nothing written after" in out
            info = store.run(run)
            assert info.status == "running" and info.owner_pid != proc.pid
            assert {p for p, _ in store.screening.run_errors(run)} == before
            store.finish_run(run, "finished")
            wrote_lines = [ln for ln in out.splitlines() if ln.startswith("wrote")]
            assert store.run(run).counts.seen == 3 + len(wrote_lines)  # 0..2 read before the pause
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
            proc.wait()


def test_a_screening_job_stops_and_says_who_took_its_run(
    tmp_path: Path, model_file: Path, photo_folder: Path
) -> None:
    import os

    from engine.predictor import Predictor
    from engine.screening import ScreeningFailed, ScreeningJob

    predictor = Predictor.from_file(model_file, device="cpu", batch_size=4)
    db = tmp_path / "case.db"
    with Store.open(db) as first, Store.open(db) as second:
        taken: list[int] = []

        def take_over(batch: object) -> None:  # after the first batch: paused past the window
            if not taken:
                run = first.runs()[0].id
                _age(first, run, 130)
                taken.append(
                    second.begin_run(
                        str(photo_folder), {}, predictor.meta.content_hash, resume=True
                    )
                )

        job = ScreeningJob(
            predictor, photo_folder, recursive=True, store=first, on_results=take_over
        )
        with pytest.raises(ScreeningFailed) as failed:
            job.run()
        message = str(failed.value)
        assert (
            f"taken over by {os.getpid()}@{owner_mod.this_host()} while this process was" in message
        )
        assert "stopped, nothing written after" in message
        info = second.run(taken[0])
        assert info.status == "running" and info.counts.seen == 4  # the first batch only
