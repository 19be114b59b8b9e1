"""Adding and revoking credit entries: the one writer of ``credit_entry`` rows and of their
revocation, each change an audit event in the caller's transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive.audit import Actor, record_event
from trading.core.errors import Conflict, InvalidInput
from trading.credit import rules
from trading.credit.checks import entry_json
from trading.credit.models import CreditEntry, CreditList, Measure, SubjectKind


@dataclass(frozen=True)
class NewEntry:
    """An entry as a list, a push, a confirmed proposal or a rating brings it (checked already)."""

    subject_kind: SubjectKind
    subject_id: str
    subject_name: str
    list_kind: CreditList
    measure: Measure
    region: str
    category: str | None
    starts_on: dt.date
    ends_on: dt.date | None
    authority: str
    document_no: str
    facts: str
    source: str  # the feed: the list kind for imports and pushes; proposal or rating for the platform's
    source_ref: str


def existing(session: Session, source: str, source_ref: str) -> CreditEntry | None:
    return session.scalars(
        select(CreditEntry).where(CreditEntry.source == source, CreditEntry.source_ref == source_ref)
    ).first()


def as_row(new: NewEntry, *, user_id: int | None, import_id: int | None, now: dt.datetime) -> CreditEntry:
    """``new`` as a row, not added to the session (to compare with one already there)."""
    return CreditEntry(
        subject_kind=new.subject_kind,
        subject_id=new.subject_id,
        subject_name=new.subject_name,
        list_kind=new.list_kind,
        measure=new.measure,
        region=new.region,
        category=new.category,
        starts_on=new.starts_on,
        ends_on=new.ends_on,
        authority=new.authority,
        document_no=new.document_no,
        facts=new.facts,
        source=new.source,
        source_ref=new.source_ref,
        import_id=import_id,
        created_at=now,
        created_by_user_id=user_id,
    )


def differs(old: CreditEntry, new: CreditEntry) -> bool:
    """Whether two rows of the same feed record say different things (their ids aside)."""
    return {k: v for k, v in entry_json(old).items() if k != "id"} != {
        k: v for k, v in entry_json(new).items() if k != "id"
    }


def add_entry(
    session: Session,
    actor: Actor,
    new: NewEntry,
    *,
    user_id: int | None,
    import_id: int | None,
    now: dt.datetime,
) -> tuple[CreditEntry, bool]:
    """Add ``new`` unless its feed already holds that record: ``(entry, added)``. The same record
    id with other content is a conflict: a list never silently rewrites an entry (revoke it and
    import the corrected one)."""
    problem = rules.period_error(new.starts_on, new.ends_on)
    if problem is not None:
        raise InvalidInput(problem, fields={"ends_on": problem})
    if new.region != rules.NATIONWIDE and not rules.REGION_CODE.match(new.region):
        raise InvalidInput("地区应为 6 位行政区划代码", fields={"region": "6 位行政区划代码"})
    entry = as_row(new, user_id=user_id, import_id=import_id, now=now)
    old = existing(session, new.source, new.source_ref)
    if old is None:
        try:
            with session.begin_nested():  # two pushes of one record at once: the second finds the first's
                session.add(entry)
                session.flush()
        except IntegrityError:
            old = existing(session, new.source, new.source_ref)
            if old is None:
                raise
    if old is not None:
        if differs(old, entry):
            raise Conflict(
                f"记录 {new.source}/{new.source_ref} 已存在且内容不同：请先撤销原记录",
                code="credit_entry_differs",
            )
        return old, False
    record_event(session, actor, "credit.entry_added", entry, {**entry_json(entry), "import": import_id})
    return entry, True


def revoke_entry(
    session: Session, actor: Actor, entry: CreditEntry, reason: str, *, user_id: int | None, now: dt.datetime
) -> CreditEntry:
    """撤销: the entry stops holding from now; checks made before keep what they said."""
    if entry.revoked_at is not None:
        raise Conflict("该信用记录已撤销", code="credit_entry_revoked")
    entry.revoked_at = now
    entry.revoked_by_user_id = user_id
    entry.revoke_reason = reason
    session.flush()
    record_event(session, actor, "credit.entry_revoked", entry, {"reason": reason})
    return entry
