"""The opening with `ggzy-bid` against a running `ggzy serve` on PostgreSQL: three bidders sign in,
release their keys to the real decryption worker processes, one first tries the wrong file, one
objects and is answered, all confirm the record; the host drives the room through the API."""

from __future__ import annotations

import pathlib
import re
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from tests.e2e.test_bidder_cli import platform  # noqa: F401  (the fixture)

pytestmark = pytest.mark.integration


def test_ceremony_with_the_bidder_tool(
    platform: dict[str, Any],  # noqa: F811
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bidding import client as client_mod
    from bidding.cli import main as bid

    inst, server = platform["inst"], platform["server"]
    accounts = dict(line.split("\t")[:2] for line in (inst / "demo-accounts.txt").read_text().splitlines())
    base = f"http://127.0.0.1:{server.port}"

    def as_bidder(i: int, *args: str, ok: bool = True) -> str:
        monkeypatch.setattr(client_mod, "CONFIG", tmp_path / f"bidder{i}.json")
        env = {
            "GGZY_KEY_PASSWORD": "demo-key-password",
            "GGZY_NO_PROGRESS": "1",
            "GGZY_PASSWORD": accounts[f"bidder{i}"],
        }
        r = CliRunner(env=env).invoke(bid, list(args))
        assert (r.exit_code == 0) is ok, (args, r.output, repr(r.exception))
        return r.output

    def keys(i: int) -> str:
        return str(inst / "demo-keys" / f"bidder{i}")

    code = ""
    sealed: dict[int, pathlib.Path] = {}
    for i in (1, 2, 3):
        as_bidder(i, "login", "--server", base, "--username", f"bidder{i}")
        code = code or re.search(r"(GGZY-\d{4}-\d{6})", as_bidder(i, "tenders")).group(1)  # type: ignore[union-attr]
        me = client_mod.Client.from_config().request("GET", "/api/v1/me")["organisation"]["credit_code"]
        folder = tmp_path / f"bid{i}"
        folder.mkdir()
        (folder / "技术标.txt").write_text(f"bidder{i} 施工组织设计", encoding="utf-8")
        pkg, sealed[i] = tmp_path / f"bid{i}.zip", tmp_path / f"bid{i}.sealed"
        price = f"{12_000_000 + i * 10_000}.00"
        as_bidder(
            i,
            "build",
            str(folder),
            "--tender",
            code,
            "--price",
            price,
            "--field",
            "duration_days=365",
            "--out",
            str(pkg),
        )
        as_bidder(
            i,
            "seal",
            str(pkg),
            "--tender",
            code,
            "--lot",
            "1",
            "--bidder",
            me,
            "--keys",
            keys(i),
            "--out",
            str(sealed[i]),
        )
        as_bidder(i, "upload", str(sealed[i]), "--tender", code)

    # the deadline arrives (the server's clock is the real one: move the deadline instead)
    engine = create_engine(platform["url"])
    with engine.begin() as c:
        c.execute(text("UPDATE tender SET bid_deadline = now() - interval '1 second' WHERE code = :c"), {"c": code})
    engine.dispose()
    staff = client_mod.Client(base)
    staff.login("staff", accounts["staff"])

    rooms = as_bidder(1, "ceremonies", "--tender", code)
    cid = int(rooms.split("\t")[0])
    assert "签到" in rooms
    for i in (1, 2, 3):
        assert "已签到" in as_bidder(i, "signin", "--ceremony", str(cid), "--keys", keys(i))
    room = f"/api/v1/ceremonies/{cid}"
    staff.request("POST", f"{room}/advance")
    assert staff.request("POST", f"{room}/advance")["stage"] == "decrypting"
    out = as_bidder(3, "decrypt", "--ceremony", str(cid), "--sealed", str(sealed[1]), "--keys", keys(3), ok=False)
    assert "wrong_file" in out  # another bidder's file is refused before any key leaves
    for i in (1, 2, 3):  # decrypted by the worker processes `ggzy serve` started
        assert "解密成功" in as_bidder(
            i, "decrypt", "--ceremony", str(cid), "--sealed", str(sealed[i]), "--keys", keys(i)
        )
    staff.request("POST", f"{room}/advance")
    table = staff.request("POST", f"{room}/advance")["table"]
    assert sorted(r["price"] for r in table) == ["12010000.00", "12020000.00", "12030000.00"]
    assert "已确认开标记录" in as_bidder(1, "confirm", "--ceremony", str(cid), "--keys", keys(1))
    assert "异议已提交" in as_bidder(2, "object", "--ceremony", str(cid), "--text", "请核对我方报价的大小写")
    objection = staff.request("GET", room)["objections"][0]
    staff.request("POST", f"{room}/objections/{objection['id']}/answer", {"answer": "经核对报价大小写一致"})
    for i in (2, 3):
        as_bidder(i, "confirm", "--ceremony", str(cid), "--keys", keys(i))
    assert staff.request("POST", f"{room}/advance")["stage"] == "closed"
    final = staff.request("GET", f"{room}/record.json?final=1")
    assert [b["confirmation"]["kind"] for b in final["bidders"]] == ["signed"] * 3
    assert final["objections"][0]["answer"] == "经核对报价大小写一致"
    assert "开标" in as_bidder(1, "--help") and "decrypt" in as_bidder(1, "decrypt", "--help")
