"""Audit fixtures: the case-store fixtures (a real SQLite file in tmp_path)."""

from tests.engine.store.conftest import db_path, isolated_data_dir, open_store, store

__all__ = ["db_path", "isolated_data_dir", "open_store", "store"]
