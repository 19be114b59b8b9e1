"""``ggzy stats``: the trading statistics (交易统计), and their recomputation from a log export."""

from __future__ import annotations

import json
import pathlib
import sys

import click

from trading.cli.common import database, settings

DIMENSIONS = ("category", "procedure", "region", "month")


@click.command(help="交易统计：按交易类别、交易方式、地区或月份 (trading statistics; --verify EXPORT recomputes them)")
@click.option("--by", "by", type=click.Choice(DIMENSIONS), default="category", show_default=True, help="统计维度")
@click.option("--year", type=click.IntRange(2000, 2100), default=None, help="年份（北京时间，按标段结束时间）")
@click.option(
    "--source",
    type=click.Choice(("all", "trail", "generated")),
    default="all",
    show_default=True,
    help="数据来源：全部、审计日志、演示生成数据",
)
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@click.option(
    "--verify",
    "export",
    type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path),
    default=None,
    help="由 ggzy audit export 的导出文件重算每个审计日志来源的数字，并与数据库比对",
)
@click.option(
    "--cert",
    type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path),
    default=None,
    help="平台签名证书（默认用本实例的）(platform signing certificate)",
)
def stats(
    by: str, year: int | None, source: str, as_json: bool, export: pathlib.Path | None, cert: pathlib.Path | None
) -> None:
    if export is not None:
        verify(export, cert)
        return
    from trading.core.formats import decimal_text
    from trading.supervision import statistics
    from trading.supervision.stats_api import Filters, table_for

    f = Filters(by, year, source)
    with database(settings()).session() as session:
        t = table_for(session, f)
    if as_json:
        click.echo(json.dumps(statistics.table_json(t, f.as_dict()), ensure_ascii=False, indent=1))
        return
    if t.generated:
        click.echo(f"注意：含演示生成数据 {t.generated} 个标段（不在审计日志中）", err=True)
    click.echo(
        f"{statistics.DIMENSION_LABELS[by]}\t来源\t项目数\t标段数\t定标/流标/终止\t预算金额合计\t中标金额合计\t节资率\t流标率\t平均投标数\t平均定标天数"
    )
    for r in [*t.rows, t.total]:
        click.echo(
            "\t".join(
                [
                    r.label,
                    r.source,
                    str(r.tenders),
                    str(r.lots),
                    f"{r.awarded}/{r.failed}/{r.terminated}",
                    decimal_text(r.budget),
                    decimal_text(r.award),
                    statistics.percent(r.savings_rate),
                    statistics.percent(r.failure_rate),
                    decimal_text(r.average_bids, 1),
                    decimal_text(r.average_days, 1),
                ]
            )
        )
    click.echo(statistics.SAVINGS_FORMULA)


def verify(export: pathlib.Path, cert: pathlib.Path | None) -> None:
    """Every trail figure recomputed from the export alone, then compared with the database's."""
    from signing.certs import Certificate
    from trading.core.platform_keys import load_platform_keys
    from trading.supervision.log_export import verify_export

    s = settings()
    try:
        trusted = Certificate.load(cert.read_bytes()) if cert else load_platform_keys(s).sign_cert
    except Exception as exc:
        raise click.ClickException(f"无法读取平台签名证书 (platform certificate): {exc}") from exc
    with database(s).session() as session, export.open(encoding="utf-8") as lines:
        result = verify_export(lines, trusted, session)
    for finding in result.findings:
        click.echo(f"失败 FAIL  {finding.line()}", err=True)
    if result.findings:
        click.echo(f"统计核验失败：{len(result.findings)} 处不符 (statistics verification FAILED)", err=True)
        sys.exit(1)
    click.echo(
        f"统计核验通过：由导出的 {result.tree_size} 个事件重算 {result.facts} 个标段统计事实，"
        f"各维度数字与数据库一致 (statistics verified)"
    )
