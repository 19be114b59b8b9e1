"""``ggzy`` commands that run the platform: the web server (gunicorn), the live room's event server,
the scheduler (one runs at a time; a second waits for the lease) and the opening's decryption workers."""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import click

from trading.cli.common import settings
from trading.core.config import Settings

#: longest path of a Unix socket (sun_path holds 108 bytes on Linux, 104 on the BSDs)
MAX_SOCKET_PATH = 100


def control_socket(s: Settings, port: int) -> pathlib.Path | None:
    """This instance's gunicorn control socket (``gunicornc -s PATH``), or None to go without one.
    gunicorn ≥ 25.1 puts every server's at one path per user ($XDG_RUNTIME_DIR or ~/.gunicorn/
    gunicorn.ctl): each new server took it over, and a reload or shutdown sent there reached
    whichever started last. Here each instance folder and port has its own."""
    path = s.instance / f"gunicorn-{port}.ctl"
    return path if len(str(path).encode()) <= MAX_SOCKET_PATH else None


def until_signalled(running: Callable[[], bool]) -> None:
    """Block until SIGTERM or SIGINT (or until ``running`` says the work has died)."""
    stop = {"flag": False}

    def _stop(*_: Any) -> None:
        stop["flag"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stop["flag"] and running():
        time.sleep(0.5)


@dataclasses.dataclass(frozen=True)
class Beside:
    """A further process to run beside gunicorn (the demo's reference issuer): its command line and
    what it adds to the environment."""

    argv: list[str]
    env: dict[str, str] = dataclasses.field(default_factory=dict)


def run_server(
    s: Settings,
    host: str,
    port: int,
    workers: int,
    with_scheduler: bool,
    beside: Sequence[Beside] = (),
    *,
    quiet: bool = False,
) -> None:
    """gunicorn in the foreground, with the processes it needs beside it: the scheduler (if asked),
    the decryption workers (``DECRYPT_WORKERS``), without ``LIVE_URL`` the live room's server on the
    next port, and any ``beside``. They are stopped when gunicorn stops. ``quiet`` (the demo): no
    access log and only gunicorn's warnings, so the terminal keeps what the demo told."""
    # gunicorn and the app (every stage) are loaded only by the commands that serve
    from gunicorn.app.base import BaseApplication

    from trading.app import create_app

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for k, v in {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": s.web_threads,
                "timeout": 120,
                "accesslog": None if quiet else "-",
                "loglevel": "warning" if quiet else "info",
            }.items():
                self.cfg.set(k, v)
            if "control_socket" in self.cfg.settings:
                socket_path = control_socket(s, port)
                if socket_path is None:
                    self.cfg.set("control_socket_disable", True)
                else:
                    self.cfg.set("control_socket", str(socket_path))

        def load(self) -> Any:
            return create_app(s)

    children = []
    if with_scheduler:
        children.append(subprocess.Popen([sys.executable, "-m", "trading.cli", "scheduler"]))
    if s.decrypt_workers > 0:
        workers_cmd = ["workers", "--processes", str(s.decrypt_workers)]
        children.append(subprocess.Popen([sys.executable, "-m", "trading.cli", *workers_cmd]))
    if not s.live_url:
        # the live room's own process on the next port; pages point browsers at it
        children.append(
            subprocess.Popen([sys.executable, "-m", "trading.cli", "live", "--host", host, "--port", str(port + 1)])
        )
        s = dataclasses.replace(s, live_url=f":{port + 1}")
    for other in beside:
        children.append(subprocess.Popen(other.argv, env={**os.environ, **other.env}))
    try:
        _App().run()
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(10)


@click.command(help="启动平台网页与 API 服务 (serve the platform with gunicorn)")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option(
    "--scheduler/--no-scheduler",
    "with_scheduler",
    default=None,
    help="同时运行定时任务进程 (also run the scheduler; default: SCHEDULER_IN_PROCESS)",
)
def serve(host: str, port: int, workers: int, with_scheduler: bool | None) -> None:
    s = settings()
    run_server(s, host, port, workers, s.scheduler_in_process if with_scheduler is None else with_scheduler)


@click.command(
    help="运行定时任务进程；同时只有一个在运行，再启动的备用进程等待数据库租约，主进程停止后租约期"
    "（SCHEDULER_LEASE_SECONDS，默认 30 秒）内接替 (run the scheduler; one runs at a time, a standby takes over "
    "within the lease, SCHEDULER_LEASE_SECONDS, 30 s by default)"
)
@click.option("--once", is_flag=True, help="只补跑一次全部任务后退出 (run every job once, then exit)")
def scheduler(once: bool) -> None:
    from trading.app import import_job_modules
    from trading.core.db import Database
    from trading.core.scheduler import LeaseScheduler
    from trading.core.services import Services

    import_job_modules()
    s = settings()
    said = logging.StreamHandler()  # which process runs the jobs and which waits, on its terminal
    said.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    lease_log = logging.getLogger("ggzy.scheduler")
    lease_log.addHandler(said)
    lease_log.setLevel(logging.INFO)
    sched = LeaseScheduler(Database.of(s), lease_seconds=s.scheduler_lease_seconds, services=Services(s))
    if once:
        click.echo(repr(sched.run_all_due()))
        return
    sched.start()
    click.echo(f"定时任务进程已启动 (scheduler {sched.holder} started)")
    until_signalled(lambda: True)
    sched.shutdown()


#: worker processes dying within 10 s of their start, in a row, after which ``ggzy workers`` fails
QUICK_DEATHS = 5


@click.command(help="运行开标解密工作进程 (run the opening's decryption workers)")
@click.option("--processes", default=2, show_default=True, type=int)
def workers(processes: int) -> None:
    ctx = multiprocessing.get_context("spawn")

    def started() -> Any:
        proc = ctx.Process(target=decryption_worker, daemon=True)
        proc.start()
        proc.began = time.monotonic()  # type: ignore[attr-defined]
        return proc

    procs = [started() for _ in range(max(1, processes))]
    click.echo(f"已启动 {len(procs)} 个开标解密工作进程 (decryption workers started)")
    quick_deaths = 0

    def replace_the_dead() -> bool:
        # one process's death (a package that broke it, the OOM killer) must not stop the others:
        # it is started again, and its job is queued again by the others' sweep. Processes that die
        # as they start (bad settings, no database) are not restarted in a tight loop: after
        # QUICK_DEATHS in a row the command fails, so that its supervisor sees it and backs off.
        nonlocal quick_deaths
        for i, proc in enumerate(procs):
            if proc.is_alive():
                continue
            lived = time.monotonic() - proc.began
            quick_deaths = quick_deaths + 1 if lived < 10 else 0
            if quick_deaths >= QUICK_DEATHS:
                raise click.ClickException(
                    f"解密工作进程连续 {quick_deaths} 次启动后即退出，请查看上面的错误 "
                    f"(decryption workers keep dying at start; see the errors above)"
                )
            time.sleep(0.5 * 2 ** (quick_deaths - 1) if quick_deaths else 0)  # 0.5, 1, 2, 4 s
            procs[i] = started()
            click.echo(
                f"解密工作进程 {proc.pid} 已退出（退出码 {proc.exitcode}），已重新启动 {procs[i].pid} "
                f"(decryption worker {proc.pid} exited with {proc.exitcode}; started {procs[i].pid})",
                err=True,
            )
        return True

    until_signalled(replace_the_dead)
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.join(10)
    click.echo("开标解密工作进程已停止 (decryption workers stopped)")


def decryption_worker() -> None:
    """One worker process (spawned: it imports the opening itself) until SIGTERM."""
    from trading.core.db import Database
    from trading.core.services import Services
    from trading.opening.decryption import work

    s = settings()
    stop = threading.Event()
    # Ctrl+C in the terminal of ggzy serve (or demo) reaches every process: stop as on SIGTERM
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    work(Database.of(s), Services(s), stop)


def live_app(database: Any, secret: str, interval: float = 0.1) -> Any:
    """The live server with every stage's rooms: the opening's ceremonies (signed tickets) and the
    auctions' lots (public). Stages mount their channels; only this composition names them."""
    from trading.auctions import feed
    from trading.core.live import make_app
    from trading.opening import live as opening_live

    return make_app(database, [opening_live.mount(secret), feed.mount], interval)


@click.command(help="运行直播推送服务：开标室与竞价室 (run the live rooms' event server)")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5001, show_default=True, type=int)
def live(host: str, port: int) -> None:
    from aiohttp import web as aioweb

    from trading.core.db import Database

    s = settings()
    click.echo(f"直播推送服务在 http://{host}:{port}/live/ (live rooms' server listening; health: /live/health)")
    aioweb.run_app(live_app(Database.of(s), s.secret_key), host=host, port=port, print=None)
