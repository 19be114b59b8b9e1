"""``ggzy ratings``: expert ratings after evaluations (标后评价) and service ratings (好差评)."""

from __future__ import annotations

import json

import click

from trading.cli.common import database, settings
from trading.core.formats import decimal_text


@click.group(help="评价：专家标后评价与服务好差评 (expert ratings and service ratings)")
def ratings() -> None:
    pass


@ratings.command("experts", help="列出已被评价的专家及其平均分 (rated experts and their standing)")
@click.option("--below", is_flag=True, help="只列平均分低于阈值的专家 (only those below the threshold)")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出 (print JSON)")
def experts(below: bool, as_json: bool) -> None:
    from trading.signals import ratings as rules
    from trading.signals.expert_ratings import standings

    try:
        policy = rules.policy_from(settings().ratings)
    except rules.PolicyError as exc:
        raise click.ClickException(str(exc)) from exc
    with database(settings()).session() as session:
        rows = standings(session, policy)
    if below:
        rows = [r for r in rows if rules.suspends(r.value, policy.threshold)]
    if as_json:
        out = [
            {
                "expert": r.expert_id,
                "name": r.name,
                "ratings": r.count,
                "average": decimal_text(r.value) if r.value is not None else None,
                "suspended_until": r.suspended_until.isoformat() if r.suspended_until else None,
            }
            for r in rows
        ]
        click.echo(json.dumps(out, ensure_ascii=False, indent=1))
        return
    click.echo(
        f"最近 {policy.window} 次评价平均低于 {decimal_text(policy.threshold, 1)} 分暂停抽取 {policy.days} 日"
        f"（window {policy.window}, threshold {policy.threshold}, days {policy.days}）"
    )
    if not rows:
        click.echo("没有符合条件的专家 (none)")
    for r in rows:
        until = f"  暂停抽取至 {r.suspended_until.isoformat()}" if r.suspended_until else ""
        click.echo(f"{r.expert_id}  {r.name}  评价 {r.count} 次  平均 {decimal_text(r.value)}{until}")


@ratings.command("services", help="服务评价（好差评）统计：按服务与月份 (service ratings by service and month)")
@click.option("--month", help="只看某月，YYYY-MM（北京时间）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出 (print JSON)")
def services(month: str | None, as_json: bool) -> None:
    from trading.core.errors import InvalidInput
    from trading.signals.ratings_api import aggregates_json, read_month

    try:
        chosen = read_month({"month": month or ""})
    except InvalidInput as exc:
        raise click.ClickException(exc.message) from exc
    with database(settings()).session() as session:
        data = aggregates_json(session, chosen)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=1))
        return
    if not data["cells"]:
        click.echo("暂无评价 (no ratings)")
    for c in data["cells"]:
        share = f"{float(c['bad_share']) * 100:.1f}%" if c["bad_share"] is not None else "—"
        on_time = f"{float(c['on_time_share']) * 100:.1f}%" if c["on_time_share"] is not None else "—"
        click.echo(
            f"{c['service_label']}  {c['month'] or '全部月份'}  评价 {c['count']}  平均 {c['average'] or '—'}  "
            f"差评 {c['bad']}（{share}）  已答复 {c['answered']}  按时答复率 {on_time}"
        )
