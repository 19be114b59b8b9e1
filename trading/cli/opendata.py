"""``ggzy ocds``: the Open Contracting Data Standard releases, records and bulk packages."""

from __future__ import annotations

import click


@click.group(help="开放数据：OCDS 发布、记录与批量包 (open data: OCDS releases, records, bulk packages)")
def ocds() -> None:
    pass
