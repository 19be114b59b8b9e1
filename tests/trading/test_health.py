"""/healthz reports the database and the object stores; when storage is down it, and every request
that needs storage, answer a named 503 quickly (not a generic 500 after seconds of retries)."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import api_token, make_signer, tender_body, upload
from trading.accounts.models import Role
from trading.core.services import object_store


@pytest.fixture
def app_with(db_url: str, settings_for: Any, connection: Connection) -> Iterator[Any]:
    """An app with other settings, its requests inside the test's transaction like the app fixture's."""
    from trading.app import create_app
    from trading.core.platform_keys import ensure_platform_keys

    made: list[Flask] = []

    def make(**over: Any) -> Flask:
        app = create_app(dataclasses.replace(settings_for(db_url), **over))
        ensure_platform_keys(app.extensions["ggzy.settings"])
        app.extensions["ggzy.db"].sessionmaker = sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["ggzy.db"].engine.dispose()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed: connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def draft_tender(app: Flask, session: Session) -> tuple[Any, dict[str, str], str, Any]:
    client = app.test_client()
    tenderee = make_signer(session, app, Role.TENDEREE)
    session.commit()
    ht = api_token(client, tenderee.user.username)
    code = client.post("/api/v1/tenders", json=tender_body(), headers=ht).get_json()["code"]
    return client, ht, code, tenderee


def test_healthy(client: Any, app: Flask) -> None:
    r = client.get("/healthz")
    app.extensions["ggzy.db"].engine.dispose()  # the probe's connection: the fixture's requests use another
    body = r.get_json()
    assert r.status_code == 200 and body["status"] == "ok" and "server_time" in body
    assert {k: v["ok"] for k, v in body["checks"].items()} == {"database": True, "objects": True, "archive": True}


def test_healthy_on_s3(app_with: Any, s3_server: str) -> None:
    app = app_with(object_store_url=f"minio://ak:sk@{s3_server}/ggzy-health-objects")
    r = app.test_client().get("/healthz")
    assert r.status_code == 200 and r.get_json()["checks"]["objects"]["ok"] is True


def test_unreachable_object_store(app_with: Any, session: Session) -> None:
    """The minio SDK against a closed loopback port: /healthz said ok, requests failed with a 500
    after about 6 s of retries."""
    app = app_with(object_store_url=f"minio://key:secret-key@127.0.0.1:{closed_port()}/ggzy-objects")
    client = app.test_client()
    started = time.monotonic()
    r = client.get("/healthz")
    assert time.monotonic() - started < 3
    body = r.get_json()
    assert r.status_code == 503 and body["error"]["code"] == "storage_unavailable"
    assert body["checks"]["objects"]["ok"] is False and body["checks"]["database"]["ok"] is True

    client, ht, code, tenderee = draft_tender(app, session)
    started = time.monotonic()
    r = upload(client, ht, tenderee, code, "招标文件.pdf", b"%PDF docs")
    assert time.monotonic() - started < 3
    assert r.status_code == 503 and r.get_json()["error"]["code"] == "storage_unavailable", r.get_json()
    assert r.headers["Retry-After"] == "30"
    page = client.get("/healthz", headers={"Accept": "text/html"})
    assert page.status_code == 503


@contextmanager
def unwritable(folder: pathlib.Path) -> Iterator[None]:
    """Make ``folder`` and what it holds refuse writes: read-only modes for a normal user; root
    ignores modes, so there the immutable attribute (chattr +i) does it."""
    dirs = [folder, *(p for p in folder.rglob("*") if p.is_dir())]
    if os.geteuid() != 0:
        for d in dirs:
            d.chmod(0o555)
        try:
            yield
        finally:
            for d in dirs:
                d.chmod(0o755)
        return
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: cannot make a folder unwritable")
    done = subprocess.run(["chattr", "+i", *map(str, dirs)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i refused here: {done.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, dirs)], check=True)


def test_unwritable_filesystem_store(app_with: Any, session: Session, tmp_path: pathlib.Path) -> None:
    root = tmp_path / "objects"
    app = app_with(object_store_url=str(root))
    client, ht, code, tenderee = draft_tender(app, session)
    object_store(app)  # the store makes its folders
    assert client.get("/healthz").status_code == 200
    with unwritable(root):
        r = client.get("/healthz")
        assert r.status_code == 503 and r.get_json()["error"]["code"] == "storage_unavailable"
        assert r.get_json()["checks"]["archive"]["ok"] is True
        r = upload(client, ht, tenderee, code, "招标文件.pdf", b"%PDF docs")
        assert r.status_code == 503 and r.get_json()["error"]["code"] == "storage_unavailable", r.get_json()
    r = upload(client, ht, tenderee, code, "招标文件.pdf", b"%PDF docs")
    assert r.status_code == 201, r.get_json()
    assert client.get("/healthz").status_code == 200


@contextmanager
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel completes the handshake for the
    backlog) and never answers a byte: a hung store, not a refused one."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield int(s.getsockname()[1])


def test_hung_object_store_is_named_and_never_blocks_the_database_probe(app_with: Any) -> None:
    """With a store that accepts and never answers, calls 3 on answered database_unavailable after
    6 s: the probes queued on two shared threads behind the stuck ones and all timed out."""
    with silent_port() as port:
        app = app_with(object_store_url=f"minio://key:secretsecret@127.0.0.1:{port}/bucket")
        client = app.test_client()
        for _ in range(5):
            started = time.monotonic()
            r = client.get("/healthz")
            took = time.monotonic() - started
            body = r.get_json()
            assert took < 2.5, took
            assert r.status_code == 503 and body["error"]["code"] == "storage_unavailable", body
            assert body["checks"]["database"] == {"ok": True}, body
            assert body["checks"]["objects"] == {"ok": False, "error": "timeout"}, body
            assert body["checks"]["archive"]["ok"] is True, body
        app.extensions["ggzy.db"].engine.dispose()


def test_unreachable_database(settings_for: Any) -> None:
    """PostgreSQL gone (a closed loopback port): a named 503 that a load balancer takes the node out
    of rotation on, within the probe's deadline."""
    from trading.app import create_app

    app = create_app(settings_for(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/gone"))
    try:
        started = time.monotonic()
        r = app.test_client().get("/healthz")
        assert time.monotonic() - started < 3
        body = r.get_json()
        assert r.status_code == 503 and body["error"]["code"] == "database_unavailable"
        assert body["checks"]["database"]["ok"] is False
    finally:
        app.extensions["ggzy.db"].engine.dispose()
