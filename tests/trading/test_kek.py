"""The key-encryption key: in production only ``ggzy init`` makes it, so no machine wraps rows
with a key of its own that the others cannot open."""

from __future__ import annotations

import pathlib

import pytest

from trading.core.config import ConfigError, load_settings
from trading.core.platform_keys import KEK_FILE, ensure_platform_keys, key_encryption_key, keys_dir


def test_production_never_makes_a_kek_on_first_use(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Failed before: the first process to need the KEK made one wherever the folder was
    writable, so two machines with unshared folders wrapped with two different keys."""
    monkeypatch.setenv("PLATFORM_KEY_PASSWORD", "a long platform password")
    settings = load_settings(
        {
            "GGZY_ENV": "production",
            "GGZY_INSTANCE": str(tmp_path / "i"),
            "SECRET_KEY": "s" * 40,
            "DATABASE_URL": "sqlite://",
            "OBJECT_STORE_URL": str(tmp_path / "o"),
            "ARCHIVE_STORE_URL": str(tmp_path / "a"),
        }
    )
    with pytest.raises(ConfigError, match="ggzy init"):
        key_encryption_key(settings)
    assert not (keys_dir(settings) / KEK_FILE).exists()
    ensure_platform_keys(settings)  # what `ggzy init` does
    kek = key_encryption_key(settings)
    assert len(kek) == 16 and (keys_dir(settings) / KEK_FILE).exists()
