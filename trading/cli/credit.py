"""``ggzy credit``: the credit register from the command line (import, list, revoke, check, proposals)."""

from __future__ import annotations

import datetime as dt
import pathlib

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from trading.accounts.models import User
from trading.accounts.permissions import Permission, has
from trading.cli.common import database, domain_errors, settings


@click.group(help="信用记录：导入、查询、撤销、核查、平台信用事件 (the credit register)")
def credit() -> None:
    pass


@credit.command("import", help="导入信用名单文件（CSV 或 JSON；有误则不写入任何记录）(import a list file)")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@click.option("--as", "username", required=True, help="以该工作人员的名义导入（用户名）(the staff member importing)")
def import_file(path: pathlib.Path, username: str) -> None:
    from archive import clock
    from trading.core.schemas import printable
    from trading.credit.formats import MAX_BYTES
    from trading.credit.imports import ImportRefused, import_file

    with path.open("rb") as f:
        data = f.read(MAX_BYTES + 1)
    with database(settings()).session() as session:
        user = staff_member(session, username)
        try:
            outcome = import_file(session, user, path.name, data, channel="file", user_id=user.id, now=clock.now())
        except ImportRefused as exc:
            session.rollback()
            lines = [
                f"  第 {p.row} 行 {p.field}：{printable(p.message)}" if p.row else f"  文件：{printable(p.message)}"
                for p in exc.problems
            ]
            raise click.ClickException("\n".join([exc.message, *lines[:200]])) from exc
        session.commit()
        r = outcome.record
    click.echo(f"导入完成：共 {r.rows} 条，新增 {r.added} 条，已有 {r.unchanged} 条（导入批次 {r.id}）")


@credit.command("list", help="列出信用记录 (list entries)")
@click.option("--subject", default="", help="主体代码（统一社会信用代码或专家编号）")
@click.option(
    "--list",
    "list_kind",
    default="",
    help="名单：dishonest_debtors、tax_violators、procurement_violators、platform、local",
)
@click.option("--on", "on", default="", help="只列该日有效（未撤销）的记录，如 2026-12-20")
def list_entries(subject: str, list_kind: str, on: str) -> None:
    from archive import clock
    from trading.core.schemas import printable
    from trading.credit import checks
    from trading.credit.register import find_entries, read_filters

    with database(settings()).session() as session, domain_errors():
        filters = read_filters({"subject": subject, "list": list_kind, "in_force_on": on})
        page, total = 1, 0
        while True:
            rows, total, page, pages = find_entries(session, filters, page)
            for e in rows:
                state = checks.state_of(e, clock.now())
                if e.revoked_at:
                    state += f" {clock.local(e.revoked_at):%Y-%m-%d}"
                click.echo(
                    printable(
                        f"{e.id}  {e.subject_id}  {e.subject_name}  {e.list_kind.label}  {e.measure.label}  "
                        f"{e.region}  {e.category or '全部类别'}  {e.starts_on}–{e.ends_on or '不设期限'}  {state}"
                    )
                )
            if page >= pages:
                break
            page += 1
    click.echo(f"共 {total} 条")


def staff_member(session: Session, username: str) -> User:
    """The staff account a command acts as (the trail names who imported or revoked, as on the pages)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not has(user, Permission.CREDIT_MANAGE):
        raise click.ClickException(f"用户 {username} 不存在或没有管理信用记录的权限")
    return user


@credit.command("revoke", help="撤销信用记录 (revoke an entry)")
@click.argument("entry_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--reason", required=True, help="撤销理由（5–500 字）")
@click.option("--as", "username", required=True, help="以该工作人员的名义撤销（用户名）(the staff member revoking)")
def revoke(entry_id: int, reason: str, username: str) -> None:
    from archive import clock
    from trading.core.errors import InvalidInput, NotFound
    from trading.core.schemas import checked_text
    from trading.credit.entries import revoke_entry
    from trading.credit.models import CreditEntry

    with database(settings()).session() as session, domain_errors():
        reason = checked_text(reason.strip(), "reason")
        if not 5 <= len(reason) <= 500:
            raise InvalidInput("撤销理由应为 5–500 字", fields={"reason": "5–500 字"})
        entry = session.get(CreditEntry, entry_id)
        if entry is None:
            raise NotFound("信用记录不存在", code="no_such_credit_entry")
        user = staff_member(session, username)
        revoke_entry(session, user, entry, reason, user_id=user.id, now=clock.now())
        session.commit()
    click.echo(f"信用记录 {entry_id} 已撤销")


@credit.command("proposals", help="列出待确认的平台信用事件 (list proposed entries)")
@click.option("--sweep", is_flag=True, help="先从审计记录中查找新的平台信用事件 (run the sweep first)")
def list_proposals(sweep: bool) -> None:
    from archive import clock
    from trading.core.schemas import printable
    from trading.credit import proposals
    from trading.credit.models import ProposalState
    from trading.credit.register import list_proposals as proposed

    with database(settings()).session() as session:
        if sweep:
            click.echo(f"新发现 {proposals.sweep(session, clock.now())} 项")
        items = proposed(session, ProposalState.PROPOSED)
        for p in items:
            seqs = "、".join(str(e["seq"]) for e in p.evidence)
            click.echo(
                printable(
                    f"{p.id}  {p.kind.label}  {p.subject_name}（{p.subject_id}）  {p.tender_code or ''}  证据事件 {seqs}"
                )
            )
    click.echo(f"待确认 {len(items)} 项")


@credit.command("check", help="按地区、类别和日期查询某单位的信用记录（不保存查询结果）(what a check would find)")
@click.argument("credit_code")
@click.option("--region", required=True, help="项目所在地 6 位行政区划代码")
@click.option("--category", required=True, help="交易类别，如 construction、goods")
@click.option("--on", "on", default="", help="查询日期（默认今天，北京时间）")
def check(credit_code: str, region: str, category: str, on: str) -> None:
    from archive import clock
    from trading.accounts.credit_code import credit_code_problem, normalise
    from trading.core.schemas import printable
    from trading.credit import checks, rules
    from trading.credit.models import SubjectKind

    code = normalise(credit_code)
    problem = credit_code_problem(code)
    if problem is not None:
        raise click.BadParameter(problem, param_hint="CREDIT_CODE")
    if not rules.REGION_CODE.match(region):
        raise click.BadParameter("应为 6 位行政区划代码", param_hint="--region")
    if category not in rules.CATEGORIES:
        raise click.BadParameter(f"应为 {'、'.join(rules.CATEGORIES)} 之一", param_hint="--category")
    try:
        day = dt.date.fromisoformat(on) if on else clock.local(clock.now()).date()
    except ValueError:
        raise click.BadParameter("日期格式如 2026-12-20", param_hint="--on") from None
    with database(settings()).session() as session:
        subject = checks.Subject(SubjectKind.ORGANISATION, code, code)
        found = checks.applying(session, subject, rules.Scope(region, category, day), clock.now())
        for e in found:
            click.echo(
                printable(
                    f"{e.id}  {e.list_kind.label}  {e.measure.label}  {e.region}  {e.category or '全部类别'}  "
                    f"{e.starts_on}–{e.ends_on or '不设期限'}  {e.authority} {e.document_no}"
                )
            )
        barred = any(rules.bars(checks.facts_of(e)) for e in found)
    click.echo("结果：" + ("存在限制投标的信用记录" if barred else ("有信用提示" if found else "未发现信用记录")))
