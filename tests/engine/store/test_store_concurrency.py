"""Two writers and a reader at once (GUI thread + screening worker + second Store on the same
file): write transactions queue on the lock instead of failing with "database is locked"."""

from __future__ import annotations

import threading
from collections.abc import Callable

from engine.store import ReviewFilter, Store
from tests.engine.store.conftest import MODEL_A, fake_result


def test_concurrent_writers_and_readers_do_not_fail(open_store: Callable[..., Store]) -> None:
    worker_store = open_store()
    gui_store = open_store()  # a second engine on the same file, like a second process
    run = worker_store.begin_run("/photos", {}, MODEL_A)
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def screening() -> None:
        try:
            start.wait()
            for b in range(20):
                worker_store.record_results(run, [fake_result(b * 10 + i) for i in range(10)])
        except BaseException as exc:
            errors.append(exc)

    def labelling() -> None:
        try:
            start.wait()
            for i in range(20):
                gui_store.register_model(f"{i:064x}", name=f"m{i}")  # quick write transactions
        except BaseException as exc:
            errors.append(exc)

    def reading() -> None:
        try:
            start.wait()
            for _ in range(20):
                gui_store.review_queue(ReviewFilter(model_version=MODEL_A), limit=50)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=f) for f in (screening, labelling, reading)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert gui_store.count(ReviewFilter(model_version=MODEL_A)) == 200
    assert len(gui_store.models()) == 21
