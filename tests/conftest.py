"""Shared fixtures: the database on SQLite (always) and PostgreSQL (when reachable; required in CI),
schema made by the migrations only, and a per-test outer transaction with savepoints so code
under test may commit and still leave no trace."""

from __future__ import annotations

import os
import pathlib
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from trading.accounts.passwords import TEST_MEMORY_KIB, TEST_TIME_COST, passwords
from trading.core.config import Settings, load_settings
from trading.core.db import make_engine, upgrade

# Factories make accounts without an app; they hash at the test configuration's cost too.
passwords.configure(TEST_MEMORY_KIB, TEST_TIME_COST)

PG_ADMIN_URL = os.environ.get("GGZY_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI") == "true"


def _pg_reachable() -> bool:
    try:
        eng = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as c:
            c.execute(text("select 1"))
        eng.dispose()
        return True
    except Exception:
        return False


@contextmanager
def fresh_pg_database(prefix: str, template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database for code that must really commit, empty or a copy of ``template``
    (a database nobody is connected to); dropped afterwards."""
    if not _pg_reachable():
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI and is not reachable at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL not reachable on 127.0.0.1:5432 (CI requires it)")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    try:
        yield re.sub(r"/[^/]+$", f"/{name}", PG_ADMIN_URL)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    with fresh_pg_database(f"ggzy_test_{os.getpid()}") as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'ggzy.db'}"


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def db_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    return url


_migrated: dict[str, Engine] = {}


@pytest.fixture(scope="session")
def engine(db_url: str) -> Engine:
    if db_url not in _migrated:
        upgrade(db_url)
        _migrated[db_url] = make_engine(db_url)
    return _migrated[db_url]


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    trans = conn.begin()
    try:
        yield conn
    finally:
        trans.rollback()
        conn.close()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    s = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="session")
def settings_for(tmp_path_factory: pytest.TempPathFactory) -> Any:
    def make(url: str, **over: Any) -> Settings:
        inst = tmp_path_factory.mktemp("instance")
        return load_settings({"GGZY_ENV": "test", "GGZY_INSTANCE": str(inst), "DATABASE_URL": url}, **over)

    return make


@pytest.fixture(scope="session")
def _apps() -> Iterator[dict[str, Flask]]:
    apps: dict[str, Flask] = {}
    yield apps
    # Requests join the test's connection, but /healthz probes the app's own pool: close it, or
    # its connections are collected at exit with a ResourceWarning that fails the run.
    for a in apps.values():
        a.extensions["ggzy.db"].engine.dispose()


@pytest.fixture
def app(db_url: str, engine: Engine, connection: Connection, settings_for: Any, _apps: dict[str, Flask]) -> Flask:
    """The app, built once per backend; its request sessions join the test's outer transaction."""
    from trading.app import create_app
    from trading.core.platform_keys import ensure_platform_keys

    if db_url not in _apps:
        a = create_app(settings_for(db_url))
        a.config["TESTING"] = True
        # the platform CA now, at real time: made lazily inside a test that froze the clock ahead,
        # its certificate would start in the future and fail every later test (which one came
        # first depended on how pytest-xdist shared the tests out)
        ensure_platform_keys(a.extensions["ggzy.settings"])
        _apps[db_url] = a
    a = _apps[db_url]
    a.extensions["ggzy.db"].sessionmaker = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return a


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def free_port() -> int:
    """A free port P whose neighbour P+1 is free too: ``ggzy serve`` starts the live server there
    (a taken neighbour made the serve tests fail now and then)."""
    for _ in range(100):
        with socket.socket() as s, socket.socket() as neighbour:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
            try:
                neighbour.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise RuntimeError("no two free neighbouring ports on loopback")


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


@contextmanager
def s3_test_server() -> Iterator[str]:
    """moto's S3 server as a separate process on loopback: the real protocol, no mock of our code."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    with s3_test_server() as server:
        yield server


REPO = pathlib.Path(__file__).resolve().parents[1]


@contextmanager
def committing_pg_app(settings_for: Any, prefix: str) -> Iterator[Flask]:
    """The app on a PostgreSQL database of its own whose requests, workers and sweeps really commit
    on connections of their own, as in production (for races and for other processes to read)."""
    from trading.app import create_app
    from trading.core.platform_keys import ensure_platform_keys
    from trading.core.services import services

    with fresh_pg_database(prefix) as url:
        upgrade(url)
        app = create_app(settings_for(url))
        ensure_platform_keys(app.extensions["ggzy.settings"])  # at real time, as the app fixture does
        _ = services(app).keys  # loaded (and checked against the trail's pin) as a serving process has them
        try:
            yield app
        finally:
            app.extensions["ggzy.db"].engine.dispose()


@pytest.fixture
def pg_app(settings_for: Any) -> Iterator[Flask]:
    with committing_pg_app(settings_for, "ggzy_pg_app") as app:
        yield app


# ---------------------------------------------------------------- the browser (every directory's)
# One session fixture for the whole run: Playwright's sync API keeps an event loop running in the
# thread that started it, so a second ``sync_playwright()`` in the same worker (a fixture defined
# again in another directory) fails, and so does ``asyncio.run`` in that thread afterwards: tests
# that need asyncio run it in a thread of their own (``run_in_own_loop``).
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is required in CI (.ci/run installs Debian's chromium)")
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


def csp_violation(text: str) -> bool:
    """Chromium reports a Content-Security-Policy refusal on the console ("Refused to execute inline
    script because it violates the following Content Security Policy directive …")."""
    return "Content Security Policy" in text or "Content-Security-Policy" in text


class WatchedBrowser:
    """The browser, with the console of every context it opens watched for CSP violations."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser
        self.violations: list[str] = []

    def new_context(self, **kw: Any) -> Any:
        context = self._browser.new_context(**kw)
        context.on("console", lambda msg: self.violations.append(msg.text) if csp_violation(msg.text) else None)
        return context

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


@pytest.fixture
def browser(chromium: Any) -> Iterator[WatchedBrowser]:
    """Each browser test fails if any page reported a CSP violation: the pages' own scripts must
    all run under the policy the app sends."""
    watched = WatchedBrowser(chromium)
    yield watched
    assert not watched.violations, f"the Content-Security-Policy refused something: {watched.violations}"


def run_in_own_loop(fn: Any) -> Any:
    """``asyncio.run(fn())`` in a thread of its own (see the browser fixtures above): its result,
    or what it raised, raised here."""
    import asyncio
    import threading

    result: list[Any] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(fn()))
        except BaseException as exc:  # re-raised in the test's thread
            failure.append(exc)

    t = threading.Thread(target=target)
    t.start()
    t.join(120)
    assert not t.is_alive(), "the asyncio thread did not finish in 120 s"
    if failure:
        raise failure[0]
    return result[0]
