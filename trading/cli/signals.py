"""``ggzy signals``: collusion signals of opened lots (compute now, show), and ``ggzy ratings``."""

from __future__ import annotations

import json

import click

from trading.cli.common import cli_actor, database, settings


@click.group(help="串标迹象：开标后计算与查看 (collusion signals, after the opening)")
def signals() -> None:
    pass


@signals.command("compute", help="立即计算一个已完成开标解密的标段的串标迹象 (compute a lot's signals now)")
@click.argument("tender")
@click.argument("lot", type=click.IntRange(1, 9999))
def compute(tender: str, lot: int) -> None:
    from archive import clock
    from trading.core.services import Services
    from trading.signals.runs import compute_run, lot_named, run_of

    s = settings()
    with database(s).session() as session:
        found = lot_named(session, tender, lot)
        run = compute_run(session, Services(s), found, clock.now(), cli_actor())
        session.commit()
        if run is None:
            run = run_of(session, found.id)
            assert run is not None
            click.echo(f"已于 {clock.local(run.computed_at):%Y-%m-%d %H:%M} 计算过，未重算 (already computed)")
            return
        click.echo(f"已计算：{run.bids} 份投标、{run.files} 个文件，跳过 {len(run.skipped)} 项 (computed)")


@signals.command("show", help="列出一个标段的串标迹象及证据 (show a lot's signals with their evidence)")
@click.argument("tender")
@click.argument("lot", type=click.IntRange(1, 9999))
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出 (print JSON)")
def show(tender: str, lot: int, as_json: bool) -> None:
    from archive import clock
    from trading.core.schemas import printable
    from trading.signals.reviews import signal_rows
    from trading.signals.runs import computed_run, lot_named, signals_of

    with database(settings()).session() as session:
        found = lot_named(session, tender, lot)
        run = computed_run(session, found)
        rows = signal_rows(session, signals_of(session, run))
        if as_json:
            click.echo(json.dumps({"skipped": run.skipped, "items": rows}, ensure_ascii=False, indent=2))
            return
        click.echo(
            f"{tender} 标段 {lot}：{run.bids} 份投标，{run.files} 个文件，计算于 {clock.local(run.computed_at):%Y-%m-%d %H:%M}"
        )
        if not rows:
            click.echo("未发现串标迹象 (no signals)")
        for r in rows:
            click.echo(f"- {r['label']}：{printable('、'.join(r['bidders']))}\n    {printable(r['detail'])}")
        for sk in run.skipped:
            who = sk.get("bidder") or sk.get("document")
            click.echo(f"! 未能读取 {printable(who)}：{printable(sk.get('code'))}")
