"""``ggzy`` commands that check what the platform published, as an outsider would: the audit log
against its signed checkpoints, an archive package (a file, offline, or a stored one), and a
committee draw re-run from its published inputs."""

from __future__ import annotations

import json
import pathlib
import sys

import click

from trading.cli.common import cli_actor, database, settings
from trading.core.errors import DomainError


# ---------------------------------------------------------------- the audit log
@click.group(help="审计日志 (audit trail)")
def audit() -> None:
    pass


@audit.command(
    "verify",
    help="校验审计日志：哈希链、每个已签名检查点的根、档案存储中的检查点副本 "
    "(verify the audit log: chain, signed checkpoints, their stored copies)",
)
def audit_verify() -> None:
    verify_log(None)


def verify_log(cert: pathlib.Path | None) -> None:
    """Every event recomputed and held against the checkpoints the platform signed, those in the
    database and the copies in the archive store (so a rewritten database cannot pass)."""
    from archive.transparency import verify_log as check_log
    from signing.certs import Certificate
    from trading.core.platform_keys import load_platform_keys
    from trading.core.services import Services

    s = settings()
    try:
        trusted = Certificate.load(cert.read_bytes()) if cert else load_platform_keys(s).sign_cert
    except Exception as exc:
        raise click.ClickException(f"无法读取平台签名证书 (platform certificate): {exc}") from exc
    with database(s).session() as session:
        checked, problems = check_log(session, trusted, store=Services(s).archive_store)
    for p in problems:
        label = f"事件 {p.where.removeprefix('event ')} ({p.where})" if p.where.startswith("event ") else p.where
        click.echo(f"失败 FAIL  {label}: {p.problem}", err=True)
    if problems:
        click.echo(f"日志核验失败：{len(problems)} 处问题 (log verification FAILED)", err=True)
        sys.exit(1)
    click.echo(f"日志完整：{checked} 个已签名检查点均与重算的根一致，哈希链完整 (log intact; {checked} checkpoints)")


@audit.command("list", help="列出审计事件：北京时间、操作名称、操作者 (list audit events, newest first)")
@click.option("--action", default="", help="操作代码，或 tender.* 表示一类操作")
@click.option("--tender", default="", help="项目编号")
@click.option("--actor", default="", help="操作者用户名，或 system、sealed、cli、anonymous")
@click.option("--from", "start", default="", help="开始日期（北京时间），例如 2026-12-01")
@click.option("--to", "end", default="", help="结束日期（北京时间，含当天）")
@click.option("--page", default=1, show_default=True, type=click.IntRange(min=1), help="第几页（每页 50 条）")
def audit_list(action: str, tender: str, actor: str, start: str, end: str, page: int) -> None:
    """The audit page in a terminal: the same filters, descriptions and pages (``trading.audit.trail``)."""
    from trading.app import connect_stages
    from trading.audit import trail
    from trading.core.formats import local_time

    connect_stages()  # the filter by 项目编号 asks the later stages
    filters = trail.read_filters({"action": action, "tender": tender, "actor": actor, "from": start, "to": end})
    with database(settings()).session() as session:
        found = trail.find(session, filters, page)
        who = trail.actors(session, found.events)
        rows = [trail.describe(e, who) for e in found.events]
    for note in found.notes:
        click.echo(note, err=True)
    for r in rows:
        name, ident = r["actor"], r["actor_ident"]
        shown = f"{name}（{ident}）" if name and ident else name or ident
        click.echo(f"#{r['seq']}  {local_time(r['at'])}  {r['action_label']}  {shown}  {r['object']}")
    click.echo(f"共 {found.total} 条，第 {found.page} / {found.pages} 页（北京时间）")


@audit.command(
    "export",
    help="导出审计日志（JSON Lines）：最新的已签名检查点及其覆盖的全部事件（规范字段、载荷、叶哈希）"
    "，任何人可重算其根 (export the audit log with its newest signed checkpoint)",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    default=None,
    help="输出文件（默认标准输出）(output file; default stdout)",
)
def audit_export(out: pathlib.Path | None) -> None:
    """For ``ggzy stats --verify`` and anyone who wants to recompute the platform's figures."""
    from trading.supervision.log_export import ExportError, export_log

    with database(settings()).session() as session:
        try:
            if out is None:
                size, cp = export_log(session, sys.stdout)
            else:
                with out.open("w", encoding="utf-8") as f:
                    size, cp = export_log(session, f)
        except ExportError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"已导出 {size} 个事件，检查点 {cp} (exported {size} events, checkpoint {cp})", err=True)


# ---------------------------------------------------------------- archive packages
@click.group(help="档案与透明日志 (archive packages and the transparency log)")
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
    from archive import package_check, package_findings
    from signing.certs import Certificate

    path = pathlib.Path(package)
    if path.exists():
        if anchor is None:
            from trading.core.platform_keys import load_platform_keys

            trusted = load_platform_keys(settings()).ca.cert
        else:
            try:
                trusted = Certificate.load(anchor.read_bytes())
            except Exception as exc:  # a damaged anchor file is named like any other finding
                raise click.ClickException(
                    f"信任锚不是证书 (--root is not a certificate): {package_findings.describe(exc)}"
                ) from exc
        report = package_check.verify(str(path), trusted)
    elif package.isascii() and package.isdigit():
        from trading.archives.custody import get_package, verify_stored
        from trading.core.services import Services

        s = settings()
        with database(s).session() as session:
            report = verify_stored(session, cli_actor(), get_package(session, int(package)), Services(s))
    else:
        click.echo(f"错误：{package} 既不是文件也不是档案编号 (neither a file nor an id)", err=True)
        sys.exit(2)
    for line in report.lines():
        click.echo(line)
    if report.replay:
        click.echo(f"竞价复算结果 (replayed)：{report.replay}")
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
    verify_log(cert)


# ---------------------------------------------------------------- committee draws
@click.group(help="评标专家抽取 (committee draws)")
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
    from trading.evaluation.draws import verification_bundle, verify_bundle

    path = pathlib.Path(source)
    if path.exists():
        try:
            bundle = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            click.echo(f"错误：{path} 不是抽取核验文件 (not a draw bundle)", err=True)
            sys.exit(2)
    elif source.isascii() and source.isdigit():
        from trading.core.services import Services
        from trading.evaluation.models import Draw

        s = settings()
        with database(s).session() as session:
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
