"""infra/docker-compose.yml's topology on this machine, without Docker: each service's own command
and environment from the compose file, PostgreSQL on 127.0.0.1 and the S3 server on loopback in
place of the ``postgres`` and ``minio`` containers, several ``app`` and ``live`` processes on ports
of their own, and in place of nginx a small round-robin proxy with infra/nginx.conf's routes, body
limit and forwarded headers. Used by tests/infra/test_topology.py and bench/load.py."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from typing import Any

import requests
import yaml
from aiohttp import ClientConnectorError, ClientError, ClientSession, ClientTimeout, TCPConnector, web

from tests.conftest import REPO, free_port, wait_for_port

COMPOSE = REPO / "infra" / "docker-compose.yml"
NGINX = REPO / "infra" / "nginx.conf"
#: what infra/.env would hold (the compose file has no defaults for them)
DOT_ENV = {
    "POSTGRES_PASSWORD": "pg-password-1",
    "MINIO_ROOT_USER": "ggzyminio",
    "MINIO_ROOT_PASSWORD": "ggzyminio-secret-1",
    "SECRET_KEY": "topology-test-secret-key-0123456789abcdef",
    "PLATFORM_KEY_PASSWORD": "topology-platform-key-password",
    "PUBLIC_URL": "https://ggzy.example.cn",
    "PLATFORM_CODE": "12350100MB0000000U",
}
#: services the test starts itself (PostgreSQL and the S3 server are this machine's; proxy is ours)
PROCESS_KINDS = ("migrate", "app", "live", "workers", "scheduler", "scheduler-standby")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization"}


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${NAME}``, ``${NAME:?message}`` and ``${NAME:-default}``."""

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3) or ""
        if env.get(name):
            return env[name]
        if op == ":?":
            raise KeyError(f"{name} is required: {arg}")
        return arg if op == ":-" else ""

    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)(?:(:\?|:-)([^}]*))?\}", one, value)


def compose_services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"]
    return services


def nginx_limits() -> tuple[int, str]:
    """infra/nginx.conf's body limit in bytes and the path prefix it sends to ``live``."""
    conf = NGINX.read_text()
    size = re.search(r"client_max_body_size (\d+)m;", conf)
    live = re.search(r"location (/\S+/) \{\s*proxy_pass http://ggzy_live;", conf)
    assert size and live, "infra/nginx.conf lost its body limit or its live location"
    return int(size.group(1)) << 20, live.group(1)


class RoundRobinProxy:
    """nginx's part, in a thread: ``live_prefix`` to the live nodes, the rest to the app nodes,
    each request to the next node in turn; a node that refuses the connection is skipped (nothing
    was sent: nginx's ``proxy_next_upstream error``), one that dies mid-request gives a 502. The
    client's address overwrites X-Forwarded-For; X-Forwarded-Proto says the scheme."""

    def __init__(self, max_body: int, live_prefix: str) -> None:
        self.max_body, self.live_prefix = max_body, live_prefix
        self.pools: dict[str, list[int]] = {"app": [], "live": []}
        self.served: Counter[int] = Counter()
        self.refused: Counter[int] = Counter()
        self.failed: Counter[int] = Counter()
        self._turn = itertools.count()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        pool = list(self.pools["live" if request.path.startswith(self.live_prefix) else "app"])
        if (request.content_length or 0) > self.max_body:
            return web.Response(status=413, text="request body larger than client_max_body_size")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        headers |= {"X-Forwarded-For": request.remote or "", "X-Forwarded-Proto": "http"}
        # the body streams to the node as it arrives (nginx: proxy_request_buffering off); a node
        # that refuses the connection has read none of it, so the next node can have it all
        body = request.content if request.body_exists else None
        first = next(self._turn)
        for i in range(len(pool)):
            port = pool[(first + i) % len(pool)]
            try:
                upstream = await self._session.request(
                    request.method,
                    f"http://127.0.0.1:{port}{request.rel_url}",
                    headers=headers,
                    data=body,
                    allow_redirects=False,
                )
            except ClientConnectorError:
                self.refused[port] += 1
                continue
            except (ClientError, OSError) as exc:  # the node died mid-request
                self.failed[port] += 1
                return web.Response(status=502, text=f"the node went away: {exc!r}"[:300])
            self.served[port] += 1
            try:
                out = web.StreamResponse(status=upstream.status)
                for k, v in upstream.headers.items():
                    if k.lower() not in HOP_BY_HOP | {"content-length"}:
                        out.headers.add(k, v)
                if upstream.content_length is not None:
                    out.content_length = upstream.content_length
                await out.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await out.write(chunk)
                await out.write_eof()
                return out
            finally:
                upstream.release()
        return web.Response(status=502, text="no node answered")

    async def _start(self) -> None:
        # a connection per request, as infra/nginx.conf's upstreams (no `keepalive` line) have it:
        # a kept-alive one that the node closes as a request starts would be a 502 of our making
        self._session = ClientSession(
            connector=TCPConnector(limit=0, force_close=True),
            auto_decompress=False,
            timeout=ClientTimeout(total=None, sock_connect=2),
        )
        app = web.Application(client_max_size=self.max_body)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> RoundRobinProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: Any) -> None:
        async def stop() -> None:
            await self._runner.cleanup()
            await self._session.close()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


class Node:
    """One process of a service, in a process group of its own so SIGKILL takes its children too
    (gunicorn's workers, ``ggzy workers``' spawned processes)."""

    def __init__(self, kind: str, argv: list[str], env: dict[str, str], log: pathlib.Path, port: int | None) -> None:
        self.kind, self.argv, self.env, self.log, self.port = kind, argv, env, log, port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Node:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        if self.port is not None:
            wait_for_port(self.port, 60)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, as when a host or container dies."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


class Topology:
    """The compose file's processes on this machine. ``overrides`` are settings a short test needs
    on top of the compose environment (each named where it is passed)."""

    def __init__(
        self, database_url: str, s3: str, folder: pathlib.Path, overrides: dict[str, str] | None = None
    ) -> None:
        self.services = compose_services()
        self.folder = folder
        max_body, live_prefix = nginx_limits()
        self.proxy = RoundRobinProxy(max_body, live_prefix)
        suffix = uuid.uuid4().hex[:8]  # the S3 server is shared with other tests
        self.env = self._environment(database_url, s3, suffix) | (overrides or {})
        self.nodes: dict[str, list[Node]] = {}

    def _environment(self, database_url: str, s3: str, suffix: str) -> dict[str, str]:
        """The app's environment from the compose file, the hosts of its containers re-pointed."""
        env = {k: interpolate(str(v), DOT_ENV) for k, v in self.services["app"]["environment"].items()}
        assert env["DATABASE_URL"].startswith("postgresql+psycopg://") and "@postgres:5432/" in env["DATABASE_URL"]
        env["DATABASE_URL"] = database_url  # PostgreSQL on 127.0.0.1 (trust auth here)
        for name in ("OBJECT_STORE_URL", "ARCHIVE_STORE_URL"):
            assert "@minio:9000/" in env[name], name
            env[name] = re.sub(r"@minio:9000/([a-z0-9-]+)", rf"@{s3}/\1-{suffix}", env[name])
        instance, keys = self.folder / "instance", self.folder / "keys"  # the containers' volumes
        instance.mkdir(parents=True, exist_ok=True)
        keys.mkdir(parents=True, exist_ok=True)
        assert env["GGZY_INSTANCE"] == "/srv/ggzy/instance" and env["PLATFORM_KEYS_DIR"] == "/srv/ggzy/keys"
        env["GGZY_INSTANCE"], env["PLATFORM_KEYS_DIR"] = str(instance), str(keys)
        assert env["LIVE_URL"] == DOT_ENV["PUBLIC_URL"]
        env["LIVE_URL"] = self.proxy.url  # PUBLIC_URL: the proxy, which sends /live/ to live
        passed = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
        return passed | {"PYTHONPATH": str(REPO)} | env

    def argv(self, kind: str, port: int | None) -> list[str]:
        """The service's command, run from this checkout: ``ggzy`` as this interpreter's module,
        the listening address on loopback and port ``port``, one process per node (2 cores here),
        and gunicorn's control socket in the node's own folder (each container has its own
        filesystem; here every gunicorn would take ~/.gunicorn/gunicorn.ctl)."""
        command = [str(a) for a in self.services[kind]["command"]]
        out = [sys.executable, "-m", "trading.cli"] if command[0] == "ggzy" else [sys.executable, "-m", command[0]]
        args = command[1:]
        for i, a in enumerate(args):
            if a == "--bind":
                args[i + 1] = f"127.0.0.1:{port}"
            elif a == "--host":
                args[i + 1] = "127.0.0.1"
            elif a == "--port":
                args[i + 1] = str(port)
            elif a in ("--workers", "--processes"):
                args[i + 1] = "1"
        if command[0] == "gunicorn":
            args = ["--control-socket", str(self.folder / f"gunicorn-{port}.ctl"), *args]
        return out + args

    def run(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """``docker compose exec app ggzy …``: a ggzy command with the app's environment."""
        return subprocess.run(
            [sys.executable, "-m", "trading.cli", *args],
            env=self.env,
            cwd=REPO,
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def migrate(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv("migrate", None), env=self.env, cwd=REPO, capture_output=True, text=True, timeout=120
        )

    def start(self, kind: str, count: int = 1) -> list[Node]:
        listening = kind in ("app", "live")
        started = []
        for _ in range(count):
            port = free_port() if listening else None
            i = len(self.nodes.get(kind, []))
            node = Node(kind, self.argv(kind, port), self.env, self.folder / f"{kind}-{i}.log", port)
            self.nodes.setdefault(kind, []).append(node.start())
            if port is not None:
                self.proxy.pools[kind].append(port)
            started.append(node)
        return started

    def restart(self, node: Node) -> None:
        """What the compose restart policy does for a process that died."""
        assert node.proc is not None and node.proc.poll() is not None
        node.start()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.folder.glob("*.log"))

    def __enter__(self) -> Topology:
        self.proxy.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        for nodes in self.nodes.values():
            for node in nodes:
                node.stop()
        self.proxy.__exit__()


def poll(what: str, check: Any, timeout: float, every: float = 0.2) -> Any:
    """``check()`` until it returns something true; its value, or TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s for {what}")
        time.sleep(every)


class Answer:
    """A ``requests`` response with the parts of Flask's test response the factories use."""

    def __init__(self, r: requests.Response) -> None:
        self.status_code, self.headers, self.data = r.status_code, r.headers, r.content

    def get_json(self) -> Any:
        return json.loads(self.data)

    def get_data(self, as_text: bool = False) -> Any:
        return self.data.decode() if as_text else self.data


class HttpClient:
    """Flask's test client's interface over real HTTP, so the tests' factories drive a tender
    through the proxy (every request may land on any node)."""

    def __init__(self, base: str) -> None:
        self.base, self.http = base, requests.Session()

    def open(self, method: str, url: str, **kw: Any) -> Answer:
        return Answer(self.http.request(method, self.base + url, timeout=120, allow_redirects=False, **kw))

    def get(self, url: str, **kw: Any) -> Answer:
        return self.open("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> Answer:
        return self.open("POST", url, **kw)

    def put(self, url: str, **kw: Any) -> Answer:
        return self.open("PUT", url, **kw)
