"""``ggzy stats``: the trading statistics (交易统计), and their recomputation from a log export."""

from __future__ import annotations

import click


@click.group(help="交易统计 (trading statistics)")
def stats() -> None:
    pass
