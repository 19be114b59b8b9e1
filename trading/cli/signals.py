"""``ggzy signals`` and ``ggzy ratings``: collusion signals of opened lots, and the ratings."""

from __future__ import annotations

import click


@click.group(help="串标迹象：开标后计算与查看 (collusion signals, after the opening)")
def signals() -> None:
    pass
