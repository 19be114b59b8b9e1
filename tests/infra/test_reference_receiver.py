"""The reference receiver as ``ggzy demo`` runs it: its own process, trusting the platform's signing
certificate; it verifies and keeps a record the platform pushed, says so in Chinese, and refuses
what is not an envelope, and a record from a platform it does not serve, by name."""

from __future__ import annotations

import dataclasses
import json
import pathlib
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
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


def test_the_receiver_process_verifies_keeps_and_refuses_by_name(
    client: FlaskClient, session: Session, app: Flask, running: tuple[str, subprocess.Popen[str]]
) -> None:
    url, proc = running
    open_tender(client, session, app, 3)
    checkpoint(session, app)
    assert queue(session, app) == 3
    assert push_due(session, pushing_to(app, url), clock.now()) == 3
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
