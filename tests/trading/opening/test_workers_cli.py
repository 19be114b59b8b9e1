"""``ggzy workers`` keeps its processes: one that dies (the OOM killer, a package that broke it) is
started again and named in the log, and the others go on; before, the whole command ended with exit
code 0 and nothing said, and on a host without a restart policy every key release then waited."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import fresh_pg_database

pytestmark = pytest.mark.integration


def children(pid: int) -> list[int]:
    """The live worker processes of ``pid`` (not multiprocessing's resource tracker, not zombies)."""
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        pids = [int(c) for c in f.read().split()]
    alive = []
    for c in pids:
        try:
            cmdline = pathlib.Path(f"/proc/{c}/cmdline").read_bytes()
            state = pathlib.Path(f"/proc/{c}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"spawn_main" in cmdline and state != "Z":
            alive.append(c)
    return alive


def test_a_dead_decryption_worker_is_started_again(tmp_path: pathlib.Path) -> None:
    from trading.core.db import upgrade

    with fresh_pg_database("ggzy_workers") as url:
        upgrade(url)
        env = {**os.environ, "GGZY_ENV": "test", "GGZY_INSTANCE": str(tmp_path / "instance"), "DATABASE_URL": url}
        log = tmp_path / "workers.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "trading.cli", "workers", "--processes", "2"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 60
            while len(children(proc.pid)) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            first, second = children(proc.pid)[:2]
            os.kill(first, signal.SIGKILL)
            while time.monotonic() < deadline:
                now = children(proc.pid)
                if first not in now and len(now) >= 2:
                    break
                time.sleep(0.2)
            now = children(proc.pid)
            assert proc.poll() is None and first not in now and second in now and len(now) == 2
            assert "已重新启动" in log.read_text()
        finally:
            proc.terminate()
            proc.wait(30)
        assert "开标解密工作进程已停止" in log.read_text()


def test_workers_that_die_as_they_start_make_the_command_fail(tmp_path: pathlib.Path) -> None:
    """Processes that cannot start (here: production settings without a secret) are not restarted
    in a tight loop for ever: after five quick deaths in a row, backing off between them, the
    command fails so that its supervisor sees it."""
    env = {**os.environ, "GGZY_ENV": "production", "GGZY_INSTANCE": str(tmp_path / "instance")}
    for k in ("SECRET_KEY", "DATABASE_URL"):
        env.pop(k, None)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "trading.cli", "workers", "--processes", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "连续 5 次启动后即退出" in done.stderr
    assert time.monotonic() - started > 7  # 0.5 + 1 + 2 + 4 s between the restarts
