"""``ggzy-bid`` speaks as the pages do: Beijing time, never the API's UTC (``+00:00``), and the words
for codes taken from the API's ``*_label`` fields (the tool carries no label table of its own, and
``bidding`` never imports ``trading``). Run here against the real API through Flask's test client."""

from __future__ import annotations

import datetime as dt
import pathlib
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from archive import clock
from bidding.cli import main as bid
from bidding.cli.common import amount, beijing
from bidding.client import ApiError
from tests.trading.opening.test_ceremony import open_tender, release, signin_sig
from trading.core.services import services
from trading.opening.decryption import run_pending

PASSWORD = "口令-cli-words-1"


class TestRequester:
    """What ``ggzy-bid`` asks of its client, answered by the app itself with a bidder's token."""

    __test__ = False

    def __init__(self, client: FlaskClient, headers: dict[str, str]) -> None:
        self.client, self.headers = client, headers

    def request(self, method: str, path: str, body: Any = None) -> Any:
        r = self.client.open(path, method=method, json=body, headers=self.headers)
        if r.status_code >= 400:
            err = (r.get_json(silent=True) or {}).get("error", {})
            raise ApiError(r.status_code, err.get("code", "http"), err.get("message", ""))
        return r.get_json()


def test_beijing_time_and_amounts() -> None:
    assert beijing("2026-12-03T18:08:00+00:00") == "2026-12-04 02:08:00"
    assert beijing("2026-12-03T18:08:00") == "2026-12-04 02:08:00"  # naive times from the platform are UTC
    assert beijing(None) == "—" and beijing("不是时间") == "不是时间"  # shown as it came, never hidden
    assert amount("12345678.9") == "12,345,678.90" and amount("x") == "x"


def _use(monkeypatch: pytest.MonkeyPatch, requester: TestRequester) -> None:
    for module in ("bidding.cli.bids", "bidding.cli.ceremony", "bidding.cli.guarantees"):
        monkeypatch.setattr(f"{module}.api_client", lambda *a: requester)


def _keys(folder: pathlib.Path, b: Any) -> pathlib.Path:
    """A key folder as ``ggzy-bid keygen`` leaves it, with the certificates the platform issued."""
    folder.mkdir()
    (folder / "sign.key").write_bytes(b.sign_key.to_pem(PASSWORD.encode()))
    (folder / "enc.key").write_bytes(b.enc_key.to_pem(PASSWORD.encode()))
    (folder / "sign.crt").write_bytes(b.sign_cert.to_pem())
    (folder / "enc.crt").write_bytes(b.enc_cert.to_pem())
    return folder


def test_the_tool_prints_beijing_time_and_the_apis_words(
    client: FlaskClient,
    session: Session,
    app: Flask,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t = open_tender(client, session, app, 3)
    cid, code = t["cid"], t["code"]
    room = f"/api/v1/ceremonies/{cid}"
    _use(monkeypatch, TestRequester(client, t["headers"][0]))
    runner = CliRunner(env={"GGZY_KEY_PASSWORD": PASSWORD, "GGZY_NO_PROGRESS": "1"})

    def run(*args: str, ok: bool = True) -> str:
        r = runner.invoke(bid, list(args))
        assert (r.exit_code == 0) is ok, (args, r.output, repr(r.exception))
        assert "+00:00" not in r.output and "T0" not in r.output  # never an ISO instant in UTC
        return r.output

    out = run("status", "--tender", code)
    received = client.get(f"/api/v1/bids?tender={code}", headers=t["headers"][0]).get_json()["items"][0]
    assert "第1标段" in out and "有效" in out and beijing(received["received_at"]) in out and "北京时间" in out

    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        out = run("ceremonies", "--tender", code)
        ends = client.get(room).get_json()["ends_at"]
        assert out.startswith(f"{cid}\t第1标段\t签到\t") and f"本阶段截止 {beijing(ends)}" in out
        for i, b in enumerate(t["bidders"]):
            r = client.post(f"{room}/signin", json={"signature": signin_sig(b, cid, code)}, headers=t["headers"][i])
            assert r.status_code == 200
    with clock.frozen(t["deadline"] + dt.timedelta(minutes=31)):
        assert client.post(f"{room}/advance", headers=t["staff"]).get_json()["stage"] == "decrypting"

        def wrong_key(*args: Any, **kw: Any) -> dict[str, Any]:
            """The release goes out with a key that cannot open the bid; the worker tries it."""
            assert release(client, t, 0, key=b"\x00" * 16).status_code == 202
            run_pending(app.extensions["ggzy.db"], services(app))
            return {}

        monkeypatch.setattr("bidding.ceremony_client.release_key", wrong_key)
        sealed = tmp_path / "bid.sealed"
        sealed.write_bytes(t["blobs"][0])
        keys = _keys(tmp_path / "keys", t["bidders"][0])
        out = run("decrypt", "--ceremony", str(cid), "--sealed", str(sealed), "--keys", str(keys), ok=False)
        assert "提交的密钥不能解密投标文件" in out and "wrong_key" not in out  # the API's words, not its code
