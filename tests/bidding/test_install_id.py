"""ggzy-bid's salted installation id: stable per installation and platform, unrelated across
platforms, renewed when the salt is deleted; the platform keeps only a well-formed one."""

from __future__ import annotations

import pathlib
import stat

import pytest

from bidding import client as bid_client
from bidding import install_id
from trading.bids.uploads import INSTALL_ID


def test_the_id_is_salted_per_installation_platform_and_tender(tmp_path: pathlib.Path) -> None:
    a = install_id.install_id("https://ggzy.example.cn/", "GGZY-2026-000001", tmp_path)
    assert INSTALL_ID.fullmatch(a)
    assert install_id.install_id("https://ggzy.example.cn", "GGZY-2026-000001", tmp_path) == a  # same base URL
    assert install_id.install_id("https://other.example.cn", "GGZY-2026-000001", tmp_path) != a  # another platform
    assert install_id.install_id("https://ggzy.example.cn", "GGZY-2026-000002", tmp_path) != a  # another tender
    salt = tmp_path / install_id.SALT_FILE
    assert stat.S_IMODE(salt.stat().st_mode) == 0o600 and len(salt.read_bytes()) == 32
    another = install_id.install_id("https://ggzy.example.cn", "GGZY-2026-000001", tmp_path / "another")
    assert another != a  # another installation
    salt.unlink()  # the bidder deletes it: a new id follows
    assert install_id.install_id("https://ggzy.example.cn", "GGZY-2026-000001", tmp_path) != a
    salt.write_bytes(b"short")  # damaged: replaced
    assert len(install_id.salt(tmp_path)) == 32


def test_the_client_sends_it_and_goes_on_without_it(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bid_client, "CONFIG", tmp_path / "cfg" / "config.json")
    h = bid_client.install_header(bid_client.Client("https://ggzy.example.cn"), "GGZY-2026-000001")
    assert INSTALL_ID.fullmatch(h["X-GGZY-Install"])
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setattr(bid_client, "CONFIG", blocker / "config.json")  # its folder cannot be made
    assert bid_client.install_header(bid_client.Client("https://ggzy.example.cn"), "GGZY-2026-000001") == {}
    for bad in ("A" * 64, "0" * 63, "g" * 64, "0" * 64 + "\n"):
        assert not INSTALL_ID.fullmatch(bad)
