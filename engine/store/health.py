"""Background health checks of a case store, off the start-up path.

Opening a store only reads its header and table list, so damage inside the file (a bad sector,
a copy taken mid-write) would go unnoticed and be written into. After opening, one daemon thread
runs SQLite's ``PRAGMA quick_check`` on its own read-only connection (WAL readers do not block
writers) and removes temporaries a killed copy left in the image store. When the check fails,
the store refuses writes; ``poxscreen check`` runs the full ``integrity_check`` on demand.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from engine.atomic import remove_stale_temporaries

log = logging.getLogger(__name__)

_MAX_PROBLEMS = 20


def sqlite_check(path: Path, *, full: bool = False, timeout: float = 30.0) -> list[str]:
    """Problems SQLite finds in ``path`` (empty when healthy). ``full`` runs integrity_check
    (also checks indexes against tables: slower), else quick_check."""
    pragma = "integrity_check" if full else "quick_check"
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=timeout)
    except sqlite3.Error as exc:
        return [f"cannot open it read-only: {exc}"]
    try:
        rows = [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}({_MAX_PROBLEMS})")]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    finally:
        conn.close()
    return [] if rows == ["ok"] else rows


class Housekeeping:
    """One background pass after a store opens: integrity quick check, stale temporaries."""

    def __init__(self, db_file: Path | None, image_root: Path) -> None:
        self.db_file = db_file
        self.image_root = image_root
        self.problems: list[str] | None = None  # None until the check has run
        self.removed_temporaries = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="store-housekeeping", daemon=True)

    def start(self) -> Housekeeping:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            if self.db_file is not None and self.db_file.exists():
                self.problems = sqlite_check(self.db_file)
                if self.problems:
                    log.error("%s: integrity check failed: %s", self.db_file, self.problems[:3])
            else:
                self.problems = []
            self.removed_temporaries = remove_stale_temporaries(self.image_root, depth=2)
        except Exception:  # housekeeping must never take the application down
            log.warning("store housekeeping failed", exc_info=True)
        finally:
            self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the pass has finished (tests, ``poxscreen check``)."""
        return self._done.wait(timeout)

    @property
    def damaged(self) -> bool:
        return bool(self.problems)
