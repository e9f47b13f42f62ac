"""Database URLs that cannot work give a message, never a hang or a traceback: a server that
takes the connection and never answers is given up on (naming host:port), and a URL whose driver
is not installed says which drivers PoxScreen supports."""

from __future__ import annotations

import importlib.util
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from engine.store import Store, StoreError
from engine.store.db import TIMEOUT_ENV, connect_timeout, server_of


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP listener on 127.0.0.1 that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    listener.close()


def test_a_silent_server_is_given_up_on_and_named(
    silent_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TIMEOUT_ENV, "2")  # libpq's shortest wait
    url = f"postgresql+psycopg://clinic:s3cret@127.0.0.1:{silent_server}/cases"
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        Store.open(url)
    assert time.monotonic() - started < 15
    message = str(caught.value)
    assert f"127.0.0.1:{silent_server} did not answer within 2 s" in message
    assert TIMEOUT_ENV in message and "s3cret" not in message


def test_the_cli_names_a_silent_server(
    silent_server: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from engine.cli import main

    url = f"postgresql://clinic@127.0.0.1:{silent_server}/cases?connect_timeout=2"
    monkeypatch.setenv(TIMEOUT_ENV, "600")  # the URL's own connect_timeout wins
    started = time.monotonic()
    assert main(["runs", "--db", url]) == 2
    assert time.monotonic() - started < 15
    err = capsys.readouterr().err
    assert f"127.0.0.1:{silent_server} did not answer within 2 s" in err
    assert "Traceback" not in err


def test_connect_timeout_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TIMEOUT_ENV, raising=False)
    assert connect_timeout(make_url("postgresql://h/db")) == 10
    monkeypatch.setenv(TIMEOUT_ENV, "25")
    assert connect_timeout(make_url("postgresql://h/db")) == 25
    assert connect_timeout(make_url("postgresql://h/db?connect_timeout=3")) == 3
    monkeypatch.setenv(TIMEOUT_ENV, "soon")
    with pytest.raises(StoreError, match=f"'soon' in {TIMEOUT_ENV}: not whole seconds"):
        connect_timeout(make_url("postgresql://h/db"))
    assert server_of(make_url("postgresql://u:pw@db.clinic:6543/x")) == "db.clinic:6543"
    assert server_of(make_url("postgresql://u@/x?host=/run/pg&port=5433")) == "/run/pg:5433"
    assert server_of(make_url("postgresql://u@/x")) == "localhost:5432"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://clinic:pw@db.clinic/cases", "no driver for mysql"),
        ("postgresql+psycopg2://clinic@db.clinic/cases", "no driver for postgresql+psycopg2"),
        ("bogus://x/y", "no driver for bogus"),
    ],
)
def test_a_url_without_its_driver_is_a_message(
    url: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from engine.cli import main

    for module in ("MySQLdb", "psycopg2"):
        if module.lower()[:5] in url and importlib.util.find_spec(module) is not None:
            pytest.skip(f"{module} is installed here")

    assert main(["runs", "--db", url]) == 2
    err = capsys.readouterr().err
    assert expected in err and "SQLite files and postgresql://" in err
    assert "Traceback" not in err and ":pw@" not in err
