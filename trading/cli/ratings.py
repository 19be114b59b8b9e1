"""``ggzy ratings``: expert ratings after evaluations (标后评价) and service ratings (好差评)."""

from __future__ import annotations

import click


@click.group(help="评价：专家标后评价与服务好差评 (expert ratings and service ratings)")
def ratings() -> None:
    pass
