"""Credit checks (信用查询): what the register said about one subject for one tender's scope, as a
platform-signed snapshot kept with the registration or the evaluation and put into the lot's archive.

The snapshot names what was looked up (the subject, the region, category and day), when (the
statement's signing instant) and what it said (every entry that applied, each with its own SM3), so
that a court reading the archive years later can check the refusal or the clean result without the
platform's database (财库〔2016〕125号: 查询结果留存). Registrations are secret until the opening, so
the caller decides how the check is recorded in the trail (a sealed event for a registration).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from signing.canonical import canonical_json
from signing.digest import sm3_hex
from signing.statements import SignedStatement, sign_statement
from trading.accounts.regions import region_name
from trading.core.platform_keys import PlatformKeys
from trading.credit import rules
from trading.credit.models import CheckPurpose, CreditCheck, CreditEntry, SubjectKind

STATEMENT_TYPE = "credit_check"
FORMAT = "ggzy-credit-check/1"


@dataclass(frozen=True)
class Subject:
    kind: SubjectKind
    id: str  # 统一社会信用代码, or the expert number
    name: str


def facts_of(e: CreditEntry) -> rules.EntryFacts:
    return rules.EntryFacts(
        subject_kind=e.subject_kind,
        subject_id=e.subject_id,
        list_kind=e.list_kind,
        measure=e.measure,
        region=e.region,
        category=e.category,
        starts_on=e.starts_on,
        ends_on=e.ends_on,
        revoked_at=e.revoked_at,
    )


def state_of(e: CreditEntry, now: dt.datetime) -> str:
    """The entry's state today (Beijing), as pages and the command line say it."""
    return rules.state_label(facts_of(e), clock.local(now).date(), now)


def entry_json(e: CreditEntry) -> dict[str, Any]:
    """An entry as a check signs it (and as the API shows it)."""
    return {
        "id": e.id,
        "list": e.list_kind.value,
        "list_label": e.list_kind.label,
        "measure": e.measure.value,
        "measure_label": e.measure.label,
        "subject": {"kind": e.subject_kind.value, "id": e.subject_id, "name": e.subject_name},
        "region": e.region,
        "region_label": rules.region_label(e.region, region_name),
        "category": e.category,
        "category_label": rules.category_label(e.category),
        "starts_on": e.starts_on.isoformat(),
        "ends_on": e.ends_on.isoformat() if e.ends_on else None,
        "authority": e.authority,
        "document_no": e.document_no,
        "facts": e.facts,
        "source": e.source,
        "source_ref": e.source_ref,
    }


def entries_of(session: Session, kind: SubjectKind, ids: Iterable[str]) -> list[CreditEntry]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    q = select(CreditEntry).where(CreditEntry.subject_kind == kind, CreditEntry.subject_id.in_(wanted))
    return list(session.scalars(q.order_by(CreditEntry.id)))


def applying(session: Session, subject: Subject, scope: rules.Scope, at: dt.datetime) -> list[CreditEntry]:
    """The entries about ``subject`` that hold for ``scope`` as the register stands at ``at``."""
    measures = rules.measures_for(subject.kind)
    return [
        e
        for e in entries_of(session, subject.kind, [subject.id])
        if e.measure in measures and rules.applies(facts_of(e), scope, at)
    ]


def check(
    session: Session,
    keys: PlatformKeys,
    subject: Subject,
    scope: rules.Scope,
    *,
    purpose: CheckPurpose,
    tender_code: str,
    lot_number: int | None,
    now: dt.datetime,
) -> CreditCheck:
    """Look ``subject`` up for ``scope``, sign what was found and keep it (flushed, not committed)."""
    found = applying(session, subject, scope, now)
    signed = [{**entry_json(e), "sm3": sm3_hex(canonical_json(entry_json(e)))} for e in found]
    barred = any(rules.bars(facts_of(e)) for e in found)
    body = {
        "format": FORMAT,
        "purpose": purpose.value,
        "subject": {"kind": subject.kind.value, "id": subject.id, "name": subject.name},
        "scope": {
            "tender": tender_code,
            "lot": lot_number,
            "region": scope.region,
            "category": scope.category,
            "on": scope.on.isoformat(),
        },
        "result": rules.result(barred, bool(found)),
        "entries": signed,
    }
    st = sign_statement(STATEMENT_TYPE, body, key=keys.sign_key, cert=keys.sign_cert, now=now)
    row = CreditCheck(
        purpose=purpose,
        subject_kind=subject.kind,
        subject_id=subject.id,
        tender_code=tender_code,
        lot_number=lot_number,
        region=scope.region,
        category=scope.category,
        on=scope.on,
        barred=barred,
        found=signed,
        checked_at=now,
        statement=st.to_json().decode(),
        statement_sm3=sm3_hex(st.to_json()),
    )
    session.add(row)
    session.flush()
    return row


def result_of(c: CreditCheck) -> str:
    return rules.result(c.barred, bool(c.found))


def result_label(c: CreditCheck) -> str:
    if c.barred:
        return "存在限制投标的信用记录"
    return "有信用提示" if c.found else "未发现信用记录"


def verified_body(statement_json: bytes, keys_trust: Any) -> dict[str, Any]:
    """The body of a signed check after its signature is verified against ``keys_trust`` (a
    TrustStore); raises ``StatementError`` or ``InvalidSignature``."""
    content = SignedStatement.from_json(statement_json).verify(trust=keys_trust, expected_type=STATEMENT_TYPE)
    body: dict[str, Any] = content["body"]
    return body


def draw_suspensions(session: Session, expert_ids: Iterable[int], on: dt.date, at: dt.datetime) -> dict[int, dt.date]:
    """For the draw's pool: each suspended expert's last day out of draws (``date.max``: no end)."""
    by_expert: dict[int, list[rules.EntryFacts]] = {}
    for e in entries_of(session, SubjectKind.EXPERT, [str(i) for i in expert_ids]):
        by_expert.setdefault(int(e.subject_id), []).append(facts_of(e))
    out: dict[int, dt.date] = {}
    for expert_id, facts in by_expert.items():
        until = rules.suspended_until(facts, on, at)
        if until is not None:
            out[expert_id] = until
    return out
