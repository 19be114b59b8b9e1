"""Two ``ggzy serve`` instances on one host, as real processes: each has its own gunicorn control
socket, so reloading or stopping one leaves the other's workers serving. gunicorn ≥ 25.1 gave every
server of a user the same socket path, and a command meant for one reached the other."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from gunicorn.ctl.client import ControlClient

from tests.conftest import free_port, wait_for_port


def children(pid: int) -> set[int]:
    found = set()
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)


def healthy(port: int) -> bool:
    # what is checked is that the instance answers, not how fast: on a CI machine busy with the
    # browser tests a 10 s wait once ran out (/healthz itself answers within 2 s of being read)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=60) as resp:
        return bool(resp.status == 200)


class Instance:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: pathlib.Path) -> None:
        self.proc, self.port, self.log = proc, port, log

    def control_socket(self) -> str:
        """The path this server says it listens on for control commands (its own log)."""
        found: list[str] = []

        def said() -> bool:
            found[:] = re.findall(r"Control socket listening at (\S+)", self.log.read_text())
            return bool(found)

        wait_until(said, f"the control socket of the server on port {self.port}")
        return found[-1]

    def workers(self) -> set[int]:
        return children(self.proc.pid)


@contextmanager
def serving(tmp: pathlib.Path, name: str, home: pathlib.Path) -> Iterator[Instance]:
    port = free_port()
    log = tmp / f"{name}.log"
    env = {
        **os.environ,
        "GGZY_ENV": "demo",
        "GGZY_INSTANCE": str(tmp / name),
        "DECRYPT_WORKERS": "0",
        "SCHEDULER_IN_PROCESS": "0",
        "LIVE_URL": "https://live.example.gov.cn",  # no live server of its own: only gunicorn's workers
        "HOME": str(home),  # where gunicorn's shared default socket would go: not the real home
        "XDG_RUNTIME_DIR": str(home),
    }
    for var in ("DATABASE_URL", "OBJECT_STORE_URL", "ARCHIVE_STORE_URL", "SECRET_KEY"):
        env.pop(var, None)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "trading.cli", "serve", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, timeout=60)
        instance = Instance(proc, port, log)
        wait_until(lambda: len(instance.workers()) == 1, f"the worker of the server on port {port}")
        yield instance
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)


def test_stopping_one_instance_leaves_the_other_serving(tmp_path: pathlib.Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with ExitStack() as stack:
        a = stack.enter_context(serving(tmp_path, "a", home))
        socket_a = a.control_socket()
        b = stack.enter_context(serving(tmp_path, "b", home))
        socket_b = b.control_socket()
        workers_a, workers_b = a.workers(), b.workers()

        with ControlClient(socket_a, timeout=10) as ctl:  # the socket A said was its own
            ctl.send_command("reload")
        time.sleep(1)
        assert b.workers() == workers_b and healthy(b.port)
        wait_until(lambda: bool(a.workers()) and not (a.workers() & workers_a), "A's reload", timeout=15)
        assert socket_a != socket_b
        assert pathlib.Path(socket_a).parent == tmp_path / "a"  # under each instance's own folder

        with ControlClient(socket_a, timeout=10) as ctl:
            ctl.send_command("shutdown")
        a.proc.wait(30)
        assert a.proc.returncode == 0
        assert b.workers() == workers_b and healthy(b.port)
        assert os.path.exists(socket_b)  # A's exit did not remove B's socket
        with ControlClient(socket_b, timeout=10) as ctl:
            shown = ctl.send_command("show workers")
        assert {w["pid"] for w in shown["workers"]} == workers_b


def test_a_socket_path_too_long_for_unix_goes_without(tmp_path: pathlib.Path) -> None:
    from trading.cli.serve import control_socket
    from trading.core.config import load_settings

    def path_for(inst: pathlib.Path) -> pathlib.Path | None:
        return control_socket(load_settings({"GGZY_ENV": "test", "GGZY_INSTANCE": str(inst), "SECRET_KEY": "x"}), 5000)

    assert path_for(pathlib.Path("/srv/ggzy")) == pathlib.Path("/srv/ggzy/gunicorn-5000.ctl")
    assert path_for(pathlib.Path("/srv/" + "d" * 100)) is None  # bind() would fail: no socket instead
