"""Filing a complaint (投诉): the complainant's SM2-signed complaint with its evidence files, after
the objection (异议 / 质疑) the law asks for first (``trading.supervision.complaint_rules``).

The signature is the registered certificate's over ``signing.statements.complaint_statement``;
the evidence is stored by SM3 and must match the signed list. Before the bid deadline the trail
names no complainant (``complaints.complainant_actor``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import Actor, record_event
from archive.objectstore import ObjectTooLarge
from signing.canonical import canonical_json
from signing.certs import TrustStore
from signing.digest import sm3_hex
from signing.statements import (
    COMPLAINT_MAX_FILE_BYTES,
    COMPLAINT_MAX_FILES,
    COMPLAINT_MAX_TOTAL_BYTES,
    complaint_statement,
)
from trading.accounts.models import User
from trading.accounts.permissions import Permission, has
from trading.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from trading.core.services import Services
from trading.evaluation.models import Evaluation, PublicityObjection
from trading.opening.models import Ceremony, Objection
from trading.pki.operations import check_signature, registered_signing_cert
from trading.procedures.operations import overrides
from trading.supervision import complaint_rules as rules
from trading.supervision.complaint_documents import issue_document
from trading.supervision.complaint_schemas import ComplaintIn
from trading.supervision.complaints import complainant_actor
from trading.supervision.models import Complaint, ComplaintFile, ComplaintState
from trading.tenders import notifications
from trading.tenders.models import Interest, Lot, Question, Tender
from trading.tenders.operations import ensure_current, get_tender


def prior_objections(session: Session, org_id: int, tender: Tender, lot: Lot | None) -> list[rules.PriorObjection]:
    """The organisation's objections on the platform's records that a complaint may follow: its
    questions on the tender (Reg 22), its objections in the lot's opening (Reg 44) and to the
    lot's publicity (Reg 54); every lot's when no lot is named."""
    lots = [lot.id] if lot is not None else [x.id for x in tender.lots]
    found = [
        rules.PriorObjection(rules.Source.QUESTION, q.id, q.asked_at, q.answered_at)
        for q in session.scalars(
            select(Question)
            .join(Interest, Interest.id == Question.interest_id)
            .where(Question.tender_id == tender.id, Interest.org_id == org_id)
        )
    ]
    found += [
        rules.PriorObjection(rules.Source.OPENING, o.id, o.created_at, o.answered_at)
        for o in session.scalars(
            select(Objection)
            .join(Ceremony, Ceremony.id == Objection.ceremony_id)
            .where(Ceremony.lot_id.in_(lots), Objection.org_id == org_id)
        )
    ]
    found += [
        rules.PriorObjection(rules.Source.PUBLICITY, o.id, o.created_at, o.answered_at)
        for o in session.scalars(
            select(PublicityObjection)
            .join(Evaluation, Evaluation.id == PublicityObjection.evaluation_id)
            .where(Evaluation.lot_id.in_(lots), PublicityObjection.org_id == org_id)
        )
    ]
    return found


def _lot_named(tender: Tender, data: ComplaintIn) -> Lot | None:
    if data.lot is None:
        if data.matter in ("opening", "evaluation_result"):
            raise InvalidInput("对开标或评标结果投诉须写明标段", fields={"lot": "必填"})
        return None
    lot = next((x for x in tender.lots if x.number == data.lot), None)
    if lot is None:
        raise InvalidInput(f"项目 {tender.code} 没有第{data.lot}标段", fields={"lot": "不存在"})
    return lot


def file_complaint(
    session: Session,
    services: Services,
    trust: TrustStore,
    user: User,
    data: ComplaintIn,
    evidence: list[IO[bytes]],
) -> Complaint:
    """投诉: a bidder (or other interested party) files a complaint, signed with its registered
    certificate over ``signing.statements.complaint_statement``, with its evidence files (bounded;
    each stored by SM3 and matched to the signed list)."""
    if not has(user, Permission.COMPLAINT_FILE) or user.organisation is None:
        raise Forbidden("只有投标人（利害关系人）可以投诉")
    tender = get_tender(session, data.tender)
    if not tender.is_public:
        raise NotFound(f"招标项目 {data.tender} 不存在")
    ensure_current(session, tender)
    lot = _lot_named(tender, data)
    kind = rules.kind_of(tender.category)
    if data.kind is not kind:
        raise InvalidInput(f"本项目的投诉适用“{kind.label}”", fields={"kind": kind.value})
    if len(evidence) != len(data.evidence) or len(evidence) > COMPLAINT_MAX_FILES:
        raise InvalidInput(
            f"上传的证明材料应与投诉书所列一一对应（至多 {COMPLAINT_MAX_FILES} 个）",
            code="evidence_mismatch",
            fields={"evidence": f"列出 {len(data.evidence)} 个，上传 {len(evidence)} 个"},
        )
    if sum(e.size for e in data.evidence) > COMPLAINT_MAX_TOTAL_BYTES:
        raise InvalidInput("证明材料合计不得超过 50 MiB", code="evidence_too_large", fields={"evidence": "过大"})
    org = user.organisation
    if session.scalar(select(Interest.id).where(Interest.tender_id == tender.id, Interest.org_id == org.id)) is None:
        raise Forbidden("贵单位未报名本项目，不是本项目的投标人或利害关系人", code="not_an_interested_party")
    cert = registered_signing_cert(session, user, trust)
    statement = complaint_statement(
        tender_code=tender.code,
        lot_number=data.lot,
        complainant=org.credit_code,
        kind=kind.value,
        matter=data.matter,
        grounds=data.grounds,
        requests=data.requests,
        evidence=[e.model_dump() for e in data.evidence],
    )
    check_signature(cert, statement, data.signature, "投诉书")
    now = clock.now()
    objection = rules.prior_objection(
        kind, data.matter, prior_objections(session, org.id, tender, lot), now, overrides(session)
    )
    open_one = session.scalar(
        select(Complaint.id).where(
            Complaint.complainant_org_id == org.id,
            Complaint.tender_id == tender.id,
            Complaint.lot_id.is_(None) if lot is None else Complaint.lot_id == lot.id,
            Complaint.matter == data.matter,
            Complaint.state.in_([ComplaintState.FILED, ComplaintState.ACCEPTED]),
        )
    )
    if open_one is not None:
        raise Conflict("贵单位就同一事项已有处理中的投诉", code="complaint_open")
    c = Complaint(
        number=f"pending-{secrets.token_hex(8)}",
        kind=kind,
        matter=data.matter,
        tender_id=tender.id,
        lot_id=lot.id if lot else None,
        complainant_org_id=org.id,
        complainant_user_id=user.id,
        objection_ref=objection.ref if objection else None,
        grounds=data.grounds,
        requests=data.requests,
        statement=_signed_json(statement, data.signature, cert.fingerprint),
        state=ComplaintState.FILED,
        filed_at=now,
    )
    session.add(c)
    session.flush()
    c.number = f"TS-{clock.local(now).year}-{c.id:06d}"
    actor = complainant_actor(user, tender, now)
    stored = _store_evidence(session, services, actor, c, data, evidence, now)
    issue_document(
        session,
        services,
        actor,
        c,
        "complaint",
        [("投诉事项、事实依据和法律依据", c.grounds), ("投诉请求", c.requests), ("证明材料", _listing(stored))]
        + ([("先行异议（质疑）", f"{objection.source.label}（{objection.ref}）")] if objection else []),
        now,
        extra={"statement_sm3": sm3_hex(statement)},
    )
    record_event(
        session,
        actor,
        "complaint.file",
        c,
        {
            "kind": kind.value,
            "matter": c.matter,
            "lot": c.lot_id,
            "tender": tender.code,
            "number": c.number,
            "statement_sm3": sm3_hex(statement),
            "objection": c.objection_ref,
            "evidence": [f.sm3 for f in stored],
        },
    )
    notifications.notify_orgs(
        session, tender, [org.id], f"贵单位的投诉 {c.number} 已提交，行政监督部门将审查是否受理。"
    )
    return c


def _signed_json(statement: bytes, signature: str, cert_sm3: str) -> str:
    return canonical_json(
        {"statement": statement.decode(), "signature": signature, "signer_cert_sm3": cert_sm3}
    ).decode()


def _listing(files: list[ComplaintFile]) -> str:
    return "\n".join(f"{f.name}（{f.size} 字节，SM3 {f.sm3}）" for f in files) or "（无）"


def _store_evidence(
    session: Session,
    services: Services,
    actor: Actor,
    c: Complaint,
    data: ComplaintIn,
    evidence: list[IO[bytes]],
    now: dt.datetime,
) -> list[ComplaintFile]:
    declared = {(e.sm3, e.size): e.name for e in data.evidence}
    rows: list[ComplaintFile] = []
    for src in evidence:
        try:
            obj = services.store.put_stream(src, max_size=COMPLAINT_MAX_FILE_BYTES)
        except ObjectTooLarge:
            raise InvalidInput(
                "每个证明材料不得超过 20 MiB", code="evidence_too_large", fields={"evidence": "过大"}
            ) from None
        name = declared.pop((obj.sm3, obj.size), None)
        if name is None:  # the bytes stay in the content-addressed store, unreferenced
            raise InvalidInput(
                "上传的证明材料与签名的投诉书所列文件（SM3 和大小）不符",
                code="evidence_mismatch",
                fields={"evidence": f"SM3 {obj.sm3[:16]}… 未列出"},
            )
        f = ComplaintFile(
            complaint_id=c.id,
            kind="evidence",
            name=name,
            object_key=obj.key,
            sm3=obj.sm3,
            size=obj.size,
            org_id=c.complainant_org_id,
            created_at=now,
        )
        session.add(f)
        session.flush()
        record_event(session, actor, "complaint.evidence", f, {"complaint": c.id, "sm3": obj.sm3, "size": obj.size})
        rows.append(f)
    return rows
