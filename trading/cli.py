"""``ggzy``: the operators' command line (init, serve, scheduler, demo, users, certificates, audit)."""

from __future__ import annotations

import dataclasses
import getpass
import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from archive.audit import ActorRef
from trading.app import import_job_modules
from trading.core.config import ConfigError, Settings, load_settings


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _cli_actor() -> ActorRef:
    return ActorRef(f"cli:{getpass.getuser()}", "admin")


class Refused(click.ClickException):
    """Bad input to a command, told by name (exit code 2, click's own for usage errors)."""

    exit_code = 2


class _Commands(click.Group):
    """Every command: our named errors (a weak key password, a domain rule, a bad setting) end
    in their message and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from signing.errors import SigningError
        from trading.core.errors import DomainError

        try:
            return super().invoke(ctx)
        except DomainError as exc:
            raise Refused(exc.message) from exc
        except (SigningError, ConfigError) as exc:
            raise Refused(str(exc)) from exc


@click.group(cls=_Commands, help="ggzy 公共资源交易平台运维命令 (operator commands of the ggzy trading platform)")
def main() -> None:
    pass


@main.command(help="创建实例目录、数据库结构和平台密钥 (create the instance folder, schema and platform keys)")
def init() -> None:
    from signing.sm2 import check_key_password
    from trading.core.db import upgrade
    from trading.core.platform_keys import ensure_platform_keys, keys_dir

    s = _settings()
    password = os.environ.get("PLATFORM_KEY_PASSWORD")
    if password and not (keys_dir(s) / "root.crt").exists():
        check_key_password(password.encode())  # before anything is created: nothing half-made is left
    s.instance.mkdir(parents=True, exist_ok=True)
    upgrade(s.database_url)
    keys = ensure_platform_keys(s)
    click.echo(f"数据库已就绪 (schema at head): {_safe_url(s.database_url)}")
    click.echo(f"平台根证书 (platform root CA): {keys.ca.cert.fingerprint[:16]}…")


@main.command(help="把数据库升级到最新结构 (upgrade the database schema)")
def migrate() -> None:
    from trading.core.db import upgrade

    upgrade(_settings().database_url)
    click.echo("ok")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@main.command(help="运行定时任务进程（每个部署只运行一个）(run the scheduler; one per deployment)")
@click.option("--once", is_flag=True, help="只补跑一次全部任务后退出 (run every job once, then exit)")
def scheduler(once: bool) -> None:
    from trading.core.db import Database
    from trading.core.scheduler import LeaseScheduler
    from trading.core.services import Services

    import_job_modules()
    s = _settings()
    sched = LeaseScheduler(Database(s.database_url), services=Services(s))
    if once:
        click.echo(repr(sched.run_all_due()))
        return
    sched.start()
    click.echo(f"scheduler {sched.holder} started")
    _until_signalled(lambda: True)
    sched.shutdown()


def _until_signalled(running: Callable[[], bool]) -> None:
    """Block until SIGTERM or SIGINT (or until ``running`` says the work has died)."""
    stop = {"flag": False}

    def _stop(*_: Any) -> None:
        stop["flag"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stop["flag"] and running():
        time.sleep(0.5)


#: longest path of a Unix socket (sun_path holds 108 bytes on Linux, 104 on the BSDs)
MAX_SOCKET_PATH = 100


def control_socket(s: Settings, port: int) -> pathlib.Path | None:
    """This instance's gunicorn control socket (``gunicornc -s PATH``), or None to go without one.
    gunicorn ≥ 25.1 puts every server's at one path per user ($XDG_RUNTIME_DIR or ~/.gunicorn/
    gunicorn.ctl): each new server took it over, and a reload or shutdown sent there reached
    whichever started last. Here each instance folder and port has its own."""
    path = s.instance / f"gunicorn-{port}.ctl"
    return path if len(str(path).encode()) <= MAX_SOCKET_PATH else None


def _serve(s: Settings, host: str, port: int, workers: int, with_scheduler: bool) -> None:
    from gunicorn.app.base import BaseApplication

    from trading.app import create_app

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for k, v in {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": 4,
                "timeout": 120,
                "accesslog": "-",
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
    try:
        _App().run()
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(10)


@main.command(help="运行开标解密工作进程 (run the opening's decryption workers)")
@click.option("--processes", default=2, show_default=True, type=int)
def workers(processes: int) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_decryption_worker, daemon=True) for _ in range(max(1, processes))]
    for proc in procs:
        proc.start()
    click.echo(f"{len(procs)} decryption workers started")
    _until_signalled(lambda: all(p.is_alive() for p in procs))
    for proc in procs:
        proc.terminate()
        proc.join(10)


def _decryption_worker() -> None:
    import threading

    from trading.core.db import Database
    from trading.core.services import Services
    from trading.opening.decryption import work

    s = _settings()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    work(Database(s.database_url), Services(s), stop)


@main.command(help="运行开标室直播推送服务 (run the live room's event server)")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5001, show_default=True, type=int)
def live(host: str, port: int) -> None:
    from aiohttp import web as aioweb

    from trading.core.db import Database
    from trading.opening.live import make_app

    s = _settings()
    aioweb.run_app(make_app(Database(s.database_url), s.secret_key), host=host, port=port, print=None)


@main.command(help="启动平台网页与 API 服务 (serve the platform with gunicorn)")
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
    s = _settings()
    _serve(s, host, port, workers, s.scheduler_in_process if with_scheduler is None else with_scheduler)


@main.command(help="初始化并载入演示数据，然后启动服务 (set up the embedded demo and serve it)")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="只准备数据，不启动服务 (prepare only)")
def demo(host: str, port: int, no_serve: bool) -> None:
    from trading.core.db import Database
    from trading.demo import seed

    s = _settings()
    if s.is_production:
        raise click.ClickException("demo data is never loaded in production mode")
    from archive import clock
    from trading.demo.script import KEY_PASSWORD, history_start, run

    start = clock.now()
    # the demo's history is played in the past, so its keys and accounts are made before it
    with clock.frozen(history_start(start)):
        init.callback()  # type: ignore[misc]
        with Database(s.database_url).session() as session:
            accounts = seed(session, s.instance / "demo-accounts.txt")
    from trading.app import create_app

    app = create_app(s)
    with app.app_context(), Database(s.database_url).session() as session:
        story = run(app, session, {u: p for u, p, _ in accounts}, s.instance / "demo-keys", start=start)
    click.echo("\n演示账号 (demo accounts) — 密码随机生成，另存于 instance/demo-accounts.txt：")
    for username, password, role in accounts:
        click.echo(f"  {username:<12} {password:<16} {role}")
    for line in story:
        click.echo(f"\n· {line}")
    click.echo(f"\n演示密钥在 {s.instance / 'demo-keys'}（私钥口令 {KEY_PASSWORD.decode()}），可直接用于 ggzy-bid。")
    if not no_serve:
        click.echo(f"\n打开 http://{host}:{port}/ 用以上账号登录 (open the URL and log in).")
        _serve(s, host, port, 2, True)


@main.group(help="机构与用户 (organisations and users)")
def users() -> None:
    pass


@users.command("add-org", help="登记机构 (register an organisation)")
@click.option("--name", required=True)
@click.option("--credit-code", required=True, help="统一社会信用代码")
@click.option(
    "--kind",
    required=True,
    type=click.Choice(["enterprise", "tenderee", "agency", "issuer", "trading_center", "supervision", "employer"]),
)
@click.option("--region", required=True, help="行政区划代码（6 位）")
def add_org(name: str, credit_code: str, kind: str, region: str) -> None:
    from trading.accounts.operations import create_organisation
    from trading.accounts.schemas import OrganisationIn
    from trading.core.db import Database

    s = _settings()
    with _domain_errors(), Database(s.database_url).session() as session:
        data = _parse(OrganisationIn, {"name": name, "credit_code": credit_code, "kind": kind, "region": region})
        org = create_organisation(session, _cli_actor(), data)
        click.echo(f"organisation {org.id} created")


@users.command("add", help="创建用户 (create a user); 密码从标准输入或提示读取")
@click.option("--username", required=True)
@click.option("--name", "display_name", required=True)
@click.option("--org", "organisation_id", type=int, default=None)
@click.option("--role", "roles", multiple=True, required=True)
@click.password_option()
def add_user(
    username: str, display_name: str, organisation_id: int | None, roles: tuple[str, ...], password: str
) -> None:
    from trading.accounts.operations import create_user
    from trading.accounts.schemas import UserIn
    from trading.core.db import Database

    s = _settings()
    with _domain_errors(), Database(s.database_url).session() as session:
        data = _parse(
            UserIn,
            {
                "username": username,
                "display_name": display_name,
                "password": password,
                "organisation_id": organisation_id,
                "roles": list(roles),
            },
        )
        user = create_user(session, _cli_actor(), data)
        click.echo(f"user {user.id} created")


def _parse(model: Any, data: dict[str, Any]) -> Any:
    from trading.core.schemas import parse

    return parse(model, data)


class _domain_errors:
    def __enter__(self) -> None:
        return None

    def __exit__(self, et: Any, exc: Any, tb: Any) -> None:
        from trading.core.errors import DomainError

        if isinstance(exc, DomainError):
            details = "".join(f"\n  {k}: {v}" for k, v in exc.fields.items())
            raise click.ClickException(exc.message + details)


@main.group(help="平台 CA：为用户签发 SM2 证书 (the platform CA)")
def ca() -> None:
    pass


@ca.command("issue", help="为公钥签发签名或加密证书 (issue a signing or encryption certificate)")
@click.argument("public_key", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@click.option("--usage", type=click.Choice(["sign", "encrypt"]), required=True)
@click.option("--cn", "common_name", required=True, help="证书主体名称")
@click.option("--org-code", default=None, help="统一社会信用代码")
@click.option("--out", type=click.Path(dir_okay=False, path_type=pathlib.Path), required=True)
def ca_issue(public_key: pathlib.Path, usage: str, common_name: str, org_code: str | None, out: pathlib.Path) -> None:
    from signing.certs import Usage
    from signing.errors import SigningError
    from trading.core.platform_keys import issue_certificate, load_platform_keys

    try:
        cert = issue_certificate(
            load_platform_keys(_settings()),
            public_key.read_bytes(),
            common_name=common_name,
            usage=Usage(usage),
            org_code=org_code,
        )
    except (SigningError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from exc
    out.write_bytes(cert.to_pem())
    click.echo(f"{out}: serial {cert.serial:x}, SM3 {cert.fingerprint[:16]}…")


@ca.command("revoke", help="吊销证书，记入平台吊销列表 (revoke a certificate)")
@click.argument("certificate", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@click.option("--reason", required=True, help="吊销原因")
def ca_revoke(certificate: pathlib.Path, reason: str) -> None:
    from signing.certs import Certificate
    from signing.errors import SigningError
    from trading.core.db import Database
    from trading.pki.operations import revoke_certificate

    try:
        cert = Certificate.load(certificate.read_bytes())
    except SigningError as exc:
        raise click.ClickException(str(exc)) from exc
    with _domain_errors(), Database(_settings().database_url).session() as session:
        revoke_certificate(session, _cli_actor(), cert, reason)
    click.echo(f"已吊销 (revoked): {cert.issuer_serial}")


@ca.command("root", help="导出平台根证书 (write the platform root certificate)")
@click.option("--out", type=click.Path(dir_okay=False, path_type=pathlib.Path), required=True)
def ca_root(out: pathlib.Path) -> None:
    from trading.core.platform_keys import load_platform_keys

    try:
        out.write_bytes(load_platform_keys(_settings()).ca.cert.to_pem())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@main.group(help="审计日志 (audit trail)")
def audit() -> None:
    pass


@audit.command(
    "verify",
    help="校验审计日志：哈希链、每个已签名检查点的根、档案存储中的检查点副本 "
    "(verify the audit log: chain, signed checkpoints, their stored copies)",
)
def audit_verify() -> None:
    _verify_log(None)


def _verify_log(cert: pathlib.Path | None) -> None:
    """Every event recomputed and held against the checkpoints the platform signed, those in the
    database and the copies in the archive store (so a rewritten database cannot pass)."""
    from archive.transparency import verify_log
    from signing.certs import Certificate
    from trading.core.db import Database
    from trading.core.platform_keys import load_platform_keys
    from trading.core.services import Services

    s = _settings()
    try:
        trusted = Certificate.load(cert.read_bytes()) if cert else load_platform_keys(s).sign_cert
    except Exception as exc:
        raise click.ClickException(f"无法读取平台签名证书 (platform certificate): {exc}") from exc
    with Database(s.database_url).session() as session:
        checked, problems = verify_log(session, trusted, store=Services(s).archive_store)
    for p in problems:
        label = f"事件 {p.where.removeprefix('event ')} ({p.where})" if p.where.startswith("event ") else p.where
        click.echo(f"失败 FAIL  {label}: {p.problem}", err=True)
    if problems:
        click.echo(f"日志核验失败：{len(problems)} 处问题 (log verification FAILED)", err=True)
        sys.exit(1)
    click.echo(f"日志完整：{checked} 个已签名检查点均与重算的根一致，哈希链完整 (log intact; {checked} checkpoints)")


@main.group(help="档案与透明日志 (archive packages and the transparency log)")
def archive() -> None:
    pass


@archive.command("verify", help="离线核验档案包（文件或编号）(verify an archive package offline: a file, or an id)")
@click.argument("package")
@click.option(
    "--root",
    "anchor",
    type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path),
    default=None,
    help="信任的平台根证书或平台签名证书（默认用本实例的根证书）(trusted root or platform certificate)",
)
def archive_verify(package: str, anchor: pathlib.Path | None) -> None:
    from archive import package as pkg
    from signing.certs import Certificate

    path = pathlib.Path(package)
    if path.exists():
        if anchor is None:
            from trading.core.platform_keys import load_platform_keys

            trusted = load_platform_keys(_settings()).ca.cert
        else:
            try:
                trusted = Certificate.load(anchor.read_bytes())
            except Exception as exc:  # a damaged anchor file is named like any other finding
                raise click.ClickException(
                    f"信任锚不是证书 (--root is not a certificate): {pkg.describe(exc)}"
                ) from exc
        report = pkg.verify(str(path), trusted)
    elif package.isascii() and package.isdigit():
        from trading.archives.custody import get_package, verify_stored
        from trading.core.db import Database
        from trading.core.services import Services

        s = _settings()
        with Database(s.database_url).session() as session:
            report = verify_stored(session, _cli_actor(), get_package(session, int(package)), Services(s))
    else:
        click.echo(f"错误：{package} 既不是文件也不是档案编号 (neither a file nor an id)", err=True)
        sys.exit(2)
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        click.echo(f"档案包核验失败：{len(report.failures)} 项 (package verification FAILED)", err=True)
        sys.exit(1)
    click.echo(f"档案包完整：{len(report.checks)} 项检查全部通过 (package intact)")


@archive.command("verify-log", help="用检查点核验整个在线审计日志 (check the live log against its signed checkpoints)")
@click.option(
    "--cert",
    type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path),
    default=None,
    help="平台签名证书（默认用本实例的）(platform signing certificate; default: this instance's)",
)
def archive_verify_log(cert: pathlib.Path | None) -> None:
    _verify_log(cert)


@main.group(help="评标专家抽取 (committee draws)")
def draw() -> None:
    pass


@draw.command(
    "verify", help="重算一次抽取并与公布结果比对（编号，或导出的 JSON 文件）(re-run a draw: an id or an exported file)"
)
@click.argument("source")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=pathlib.Path), help="同时导出核验文件 (also export it)"
)
def draw_verify(source: str, out: pathlib.Path | None) -> None:
    import json

    from trading.evaluation.draws import verification_bundle, verify_bundle

    path = pathlib.Path(source)
    if path.exists():
        try:
            bundle = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            click.echo(f"错误：{path} 不是抽取核验文件 (not a draw bundle)", err=True)
            sys.exit(2)
    elif source.isascii() and source.isdigit():
        from trading.core.db import Database
        from trading.core.errors import DomainError
        from trading.core.services import Services
        from trading.evaluation.models import Draw

        s = _settings()
        with Database(s.database_url).session() as session:
            d = session.get(Draw, int(source))
            if d is None:
                click.echo(f"错误：抽取 {source} 不存在 (no such draw)", err=True)
                sys.exit(2)
            try:
                bundle = verification_bundle(Services(s).store, d)
            except DomainError as exc:
                click.echo(f"错误：{exc.message}", err=True)
                sys.exit(2)
    else:
        click.echo(f"错误：{source} 既不是文件也不是抽取编号 (neither a file nor an id)", err=True)
        sys.exit(2)
    if out is not None:
        out.write_text(json.dumps(bundle, ensure_ascii=False))
    try:
        problems = verify_bundle(bundle)
    except (KeyError, TypeError, ValueError) as exc:
        problems = [f"核验文件格式错误 (malformed bundle): {exc}"]
    for p in problems:
        click.echo(p, err=True)
    if problems:
        click.echo("抽取核验失败 (draw verification FAILED)", err=True)
        sys.exit(1)
    click.echo(f"抽取可复算：重算得到相同的 {len(bundle['result'])} 名专家 (the draw re-runs to the published result)")


if __name__ == "__main__":
    main()
