"""`ggzy-bid` against a running `ggzy serve` (gunicorn) on PostgreSQL: a whole submission,
replacement and withdrawal; the server killed mid-upload and restarted, the upload resumed; and a
grep over the database dump, the object store, the staging area and the server log that finds no
bid plaintext and no SM4 key."""

from __future__ import annotations

import base64
import http.client
import json
import os
import pathlib
import re
import shutil
import subprocess
import time
import uuid
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import free_port, fresh_pg_database
from tests.e2e.conftest import Server, demo_environment

pytestmark = pytest.mark.integration


@pytest.fixture
def platform(tmp_path: pathlib.Path, demo_template: tuple[str, pathlib.Path]) -> Any:
    """A finished demo (a copy of the template's database and instance folder) served by ``ggzy serve``."""
    template, template_instance = demo_template
    with fresh_pg_database("ggzy_e2e", template=template) as url:
        inst = tmp_path / "instance"
        shutil.copytree(template_instance, inst)
        env = demo_environment(inst, url, tmp_path / "bid-config.json")
        server = Server(env, free_port(), tmp_path / "server.log")
        server.start()
        try:
            yield {"server": server, "env": env, "inst": inst, "url": url, "db": url.rsplit("/", 1)[1]}
        finally:
            server.stop()


def test_bidder_tool_against_a_running_server(
    platform: dict[str, Any], tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bidding import client as client_mod
    from bidding import part_digests
    from bidding.cli import main as bid
    from signing.digest import sm3_hex

    inst, server = platform["inst"], platform["server"]
    monkeypatch.setattr(client_mod, "CONFIG", tmp_path / "bid-config.json")
    accounts = dict(line.split("\t")[:2] for line in (inst / "demo-accounts.txt").read_text().splitlines())
    keys = inst / "demo-keys" / "bidder1"
    run_env = {"GGZY_KEY_PASSWORD": "demo-key-password", "GGZY_NO_PROGRESS": "1", "GGZY_PASSWORD": accounts["bidder1"]}
    runner = CliRunner(env=run_env)

    def bid_cli(*args: str) -> str:
        r = runner.invoke(bid, list(args))
        assert r.exit_code == 0, (args, r.output, repr(r.exception))
        return r.output

    base = f"http://127.0.0.1:{server.port}"
    assert "已登录" in bid_cli("login", "--server", base, "--username", "bidder1")
    # and the UKey way: SM2 challenge-response with the registered signing key
    assert "已登录" in bid_cli("login", "--server", base, "--username", "bidder1", "--keys", str(keys))
    listing = bid_cli("tenders")
    code = re.search(r"(GGZY-\d{4}-\d{6})", listing).group(1)  # type: ignore[union-attr]
    assert "签名均有效" in bid_cli("download", code, "--out", str(tmp_path / "docs"))
    # the account and the tender's side, against gunicorn as against the thread server of tests/bidding
    assert "已登记，无需重复" in bid_cli("certs", "register", "--keys", str(keys))
    assert "已报名" in bid_cli("register", "--tender", code, "--check")
    assert "已提问" in bid_cli("questions", "ask", "--tender", code, "--text", "工程量清单的暂列金额是否计入报价？")
    assert "工程量清单的暂列金额是否计入报价？\t待答复" in bid_cli("questions", "--tender", code)
    assert "北京时间" in bid_cli("notices")
    me = client_mod.Client.from_config().request("GET", "/api/v1/me")
    credit_code = me["organisation"]["credit_code"]

    marker = f"PLAINTEXT-MARKER-{uuid.uuid4().hex}"
    folder = tmp_path / "bidfolder"
    folder.mkdir()
    (folder / "技术标.txt").write_text(f"{marker} 施工组织设计……", encoding="utf-8")
    (folder / "big.bin").write_bytes(marker.encode() + os.urandom(70 << 20))  # > 2 parts of 32 MiB
    r = runner.invoke(
        bid, ["build", str(folder), "--tender", code, "--price", "12,3", "--out", str(tmp_path / "x.zip")]
    )
    assert r.exit_code == 2 and "price" in r.output  # a malformed price never reaches the opening
    bid_cli(
        "build",
        str(folder),
        "--tender",
        code,
        "--price",
        "12345678.90",
        "--field",
        "duration_days=365",
        "--out",
        str(tmp_path / "bid.zip"),
    )
    sealed = tmp_path / "bid.sealed"
    bid_cli(
        "seal",
        str(tmp_path / "bid.zip"),
        "--tender",
        code,
        "--lot",
        "1",
        "--bidder",
        credit_code,
        "--keys",
        str(keys),
        "--out",
        str(sealed),
    )

    recorded = part_digests.load(sealed)  # taken while sealing; the resumed upload below uses them
    assert recorded is not None and recorded.sm3 == sm3_hex(sealed.read_bytes())

    # --- start the upload, then kill the server in the middle of part 2
    c = client_mod.Client.from_config()
    head = client_mod._read_head(sealed)
    up = c.request(
        "POST",
        "/api/v1/bids/uploads",
        {"tender": code, "lot": 1, "size": sealed.stat().st_size, "head": base64.b64encode(head).decode()},
    )
    (tmp_path / "bid.sealed.upload.json").write_text(json.dumps({"server": c.server, "upload_id": up["upload_id"]}))
    data = sealed.read_bytes()
    ps = up["part_size"]
    from signing.digest import SM3

    h = SM3(data[:ps])
    c.request("PUT", f"/api/v1/bids/uploads/{up['upload_id']}/parts/1", data[:ps], {"X-Prefix-SM3": h.hexdigest()})
    h.update(data[ps : 2 * ps])
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("PUT", f"/api/v1/bids/uploads/{up['upload_id']}/parts/2")
    for k, v in {
        "Authorization": f"Bearer {c.token}",
        "X-Prefix-SM3": h.hexdigest(),
        "Content-Length": str(ps),
        "Content-Type": "application/octet-stream",
    }.items():
        conn.putheader(k, v)
    conn.endheaders()
    conn.send(data[ps : ps + ps // 2])
    time.sleep(0.5)
    server.kill()  # mid-part: half of part 2 may sit in the staging file
    conn.close()
    server.start()
    status = c.request("GET", f"/api/v1/bids/uploads/{up['upload_id']}")
    assert status["received"] == ps and status["next_part"] == 2  # the half part never counted
    out = bid_cli("upload", str(sealed), "--tender", code, "--lot", "1")  # resumes from part 2
    assert "投标成功" in out
    receipt = tmp_path / "bid.sealed.receipt.json"
    certs = c.request("GET", "/api/v1/platform/certificates")
    (tmp_path / "platform.pem").write_text(certs["signing_certificate"])
    assert "回执有效" in bid_cli(
        "receipt", "verify", str(receipt), "--cert", str(tmp_path / "platform.pem"), "--sealed", str(sealed)
    )
    first_sm3 = sm3_hex(data)
    assert first_sm3 in bid_cli("status", "--tender", code)
    stored = next(inst.joinpath("objects", "sm3").glob(f"*/{first_sm3}"))
    assert stored.read_bytes() == data  # complete and correct, never partial

    # --- replace, then withdraw the replacement
    (folder / "big.bin").unlink()
    bid_cli(
        "build",
        str(folder),
        "--tender",
        code,
        "--price",
        "12000000.00",
        "--field",
        "duration_days=360",
        "--out",
        str(tmp_path / "bid2.zip"),
    )
    sealed2 = tmp_path / "bid2.sealed"
    bid_cli(
        "seal",
        str(tmp_path / "bid2.zip"),
        "--tender",
        code,
        "--lot",
        "1",
        "--bidder",
        credit_code,
        "--keys",
        str(keys),
        "--out",
        str(sealed2),
    )
    # a digest file that no longer matches the sealed file: the server refuses the part, the tool
    # hashes the file itself and the upload still succeeds
    side = part_digests.sidecar(sealed2)
    recorded = json.loads(side.read_text())
    side.write_text(json.dumps({**recorded, "sm3": "00" * 32}))
    bid_cli("upload", str(sealed2), "--tender", code)
    assert not side.exists()
    statuses = bid_cli("status", "--tender", code)
    assert "已被替换" in statuses and "有效" in statuses
    assert "已撤回" in bid_cli(
        "withdraw", "--tender", code, "--sm3", sm3_hex(sealed2.read_bytes()), "--keys", str(keys)
    )
    r = runner.invoke(bid, ["withdraw", "--tender", code, "--sm3", sm3_hex(sealed2.read_bytes()), "--keys", str(keys)])
    assert r.exit_code == 2 and "wrong_state" in r.output

    # --- nothing anywhere on the platform side holds the plaintext or the SM4 keys
    from signing.envelope import read_header
    from signing.sm2 import PrivateKey

    enc_key = PrivateKey.from_pem((keys / "enc.key").read_bytes(), b"demo-key-password")
    secrets: list[bytes] = [marker.encode(), b"12345678.90", b"12000000.00"]
    for f in (sealed, sealed2):
        with f.open("rb") as src:
            k = read_header(src).unwrap_key(enc_key)
        secrets += [k, k.hex().encode(), base64.b64encode(k)]
    dump = subprocess.run(
        ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "-d", platform["db"]], capture_output=True, check=True
    ).stdout
    places = {"database dump": dump, "server log": server.log.read_bytes()}
    for path in inst.rglob("*"):
        if path.is_file() and "demo-keys" not in path.parts:
            places[str(path.relative_to(inst))] = path.read_bytes()
    found = [(where, s[:12]) for where, blob in places.items() for s in secrets if s in blob]
    assert found == [], found
