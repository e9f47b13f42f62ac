"""A database password is masked in every message and never kept in settings (the
PostgreSQL end-to-end checks are in tests/engine/store/test_store_postgres.py)."""

from __future__ import annotations

import pytest

from engine.cli import main
from engine.store import Store, StoreError
from engine.store.db import setting_text
from engine.store.errors import mask_secrets

URL = "postgresql+psycopg://dr:TopSecret9@clinic-server:notaport/cases"


def test_a_malformed_url_is_a_masked_store_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(StoreError) as err:
        Store.open(URL)
    assert "TopSecret9" not in str(err.value) and "dr:***@clinic-server" in str(err.value)
    assert main(["runs", "--db", URL]) == 2
    captured = capsys.readouterr()
    assert "TopSecret9" not in captured.out + captured.err and "***" in captured.err


def test_settings_keep_the_url_without_its_password() -> None:
    url = "postgresql+psycopg://dr:TopSecret9@clinic-server:5432/cases?sslmode=require"
    assert setting_text(url) == "postgresql+psycopg://dr@clinic-server:5432/cases?sslmode=require"


def test_mask_secrets_covers_urls_and_keyword_settings() -> None:
    text = "postgresql://a:b%40c@h/d failed (password='x y' host=h) pwd=z"
    assert mask_secrets(text) == "postgresql://a:***@h/d failed (password=*** host=h) pwd=***"
