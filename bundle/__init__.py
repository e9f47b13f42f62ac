"""Build support for the PyInstaller bundle (build.spec): icon, Windows version info, smoke test."""
