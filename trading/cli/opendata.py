"""``ggzy ocds``: the Open Contracting Data Standard releases, records and bulk packages."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import pathlib
from typing import Any

import click

from trading.cli.common import database, settings


@click.group(help="开放数据：OCDS 发布、记录与批量包 (open data: OCDS releases, records, bulk packages)")
def ocds() -> None:
    pass


def _write(value: Any, out: pathlib.Path | None) -> None:
    from trading.opendata.compiled import dumps

    text = dumps(value)
    if out is None:
        click.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        click.echo(f"已写入 {out}")


@ocds.command("publish", help="立即生成新审计事件的 OCDS 发布（调度器每分钟也会做）")
def ocds_publish() -> None:
    from archive import clock
    from trading.opendata.publish import sweep

    s = settings()
    with database(s).session() as session:
        made = sweep(session, s.ocds_ocid_prefix, clock.now())
    click.echo(f"新生成发布 {made} 条")


@ocds.command("releases", help="导出发布包（release package）")
@click.option("--since", default="", help="只要此时间以后的发布（ISO 8601，不带时区按北京时间）")
@click.option("--out", type=click.Path(path_type=pathlib.Path, dir_okay=False), help="写入文件（默认输出到屏幕）")
def ocds_releases(since: str, out: pathlib.Path | None) -> None:
    from archive import clock
    from trading.core.errors import DomainError
    from trading.opendata.api import parse_since
    from trading.opendata.compiled import release_package
    from trading.opendata.publish import release_rows

    try:
        start = parse_since(since)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    with database(settings()).session() as session:
        rows = release_rows(session, start, 0, 10**9)
        _write(release_package("urn:ggzy:ocds:releases", [json.loads(r.body) for r in rows], clock.now()), out)


@ocds.command("record", help="导出一个项目的记录包（record package）")
@click.argument("ocid")
@click.option("--out", type=click.Path(path_type=pathlib.Path, dir_okay=False))
def ocds_record(ocid: str, out: pathlib.Path | None) -> None:
    from archive import clock
    from trading.opendata.compiled import record, record_package
    from trading.opendata.publish import releases_of

    with database(settings()).session() as session:
        found = releases_of(session, ocid)
        if not found:
            raise click.ClickException(f"没有 ocid 为 {ocid} 的发布")
        _write(record_package(f"urn:ggzy:ocds:record:{ocid}", [record(found)], clock.now()), out)


@ocds.command("bulk", help="生成某日（北京时间，默认昨天）的批量文件到对象存储，并可另存一份")
@click.option("--day", default="", help="日期 YYYY-MM-DD")
@click.option("--kind", type=click.Choice(["releases", "records"]), default="releases", help="--out 保存哪一种")
@click.option("--out", type=click.Path(path_type=pathlib.Path, dir_okay=False), help="另存为 .jsonl.gz 文件")
def ocds_bulk(day: str, kind: str, out: pathlib.Path | None) -> None:
    from archive import clock
    from trading.core.services import Services
    from trading.opendata.publish import bulk_file, write_bulk

    try:
        when = dt.date.fromisoformat(day) if day else clock.local(clock.now()).date() - dt.timedelta(days=1)
    except ValueError as exc:
        raise click.ClickException("日期应为 YYYY-MM-DD") from exc
    s = settings()
    svc = Services(s)
    with database(s).session() as session:
        made = write_bulk(session, svc.store, when, clock.now())
        session.commit()
        for k in ("releases", "records"):
            b = bulk_file(session, when, k)
            assert b is not None
            click.echo(f"{when.isoformat()} {k}: {b.count} 条，{b.size} 字节，SM3 {b.sm3}")
        click.echo("新生成" if made else "该日已生成过，未改动")
        if out is not None:
            b = bulk_file(session, when, kind)
            assert b is not None
            out.write_bytes(svc.store.read_bytes(b.object_key))
            click.echo(f"已写入 {out}")


@ocds.command("validate", help="用内置的 OCDS 1.1 模式（含扩展）校验发布包、记录包或 JSON Lines 文件")
@click.argument("path", type=click.Path(path_type=pathlib.Path, exists=True, dir_okay=False))
def ocds_validate(path: pathlib.Path) -> None:
    try:
        from trading.opendata.validation import check
    except ImportError as exc:  # jsonschema is a development dependency
        raise click.ClickException("校验需要 jsonschema：pip install 'jsonschema>=4.20'") from exc

    raw = path.read_bytes()
    text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8")
    try:
        items = (
            [json.loads(text)]
            if not path.name.endswith((".jsonl", ".jsonl.gz"))
            else [json.loads(line) for line in text.splitlines() if line.strip()]
        )
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"不是 JSON：{exc}") from exc
    bad = 0
    for i, item in enumerate(items, 1):
        for err in check(item):
            bad += 1
            click.echo(f"第 {i} 项 {click.style(err, fg='red')}")
    if bad:
        raise click.ClickException(f"{len(items)} 项中发现 {bad} 处错误")
    click.echo(f"{len(items)} 项全部通过 OCDS 1.1 校验")
