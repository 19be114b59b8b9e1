"""Browser tests: Debian's Chromium driven by Playwright for Python against a real server.

The server runs in a thread of the test process on loopback, so the test can move the platform
clock (archive.clock) the way the scheduler's deadline would arrive. The browser fixtures
(``chromium``, ``browser``) are the whole suite's, in ``tests/conftest.py``.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.conftest import fresh_pg_database, wait_for_port


class LiveServer:
    def __init__(self, app: Any) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.thread.join(10)


class Server:
    """``ggzy serve`` (gunicorn, no scheduler) in a process group of its own, killed or stopped by the test."""

    def __init__(self, env: dict[str, str], port: int, log: pathlib.Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "trading.cli", "serve", "--port", str(self.port), "--no-scheduler"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_port(self.port, 60)

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        time.sleep(0.5)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)


@pytest.fixture
def live_app(tmp_path: pathlib.Path) -> Any:
    from trading.app import create_app
    from trading.core.config import load_settings
    from trading.core.db import upgrade

    url = f"sqlite:///{tmp_path / 'e2e.db'}"
    upgrade(url)
    app = create_app(
        load_settings({"GGZY_ENV": "test", "GGZY_INSTANCE": str(tmp_path / "instance"), "DATABASE_URL": url})
    )
    yield app
    app.extensions["ggzy.db"].engine.dispose()


def demo_environment(inst: pathlib.Path, url: str, config: pathlib.Path) -> dict[str, str]:
    env = {
        **os.environ,
        "GGZY_ENV": "demo",
        # the demo hashes its accounts' passwords at the test cost (the default is checked elsewhere)
        "ARGON2_MEMORY_KIB": "8",
        "ARGON2_TIME_COST": "1",
        "GGZY_INSTANCE": str(inst),
        "DATABASE_URL": url,
        "GGZY_BID_CONFIG": str(config),
    }
    for k in ("OBJECT_STORE_URL", "ARCHIVE_STORE_URL", "SECRET_KEY", "UPLOAD_STAGING_DIR"):
        env.pop(k, None)
    return env


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, pathlib.Path]]:
    """``ggzy demo --no-serve`` once, on a PostgreSQL database of its own: the database's name and
    the instance folder, which each test copies (a process running both ggzy-bid end-to-end tests seeds it once)."""
    folder = tmp_path_factory.mktemp("demo-template")
    with fresh_pg_database("ggzy_e2e_tpl") as url:
        env = demo_environment(folder / "instance", url, folder / "bid-config.json")
        subprocess.run(
            [sys.executable, "-m", "trading.cli", "demo", "--no-serve"], env=env, check=True, capture_output=True
        )
        yield url.rsplit("/", 1)[1], folder / "instance"
