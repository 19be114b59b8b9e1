"""``ggzy supervision``: the time-limit rules and warnings from the command line."""

from __future__ import annotations

import json

import click

from trading.cli.common import database, domain_errors, settings


@click.group(help="监督：时限规则与预警 (supervision: time-limit rules and warnings)")
def supervision() -> None:
    pass


@supervision.command("rules", help="列出监督规则（现行版本）(list the time-limit rules)")
def rules() -> None:
    from trading.supervision.rules import WARNED_LABELS
    from trading.supervision.warnings import rule_histories

    with database(settings()).session() as session:
        histories = rule_histories(session)
    if not histories:
        click.echo("尚无监督规则：运行 ggzy supervision sweep 写入初始规则")
    for h in histories:
        r = h.current
        warned = "、".join(WARNED_LABELS.get(w, w) for w in r.warned)
        state = "启用" if r.enabled else "停用"
        click.echo(
            f"{r.code}  {r.title}  时限 {r.limit}（到期前 {r.yellow_value}{r.limit_unit.label}黄灯）  第 {r.version} 版  {state}"
        )
        click.echo(f"    依据：{r.source}")
        click.echo(f"    通知：{warned}")


@supervision.command("sweep", help="立即写入初始规则并计算时限预警 (seed the rules and run the clocks' sweep now)")
def sweep() -> None:
    from archive import clock
    from trading.cli.common import cli_actor
    from trading.supervision.clocks import sweep as run_sweep
    from trading.supervision.rulebook import ensure_seed

    with database(settings()).session() as session:
        seeded = ensure_seed(session, cli_actor())
        session.commit()
        changed = run_sweep(session, clock.now())
    click.echo(f"已写入初始规则 {seeded} 条；计时变化 {changed} 项 (seeded {seeded}, changed {changed})")


@supervision.command("warnings", help="列出时限预警（黄灯与红灯）(list the warnings)")
@click.option("--colour", help="只列该颜色：green（绿灯）、yellow（黄灯）、red（红灯）")
@click.option("--rule", help="只列该规则，如 contract")
@click.option("--tender", help="只列该招标项目编号")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出 (print JSON)")
def warnings(colour: str | None, rule: str | None, tender: str | None, as_json: bool) -> None:
    from archive import clock
    from trading.core.formats import local_time
    from trading.supervision import warnings as w

    now = clock.now()
    with database(settings()).session() as session, domain_errors():
        items, page = [], 1
        while True:
            found = w.list_warnings(
                session,
                now,
                colour=w.parse_colour(colour),
                rule=w.parse_rule(session, rule),
                tender=w.parse_tender(tender),
                page=page,
            )
            items += found.items
            if page * found.per_page >= found.total:
                break
            page += 1
    if as_json:
        click.echo(json.dumps([v.to_json() for v in items], ensure_ascii=False, indent=2))
        return
    if not items:
        click.echo("没有预警")
    for v in items:
        done = f"办结 {local_time(v.stopped_at)}" + ("（超期）" if v.late else "") if v.stopped_at else "计时中"
        paused = "（暂停中）" if v.paused_since else ""
        click.echo(
            f"预警 {v.id}  {v.colour_label}  {v.where}  {v.rule.title}（{v.rule.limit}）  "
            f"时限届满 {local_time(v.due_at)}{paused}  {done}  记录：{v.worst_label}"
        )
