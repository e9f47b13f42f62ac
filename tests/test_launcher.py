"""The launcher: one entry point routing to the GUI, the trainer, the self-test or the engine CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

import launcher
from tests.conftest import REPO_ROOT

HEAVY = ("torch", "PySide6", "sqlalchemy", "numpy", "PIL", "matplotlib", "multiprocessing")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ("gui", [])),
        (["gui"], ("gui", [])),
        (["gui", "--lang", "fr"], ("gui", ["--lang", "fr"])),
        (["--self-test", "--keep"], ("selftest", ["--keep"])),
        (["train", "--epochs", "1"], ("train-child", ["train", "--epochs", "1"])),
        (["evaluate", "m.safetensors", "d"], ("trainer", ["evaluate", "m.safetensors", "d"])),
        (["split", "d", "--out", "s.json"], ("trainer", ["split", "d", "--out", "s.json"])),
        (["rollback"], ("trainer", ["rollback"])),
        (
            ["screen", "photos", "--out", "r.csv"],
            ("engine", ["screen", "photos", "--out", "r.csv"]),
        ),
        (["models", "list"], ("engine", ["models", "list"])),
        (["--help"], ("engine", ["--help"])),
        (["training"], ("engine", ["training"])),  # only exact command names go to the trainer
        (["-m", "trainer", "train", "--epochs", "1"], ("trainer", ["train", "--epochs", "1"])),
        (["-m", "engine", "screen", "d"], ("engine", ["screen", "d"])),
        (["-m", "desktop", "--db", "x"], ("gui", ["--db", "x"])),
        (["-m", "bench"], ("engine", ["-m", "bench"])),  # nothing else runs as a module
    ],
)
def test_route(argv: list[str], expected: tuple[str, list[str]]) -> None:
    assert launcher.route(argv) == expected


def _recorder(calls: list[tuple[str, list[str]]], name: str, status: int = 0):
    def main(argv: list[str] | None = None) -> int:
        calls.append((name, list(argv or [])))
        return status

    return main


def test_gui_is_imported_lazily_and_gets_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, list[str]]] = []
    fake = types.ModuleType("desktop.app")
    fake.main = _recorder(calls, "gui", 0)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "desktop.app", fake)
    assert launcher.main([]) == 0
    assert launcher.main(["gui", "--x"]) == 0
    assert calls == [("gui", []), ("gui", ["--x"])]


def test_trainer_commands_run_in_process_with_passive_openmp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """evaluate (and train inside the trainer child) run trainer.cli.main here."""
    import trainer.cli

    calls: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(trainer.cli, "main", _recorder(calls, "trainer", 7))
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert launcher.main(["evaluate", "m.safetensors", "d"]) == 7
    monkeypatch.setenv(launcher.TRAINER_CHILD_ENV, "1")
    assert launcher.main(["train", "--epochs", "1"]) == 7
    assert calls == [
        ("trainer", ["evaluate", "m.safetensors", "d"]),
        ("trainer", ["train", "--epochs", "1"]),
    ]
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"


def _fake_trainer(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    """The trainer command replaced by a small Python program; in-process training fails."""
    import engine.training
    import trainer.cli

    def in_process(argv: list[str] | None = None) -> int:
        raise AssertionError("poxscreen train ran the trainer in the launcher's process")

    monkeypatch.setattr(trainer.cli, "main", in_process)
    monkeypatch.setattr(engine.training, "trainer_command", lambda: [sys.executable, "-c", code])
    monkeypatch.delenv(launcher.TRAINER_CHILD_ENV, raising=False)


def test_train_runs_the_trainer_as_a_child_process(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    import engine.training

    assert launcher.TRAINER_CHILD_ENV == engine.training.TRAINER_CHILD_ENV
    code = (
        "import os, sys; print('child', os.getpid(), os.environ.get("
        f"{launcher.TRAINER_CHILD_ENV!r}), sys.argv[1:]); sys.exit(5)"
    )
    _fake_trainer(monkeypatch, code)
    assert launcher.main(["train", "--epochs", "1"]) == 5
    word, pid, marker, args = capfd.readouterr().out.split(" ", 3)
    assert word == "child" and int(pid) != os.getpid() and marker == "1"
    assert args.strip() == "['train', '--epochs', '1']"


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_a_training_killed_for_memory_does_not_take_the_launcher_down(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    _fake_trainer(monkeypatch, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert launcher.main(["train"]) == 1
    assert "the training process was ended by SIGKILL (out of memory?)" in capfd.readouterr().err


def test_everything_else_goes_to_the_engine_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.cli

    calls: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(engine.cli, "main", _recorder(calls, "engine", 2))
    assert launcher.main(["screen", "folder"]) == 2
    assert calls == [("engine", ["screen", "folder"])]


def test_freeze_support_only_when_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing

    import engine.cli

    called: list[bool] = []
    monkeypatch.setattr(multiprocessing, "freeze_support", lambda: called.append(True))
    monkeypatch.setattr(engine.cli, "main", lambda argv=None: 0)
    launcher.main(["info", "x"])
    assert called == []
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    launcher.main(["info", "x"])
    assert called == [True]


def _python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "POXSCREEN_DATA_DIR": str(REPO_ROOT / "build" / "nodata"),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_start_up_imports_nothing_heavy_before_dispatch() -> None:
    """`poxscreen screen --help` answers without torch, Qt, SQLAlchemy or NumPy."""
    code = (
        "import sys, launcher\n"
        "try:\n    launcher.main(['screen', '--help'])\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    out = _python(code)
    assert out.returncode == 0, out.stderr
    assert "usage: poxscreen screen" in out.stdout
    assert "HEAVY []" in out.stdout


def test_no_network_flag_fails_a_command_that_connects() -> None:
    """With POXSCREEN_NO_NETWORK=1 a socket connect is refused AND fails the run (exit 3),
    even when the command swallowed the error."""
    code = (
        "import sys, types, socket, launcher\n"
        "def fake_main(argv):\n"
        "    try:\n"
        "        socket.socket().connect(('127.0.0.1', 9))\n"
        "    except Exception as exc:\n"
        "        print('swallowed', type(exc).__name__)\n"
        "    return 0\n"
        "mod = types.ModuleType('desktop.app'); mod.main = fake_main\n"
        "sys.modules['desktop.app'] = mod\n"
        "sys.exit(launcher.main(['gui']))\n"
    )
    out = _python(code, {"POXSCREEN_NO_NETWORK": "1"})
    assert out.returncode == 3, out.stdout + out.stderr
    assert "swallowed NetworkUseError" in out.stdout
    assert "NETWORK USE DETECTED" in out.stderr and "socket.connect" in out.stderr
    without = _python(code)
    assert without.returncode == 0  # the same command without the flag is not refused
    assert "NETWORK USE DETECTED" not in without.stderr


def test_network_guard_allows_local_socketpair_and_blocks_lookups() -> None:
    code = (
        "import socket\n"
        "from launcher.netguard import NetworkGuard, NetworkUseError\n"
        "g = NetworkGuard.install()\n"
        "a, b = socket.socketpair(); a.sendall(b'x'); assert b.recv(1) == b'x'\n"
        "for call in (lambda: socket.getaddrinfo('example.org', 443),\n"
        "             lambda: socket.socket().bind(('127.0.0.1', 0))):\n"
        "    try:\n        call()\n    except NetworkUseError:\n        pass\n"
        "    else:\n        raise SystemExit('not refused')\n"
        "print(len(g.violations))\n"
    )
    out = _python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2"


# Runs the self-test with every module build.spec leaves out of the bundle made unimportable,
# so a new import of an excluded package fails here, in make test, not only in a packaged build.
BLOCK_EXCLUDED = """
import ast, sys
spec = ast.parse(open("build.spec", encoding="utf-8").read())
excluded = next(
    ast.literal_eval(node.value) for node in spec.body
    if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "EXCLUDES"
)
def hidden(name):
    return any(name == e or name.startswith(e + ".") for e in excluded)
class Absent:  # every finder answers "not here" for an excluded module, as in the bundle
    def __init__(self, inner):
        self.inner = inner
    def find_spec(self, name, path=None, target=None):
        return None if hidden(name) else self.inner.find_spec(name, path, target)
    def __getattr__(self, attr):
        return getattr(self.inner, attr)
sys.meta_path[:] = [Absent(finder) for finder in sys.meta_path]
print("blocked", len(excluded))
import launcher
sys.exit(launcher.main(["--self-test"]))
"""


@pytest.mark.slow
def test_self_test_passes_from_source_without_the_excluded_modules(tmp_path: Path) -> None:
    """The same self-test the packaged app runs: model, screening, Grad-CAM, offline; with
    build.spec's excluded modules unimportable, as in the bundle."""
    out = subprocess.run(
        [sys.executable, "-c", BLOCK_EXCLUDED],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "POXSCREEN_NO_NETWORK": "1",
            "TMPDIR": str(tmp_path),
            "QT_QPA_PLATFORM": "offscreen",
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "blocked" in out.stdout and "[self-test] PASSED" in out.stdout
    for step in ("resources", "model", "screen", "gradcam"):
        assert f"[self-test] {step:9s} ok" in out.stdout
    assert "broken.jpg: truncated" in out.stdout
    assert list(tmp_path.glob("poxscreen-selftest-*")) == []  # its temporary folder was removed


def test_startup_probe_reports_the_shown_window_and_quits() -> None:
    """The probe make package-test uses to time the GUI: first event-loop turn, then exit."""
    code = (
        "import sys, types, launcher\n"
        "def fake_main(argv):\n"
        "    from PySide6.QtWidgets import QApplication, QMainWindow\n"
        "    app = QApplication(['x'])\n"
        "    win = QMainWindow(); win.setWindowTitle('PoxScreen'); win.show()\n"
        "    return app.exec()\n"
        "mod = types.ModuleType('desktop.app'); mod.main = fake_main\n"
        "sys.modules['desktop.app'] = mod\n"
        "sys.exit(launcher.main([]))\n"
    )
    pytest.importorskip("PySide6.QtWidgets", reason="the desktop GUI needs PySide6")
    env = {"POXSCREEN_STARTUP_PROBE": "1", "QT_QPA_PLATFORM": "offscreen"}
    out = _python(code, env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[startup] event loop running" in out.stdout
    assert "visible windows: 'PoxScreen'" in out.stdout
