"""The window's frame: status bar and banner, progress strip, errors panel, empty state, the
settings and help dialogs, opening the case store, error reporting and case-store care."""
