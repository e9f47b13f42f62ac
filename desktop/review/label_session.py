"""The labels this panel saved, for Ctrl+Z / Ctrl+Shift+Z (plain Python, no Qt, no engine)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any


class LabelSession:
    """The labels this panel saved, newest last, for Ctrl+Z / Ctrl+Shift+Z.

    "Undo the last label" means the last one the clinician gave, even after the panel moved on
    to the next image (labelling advances at once); with nothing saved in this session, undo
    and redo act on the image on show. Entries are ``(sha256, file name)``."""

    def __init__(self) -> None:
        self._done: list[tuple[str, str]] = []
        self._undone: list[tuple[str, str]] = []
        self.landing: tuple[str, str | None] | None = None  # undo/redo of another image: its label

    def landed(self, item: Any) -> Any:
        """The ``ReviewItem`` to show. The image an undo/redo just changed arrives from a gallery
        row read before the change: it shows the label the write answered, not the row's."""
        if item is None:  # the gallery between two rows: the landing image is still to come
            return item
        landing, self.landing = self.landing, None
        if landing is None or landing[0] != item.sha256:
            return item
        return replace(item, current_label=landing[1])

    def undo_target(self, on_show: tuple[str, str] | None) -> tuple[str, str] | None:
        return self._done[-1] if self._done else on_show

    def redo_target(self, on_show: tuple[str, str] | None) -> tuple[str, str] | None:
        return self._undone[-1] if self._undone else on_show

    def saved(self, kind: str, target: tuple[str, str]) -> None:
        """Record a saved label, undo or redo of ``target``."""
        if kind == "label":
            self._done.append(target)
            self._undone.clear()
        elif kind == "undo":
            self._pop(self._done, target)
            self._undone.append(target)
        else:
            self._pop(self._undone, target)
            self._done.append(target)

    def failed(self, kind: str, target: tuple[str, str]) -> None:
        """An undo/redo the store refused (someone else changed the label): skip past it."""
        self._pop(self._done if kind == "undo" else self._undone, target)

    @staticmethod
    def _pop(stack: list[tuple[str, str]], target: tuple[str, str]) -> None:
        if stack and stack[-1] == target:
            stack.pop()
