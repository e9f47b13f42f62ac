"""THE seam between the desktop and the engine: the only desktop package that imports ``engine``.

Widgets, dialogs and views import Qt and ``desktop.services``, never ``engine``. Each module here
is typed with the engine's own types, runs engine work off the GUI thread (``tasks``) and answers
with signals; none of them touches a widget. ``active_model.ActiveModel`` is the one owner of the
model in use. See docs/architecture.md.
"""
