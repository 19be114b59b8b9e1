"""``ggzy exchange``: the national data-exchange records, exported and pushed to the upper platform.

Every command first queues the records of the events a public signed checkpoint covers (as the
scheduler's job does), so what it shows or sends is up to date."""

from __future__ import annotations

import json
import pathlib
import sys
from typing import TYPE_CHECKING

import click

from trading.cli.common import cli_actor, database, settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from trading.core.config import Settings


@click.group(help="全国公共资源交易数据交换：导出与推送 (national data-exchange records: export and push)")
def exchange() -> None:
    pass


def _collect(session: Session, s: Settings) -> int:
    from archive import clock
    from trading.core.services import Services
    from trading.exchange.pushing import collect

    queued = collect(session, Services(s), clock.now(), cli_actor())
    session.commit()
    return queued


@exchange.command("export", help="把记录（含信封与证明）导出为 JSON Lines (export the records as JSON Lines)")
@click.option("--tender", help="只导出该招标项目编号的记录 (only this tender)")
@click.option("--table", help="只导出该数据表，如 WIN_BID_BULLETIN (only this table)")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=pathlib.Path), help="写入文件（默认标准输出）"
)
def export(tender: str | None, table: str | None, output: pathlib.Path | None) -> None:
    from sqlalchemy import select

    from trading.exchange.models import ExchangeRecord

    s = settings()
    with database(s).session() as session:
        _collect(session, s)
        q = select(ExchangeRecord).order_by(ExchangeRecord.source_seq, ExchangeRecord.id)
        if tender:
            q = q.where(ExchangeRecord.tender_code == tender)
        if table:
            q = q.where(ExchangeRecord.table_name == table)
        lines = [rec.envelope for rec in session.scalars(q)]
    out = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        for line in lines:
            out.write(line + "\n")
    finally:
        if output:
            out.close()
    if output:
        click.echo(f"已导出 {len(lines)} 条记录到 {output} (exported)", err=True)


@exchange.command("push", help="立即推送到期的记录到 EXCHANGE_PUSH_URL (push the due records now)")
@click.option("--refused", is_flag=True, help="先把被拒收的记录重新排队（原因已排除后）(requeue refused records first)")
@click.option("--all", "everything", is_flag=True, help="不等退避时间，推送所有未推送的记录 (ignore the back-off)")
def push(refused: bool, everything: bool) -> None:
    from sqlalchemy import select

    from archive import clock
    from trading.core.services import Services
    from trading.exchange.models import FAILING, QUEUED, ExchangeRecord
    from trading.exchange.pushing import counts, push_due, requeue_refused

    s = settings()
    if not s.exchange_push_url:
        raise click.ClickException("未配置推送地址 EXCHANGE_PUSH_URL (no push URL configured)")
    with database(s).session() as session:
        queued = _collect(session, s)
        now = clock.now()
        if refused:
            requeue_refused(session, now, cli_actor())
            session.commit()
        ids = None
        if everything:
            ids = list(
                session.scalars(
                    select(ExchangeRecord.id)
                    .where(ExchangeRecord.state.in_((QUEUED, FAILING)))
                    .order_by(ExchangeRecord.id)
                )
            )
        pushed = push_due(session, Services(s), now, actor=cli_actor(), ids=ids)
        c = counts(session)
    click.echo(
        f"新生成 {queued} 条，本次推送成功 {pushed} 条；已推送 {c['pushed']}，待推送 {c['queued']}，"
        f"失败待重试 {c['failing']}，被拒收 {c['refused']}"
    )


@exchange.command(
    "status", help="各状态的记录数，及失败、被拒收的记录 (counts, and the records that wait or were refused)"
)
@click.option("--json", "as_json", is_flag=True, help="JSON 输出")
def status(as_json: bool) -> None:
    from sqlalchemy import select

    from trading.core.formats import local_time
    from trading.core.schemas import printable
    from trading.exchange.models import FAILING, REFUSED, ExchangeRecord
    from trading.exchange.pushing import counts
    from trading.exchange.status import record_json

    s = settings()
    with database(s).session() as session:
        _collect(session, s)
        c = counts(session)
        stuck = session.scalars(
            select(ExchangeRecord).where(ExchangeRecord.state.in_((FAILING, REFUSED))).order_by(ExchangeRecord.id)
        ).all()
        if as_json:
            # JSON escapes C0 itself; printable also escapes C1 and bidi controls in the receiver's words
            problems = [record_json(r) | {"last_error": r.last_error and printable(r.last_error)} for r in stuck]
            click.echo(json.dumps({"counts": c, "problems": problems}, ensure_ascii=False))
            return
        # the setting of this command's environment: the scheduler that pushes may have its own
        where = s.exchange_push_url or "（本命令的环境未设置 EXCHANGE_PUSH_URL；推送由定时任务进程按它自己的设置进行）"
        click.echo(f"推送地址：{where}")
        click.echo(f"已推送 {c['pushed']}　待推送 {c['queued']}　失败待重试 {c['failing']}　被拒收 {c['refused']}")
        for r in stuck:
            when = f"，下次重试 {local_time(r.next_attempt_at)}" if r.state == FAILING else ""
            # the receiver's words: a hostile one could send terminal escape sequences
            click.echo(f"  {r.id} {printable(r.table_name)} {printable(r.data_key)}：{printable(r.last_error)}{when}")
