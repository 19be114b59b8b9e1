"""``ggzy supervision``: the time-limit rules and warnings from the command line."""

from __future__ import annotations

import click


@click.group(help="监督：时限规则与预警 (supervision: time-limit rules and warnings)")
def supervision() -> None:
    pass
