"""``ggzy exchange``: the national data-exchange records, exported and pushed to the upper platform."""

from __future__ import annotations

import click


@click.group(help="全国公共资源交易数据交换：导出与推送 (national data-exchange records: export and push)")
def exchange() -> None:
    pass
