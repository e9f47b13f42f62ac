"""Fault-injection fixtures: an isolated data folder for every test."""

from __future__ import annotations

from tests.engine.store.conftest import isolated_data_dir

__all__ = ["isolated_data_dir"]
