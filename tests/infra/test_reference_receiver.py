"""The reference receiver as ``ggzy demo`` runs it: its own process, trusting the platform's signing
certificate; it verifies and keeps a record the platform pushed, says so in Chinese, and refuses
what is not an envelope, and a record from a platform it does not serve, by name."""

from __future__ import annotations

import dataclasses
import http.client
import json
import pathlib
import re
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from infra.reference_receiver.receiver import TextReport
from signing.digest import sm3_hex
from tests.trading.exchange.test_exchange import checkpoint, free_port, pushing_to, queue
from tests.trading.opening.test_ceremony import open_tender
from trading.core.services import services
from trading.demo.launch import keys_folder, receiver_command
from trading.exchange.models import ExchangeRecord
from trading.exchange.pushing import push_due


def post(url: str, body: bytes) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


@pytest.fixture
def running(app: Flask, tmp_path: pathlib.Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port() - 7  # the demo puts it at the server's port + 7
    s = dataclasses.replace(services(app).settings, instance=tmp_path)
    keys_folder(s).mkdir(parents=True)
    (keys_folder(s) / "platform.pem").write_bytes(services(app).keys.sign_cert.to_pem())
    argv, env = receiver_command(s, "127.0.0.1", port)
    url = env["EXCHANGE_PUSH_URL"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url.replace("/records", "/health"), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(10)


def raw_post(url: str, body: bytes, length: str | None) -> tuple[int, Any]:
    """A POST with exactly the Content-Length given (or none)."""
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname or "", u.port, timeout=5)
    try:
        conn.putrequest("POST", u.path)
        if length is not None:
            conn.putheader("Content-Length", length)
        conn.endheaders(body or None)
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def hostile_bodies_are_refused_by_name(url: str, text: str) -> None:
    """Each answered with a named refusal (before: read unbounded, or a traceback and no answer)."""
    assert raw_post(url, b"", None)[1]["code"] == "length_required"
    for bad in ("-1", "abc", "1e3", "+5", "0x10"):
        status, body = raw_post(url, b"{}", bad)
        assert (status, body["code"]) == (400, "bad_length"), bad
    assert raw_post(url, b"", str(5 << 20)) == (413, {"code": "too_large", "message": "记录过大 (envelope too large)"})
    status, body = raw_post(url, b"[" * 100_000, str(100_000))
    assert (status, body["code"]) == (422, "malformed_envelope") and "nested" in body["message"]
    for number in ("1e400", "NaN", "Infinity", "3.0"):
        forged = re.sub(r'"leaf_index":\d+', f'"leaf_index":{number}', text).encode()
        assert forged != text.encode()
        status, body = raw_post(url, forged, str(len(forged)))
        assert (status, body["code"]) == (422, "malformed_envelope") and "float" in body["message"], number
    # a forged value before the real one: Python's json keeps the last, other readers the first
    forged = text.replace('"record":{', '"record":{"TENDER_PROJECT_NAME":"伪造的名称",', 1).encode()
    status, body = raw_post(url, forged, str(len(forged)))
    assert (status, body["code"]) == (422, "duplicate_key"), body
    extra = text[:-1] + ',"note":"\\u001b[2J"}'
    status, body = raw_post(url, extra.encode(), str(len(extra.encode())))
    assert (status, body["code"]) == (422, "unknown_key"), body


def test_the_receiver_process_verifies_keeps_and_refuses_by_name(
    client: FlaskClient,
    session: Session,
    app: Flask,
    running: tuple[str, subprocess.Popen[str]],
    tmp_path: pathlib.Path,
) -> None:
    url, proc = running
    open_tender(client, session, app, 3)
    checkpoint(session, app)
    assert queue(session, app) == 3
    project = session.scalar(select(ExchangeRecord).where(ExchangeRecord.table_name == "TENDER_PROJECT"))
    assert project is not None
    hostile_bodies_are_refused_by_name(url, project.envelope)
    # sent not in canonical form: acknowledged by the SM3 of the bytes sent, kept in canonical form
    loose = json.dumps(json.loads(project.envelope), indent=1, ensure_ascii=True).encode()
    status, body = raw_post(url, loose, str(len(loose)))
    assert (status, body["status"], body["envelope_sm3"]) == (201, "accepted", sm3_hex(loose))
    with sqlite3.connect(tmp_path / "reference-receiver.db") as db:
        assert db.execute("SELECT envelope FROM received").fetchall() == [(project.envelope,)]
    assert push_due(session, pushing_to(app, url), clock.now()) == 3  # that one acknowledged again
    with urllib.request.urlopen(url, timeout=5) as r:
        kept = json.load(r)
    assert sorted(k["table"] for k in kept) == ["BID_SECTION", "TENDER_BULLETIN", "TENDER_PROJECT"]
    assert post(url, b"not json") == (422, {"code": "malformed_envelope", "message": "不是 JSON (not JSON)"})
    assert post(url, b"[]")[1]["code"] == "malformed_envelope"
    first = session.scalars(select(ExchangeRecord)).first()
    assert first is not None
    env = json.loads(first.envelope)
    env["record"]["PLATFORM_CODE"] = "OTHER"
    assert post(url, json.dumps(env).encode())[1]["code"] == "record_altered"
    proc.terminate()  # what it has not told yet, it tells as it stops
    out = proc.communicate(timeout=10)[0]
    assert "参考数据交换接收端：核验并接收 3 条记录（招标项目 1、标段 1、公告 1），累计 3 条" in out, out
    assert "拒收一条记录（malformed_envelope" in out
    assert "\x1b" not in out and "拒收一条记录（length_required" in out


def test_the_text_report_shows_what_a_sender_wrote_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    report = TextReport(quiet_seconds=60)
    report(422, {"code": "x\x1b[2J", "message": "\x1b]0;pwned\x07 \u202egnp.exe"})
    report(201, {"table": "T\x1b[31m"})
    report.flush()
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
    assert "x\\x1b[2J" in out and "\\u202egnp.exe" in out and "T\\x1b[31m 1" in out
