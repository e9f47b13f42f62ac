"""Memory of big decodes: a budget on decoded pixels in flight, and giving freed pixels back.

engine.images is the one image loader; it takes the budget around every decode, so decode
threads anywhere (the screening pipeline, thumbnails, training loaders) take big photos one at
a time, and returns a big decode's freed memory to the system before the next one starts.
"""

from __future__ import annotations

import ctypes
import functools
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Decoded pixels this process may hold in flight across all threads. A photo larger than the
#: budget waits until nothing else decodes, then decodes alone: four decode threads meeting
#: four 144 MP PNGs take them one at a time instead of holding 2.3 GB at once.
DECODE_BUDGET_PIXELS = 64_000_000


class DecodeBudget:
    """A counting gate on decoded pixels in flight (see DECODE_BUDGET_PIXELS)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._cond = threading.Condition()

    @contextmanager
    def take(self, pixels: int) -> Iterator[None]:
        cost = max(1, min(int(pixels), self.limit))  # over the budget: wait to run alone
        with self._cond:
            while self.used and self.used + cost > self.limit:
                self._cond.wait()
            self.used += cost
        try:
            yield
        finally:
            with self._cond:
                self.used -= cost
                self._cond.notify_all()


decode_budget = DecodeBudget(DECODE_BUDGET_PIXELS)


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> object | None:
    """glibc's malloc_trim, or None elsewhere (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def give_back_freed_memory() -> None:
    """Return the freed pixels of a big decode to the system before the next one starts.

    glibc keeps freed blocks in the decoding thread's own arena; with several decode threads
    each would keep a big photo's worth (three 144 MP PNGs held 1.1 GB although they were
    decoded one at a time)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)  # type: ignore[operator]
