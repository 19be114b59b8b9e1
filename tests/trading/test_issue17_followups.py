"""Issue 17's follow-ups: forged log lines, file names that lie, the live server's headers, and a
command line that names its errors."""

from __future__ import annotations

import logging
import pathlib
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import run_in_own_loop
from tests.factories import api_token, make_signer, tender_body, upload
from trading.accounts.models import Role
from trading.cli import main
from trading.tenders.models import TenderDocument

FORGED = "%0A%5B2026-12-04%2017%3A00%3A00%20%2B0000%5D%20%5BERROR%5D%20ggzy.audit%3A%20tampered%0A"


def test_an_integer_no_column_holds_is_a_404_or_a_named_refusal(client: FlaskClient) -> None:
    big = "99999999999999999999"
    assert client.get(f"/api/v1/ceremonies/{big}/record.pdf{FORGED}").status_code == 404
    assert client.get(f"/api/v1/announcements/{big}").status_code == 404
    r = client.get(f"/api/v1/log/consistency?old=1&new={big}")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "bad_integer"


def test_a_failing_request_cannot_forge_a_log_line(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    with app.test_request_context(f"/api/v1/x{FORGED}"), caplog.at_level(logging.ERROR):
        try:
            raise RuntimeError("boom")
        except RuntimeError as exc:
            app.log_exception((RuntimeError, exc, exc.__traceback__))
    record = next(r for r in caplog.records if r.getMessage().startswith("Exception on"))
    assert "\n" not in record.getMessage() and "\\n[2026-12-04" in record.getMessage()


@pytest.mark.parametrize(
    "name", ["a\nb[ERROR] forged.txt", "\x01\x02ctl.txt", "x\u202etxt.exe", "../up.pdf", " 招标文件.pdf", "字" * 201]
)
def test_a_document_name_that_lies_is_refused(client: FlaskClient, session: Session, app: Flask, name: str) -> None:
    tenderee = make_signer(session, app, Role.TENDEREE)
    session.commit()
    headers = api_token(client, tenderee.user.username)
    code = client.post("/api/v1/tenders", json=tender_body(), headers=headers).get_json()["code"]
    r = upload(client, headers, tenderee, code, name, b"%PDF-1.4 x")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "bad_file_name"
    assert session.scalar(select(func.count()).select_from(TenderDocument)) == 0
    assert upload(client, headers, tenderee, code, "招标文件 第1册.pdf", b"%PDF-1.4 x").status_code == 201


def test_the_live_server_sends_the_security_headers(app: Flask) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from trading.opening.live import make_app

    async def go() -> list[Any]:
        async with TestClient(TestServer(make_app(app.extensions["ggzy.db"], "s"))) as c:
            return [await c.get("/live/health"), await c.get("/live/ceremonies/1?ticket=x")]

    for resp in run_in_own_loop(go):
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_init_with_a_weak_key_password_names_it_and_creates_nothing(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inst = tmp_path / "instance"
    monkeypatch.setenv("GGZY_INSTANCE", str(inst))
    monkeypatch.setenv("GGZY_ENV", "demo")
    monkeypatch.setenv("PLATFORM_KEY_PASSWORD", "a")
    for var in ("DATABASE_URL", "OBJECT_STORE_URL", "ARCHIVE_STORE_URL", "SECRET_KEY", "PLATFORM_KEYS_DIR"):
        monkeypatch.delenv(var, raising=False)
    r = CliRunner().invoke(main, ["init"])
    assert r.exit_code == 2 and "12" in r.output and r.exception is not None
    assert not (inst / "ggzy.db").exists() and not (inst / "ca").exists()
