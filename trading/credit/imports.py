"""Importing credit lists (导入信用名单): a file staff upload, or a batch a credit system pushes, applied
whole or not at all.

Every row is checked first (``trading.credit.formats``); then each row is looked up in the register
by its list and record id (``source``, ``source_ref``): a record already there with the same content
is ``unchanged`` (a retried push, a list imported again), one with other content is refused (a list
never silently rewrites an entry: revoke it, and import the correction under a record id of its
own). Only when no row is refused are the new entries added, each through ``entries.add_entry``
with its audit event, and the import itself recorded (``credit.imported``), in the caller's
transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import Actor, record_event
from signing.digest import sm3_hex
from trading.core.errors import DomainError
from trading.credit.entries import NewEntry, add_entry, as_row, differs
from trading.credit.formats import Parsed, RowProblem, parse_file
from trading.credit.models import CreditEntry, CreditImport

#: rows looked up in the register per query
LOOKUP_CHUNK = 500


class ImportRefused(DomainError):
    """The file or push had bad rows: nothing was written. ``rows`` names each problem."""

    status = 422
    code = "credit_import_invalid"

    def __init__(self, message: str, problems: Sequence[RowProblem], *, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.problems = list(problems)

    def to_json(self) -> dict[str, Any]:
        body = super().to_json()
        body["error"]["rows"] = [p.as_json() for p in self.problems]
        return body


class EntriesDiffer(ImportRefused):
    """A push named records the register holds with other content (409: the push API's contract)."""

    status = 409
    code = "credit_entry_differs"


@dataclass(frozen=True)
class Outcome:
    record: CreditImport
    entries: list[CreditEntry]  # one per good row of the file, in its order (new or already there)


def refused(parsed: Parsed) -> ImportRefused:
    n = len({p.row for p in parsed.problems})
    where = "文件" if any(p.row == 0 for p in parsed.problems) else f"{n} 条记录"
    return ImportRefused(f"导入未完成：{where}有误，未写入任何记录", parsed.problems)


def _already(session: Session, rows: Sequence[NewEntry]) -> dict[tuple[str, str], CreditEntry]:
    found: dict[tuple[str, str], CreditEntry] = {}
    refs = sorted({r.source_ref for r in rows})
    for i in range(0, len(refs), LOOKUP_CHUNK):
        q = select(CreditEntry).where(CreditEntry.source_ref.in_(refs[i : i + LOOKUP_CHUNK]))
        found |= {(e.source, e.source_ref): e for e in session.scalars(q)}
    return found


def apply(
    session: Session,
    actor: Actor,
    parsed: Parsed,
    *,
    channel: str,
    file_name: str,
    file_sm3: str,
    user_id: int,
    now: dt.datetime,
) -> Outcome:
    """Add the file's entries (flushed, not committed), or raise ``ImportRefused`` having written
    nothing: for bad rows, and for rows the register holds with other content (``EntriesDiffer``
    from the push API, a bad row named like the others for a file)."""
    if parsed.problems:
        raise refused(parsed)
    held = _already(session, [r for _, r in parsed.rows])
    clashes = [
        RowProblem(n, "source_ref", f"名单记录编号 {r.source_ref} 已在信用记录第 {old.id} 号，内容不同：请先撤销原记录")
        for n, r in parsed.rows
        if (old := held.get((r.source, r.source_ref))) is not None
        and differs(old, as_row(r, user_id=None, import_id=None, now=now))
    ]
    if clashes:
        message = f"导入未完成：{len(clashes)} 条记录与信用记录中同一编号的记录内容不同，未写入任何记录"
        if channel == "api":
            raise EntriesDiffer(message, clashes)
        raise ImportRefused(message, clashes)
    fresh = [r for _, r in parsed.rows if (r.source, r.source_ref) not in held]
    record = CreditImport(
        channel=channel,
        file_name=file_name,
        file_sm3=file_sm3,
        rows=parsed.total,
        added=len(fresh),
        unchanged=parsed.total - len(fresh),
        user_id=user_id,
        at=now,
    )
    session.add(record)
    session.flush()
    entries = []
    for _, r in parsed.rows:
        entry, _added = add_entry(session, actor, r, user_id=user_id, import_id=record.id, now=now)
        entries.append(entry)
    record_event(
        session,
        actor,
        "credit.imported",
        record,
        {
            "channel": channel,
            "file_name": file_name,
            "file_sm3": file_sm3,
            "rows": record.rows,
            "added": record.added,
            "unchanged": record.unchanged,
        },
    )
    return Outcome(record, entries)


def import_file(
    session: Session, actor: Actor, name: str, data: bytes, *, channel: str, user_id: int, now: dt.datetime
) -> Outcome:
    """A list file (or a push's JSON body, ``channel`` api) read, checked and applied whole."""
    return apply(
        session,
        actor,
        parse_file(name, data),
        channel=channel,
        file_name=name,
        file_sm3=sm3_hex(data),
        user_id=user_id,
        now=now,
    )
