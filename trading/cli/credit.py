"""``ggzy credit``: the credit register from the command line (import, list, revoke, check, proposals)."""

from __future__ import annotations

import click


@click.group(help="信用记录：导入、查询、撤销、核查、平台信用事件 (the credit register)")
def credit() -> None:
    pass
