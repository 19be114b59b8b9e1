"""``ggzy backup`` and ``ggzy restore``: the database and both object stores, into a directory and
back (trading.core.backup; docs/operators.md, 备份与恢复)."""

from __future__ import annotations

import pathlib
from typing import TYPE_CHECKING

import click

from trading.cli.common import domain_errors, safe_url, settings

if TYPE_CHECKING:
    from trading.core.backup import Summary


def _told(what: str, summary: Summary) -> None:
    click.echo(
        f"{what}：{summary.dialect} 数据库（结构版本 {summary.revision}，审计日志 {summary.audit_seq} 条），"
        f"对象存储 {summary.objects} 个对象，档案存储 {summary.archive_objects} 个对象，共 {summary.bytes} 字节"
    )


@click.command(
    help="备份数据库、对象存储和档案存储到一个新目录 (back up the database and both stores into a new folder)"
)
@click.argument("folder", type=click.Path(file_okay=False, path_type=pathlib.Path))
def backup(folder: pathlib.Path) -> None:
    from trading.core import backup as backups

    s = settings()
    with domain_errors():
        summary = backups.take(s, folder)
    _told(f"已备份到 {folder} (backed up)", summary)
    click.echo("平台密钥目录和 SECRET_KEY 不在备份里：请另行离线保存 (keys and SECRET_KEY are not in a backup)")


@click.command(
    help="把备份恢复到空的数据库和存储，先整体核对备份 (restore a backup into an empty database and stores, checked first)"
)
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=pathlib.Path))
def restore(folder: pathlib.Path) -> None:
    from trading.core import backup as backups

    s = settings()
    with domain_errors():
        summary = backups.restore(s, folder)
    _told(f"已恢复到 {safe_url(s.database_url)} (restored)", summary)
    click.echo("下一步 (next): ggzy migrate; ggzy audit verify; ggzy archive verify-log")
