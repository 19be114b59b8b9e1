"""Tender documents, bidder registration and downloads, and questions (答疑).

Who registered or downloaded is secret until the opening (招标投标法第二十二条): the rows are
only ever read back for the bidder itself (and for notifications), and their audit events are
sealed (``trading.tenders.sealed``): a fresh commitment per event, nothing that names the tender
or repeats across a bidder's events, opened after the deadline. Downloads by the tenderee, its
agency, staff and supervisors are ordinary events naming the reader and the document's SM3.
"""

from __future__ import annotations

import base64
import re
import secrets
from contextlib import AbstractContextManager
from typing import IO, Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import record_event
from archive.objectstore import ObjectStore
from signing.certs import TrustStore
from signing.digest import sm3_hex
from signing.statements import tender_document_statement
from trading.accounts.models import Role, User
from trading.accounts.permissions import Permission, has
from trading.accounts.regions import region_name
from trading.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from trading.core.platform_keys import PlatformKeys
from trading.core.schemas import checked_text, file_name
from trading.credit import checks
from trading.credit.models import CheckPurpose, CreditCheck, SubjectKind
from trading.credit.rules import Scope, category_label, region_label
from trading.pki.operations import check_signature, registered_signing_cert
from trading.tenders import notifications
from trading.tenders.models import (
    Announcement,
    AnnouncementKind,
    AnnouncementState,
    DocumentDownload,
    Interest,
    Question,
    Tender,
    TenderDocument,
    TenderState,
)
from trading.tenders.operations import ensure_current
from trading.tenders.sealed import record_sealed

MAX_DOCUMENT_BYTES = 200 * 1024 * 1024


# ---------------------------------------------------------------- documents
def upload_document(
    session: Session,
    store: ObjectStore,
    trust: TrustStore,
    user: User,
    tender: Tender,
    name: str,
    src: IO[bytes],
    signature_b64: str,
    amendment: Announcement | None = None,
) -> TenderDocument:
    if not tender.can_manage(user):
        raise Forbidden("只有本项目的招标人或其代理机构可以上传招标文件")
    name = file_name(name)
    if amendment is None:
        if tender.status is not TenderState.DRAFT:
            raise Conflict("项目发布后只能随变更公告补充招标文件", code="wrong_state")
    elif (
        amendment.tender_id != tender.id
        or amendment.kind is not AnnouncementKind.AMENDMENT
        or amendment.status is not AnnouncementState.SUBMITTED
    ):
        raise InvalidInput("只能附在本项目待审核的变更公告上", fields={"announcement_id": "无效"})
    cert = registered_signing_cert(session, user, trust)
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except ValueError:
        raise InvalidInput("签名不是有效的 base64", fields={"signature": "格式错误"}) from None
    obj = store.put_stream(src, max_size=MAX_DOCUMENT_BYTES)
    # A refused signature leaves the bytes in the content-addressed store (harmless, unreferenced).
    check_signature(cert, tender_document_statement(tender.code, name, obj.sm3, obj.size), signature_b64, "招标文件")
    doc = TenderDocument(
        tender_id=tender.id,
        announcement_id=amendment.id if amendment else None,
        name=name,
        object_key=obj.key,
        sm3=obj.sm3,
        size=obj.size,
        signature=base64.b64encode(signature).decode(),
        signer_cert_sm3=cert.fingerprint,
        uploaded_by_user_id=user.id,
        uploaded_at=clock.now(),
    )
    session.add(doc)
    session.flush()
    record_event(
        session,
        user,
        "tender_document.upload",
        doc,
        {"tender": tender.code, "name": name, "sm3": obj.sm3, "size": obj.size},
    )
    return doc


def current_documents(session: Session, tender: Tender, *, include_pending: bool = True) -> list[TenderDocument]:
    """The tender's documents; pending amendment documents only for those who may see drafts."""
    q = select(TenderDocument).where(TenderDocument.tender_id == tender.id).order_by(TenderDocument.id)
    docs = list(session.scalars(q))
    if include_pending:
        return docs
    published = {a.id for a in tender.announcements if a.status is AnnouncementState.PUBLISHED}
    return [d for d in docs if d.announcement_id is None or d.announcement_id in published]


# ---------------------------------------------------------------- registration and download
def get_interest(session: Session, tender: Tender, user: User) -> Interest | None:
    if user.organisation_id is None:
        return None
    return session.scalar(
        select(Interest).where(Interest.tender_id == tender.id, Interest.org_id == user.organisation_id)
    )


PHONE = re.compile(r"^[0-9+\-]{0,20}$", re.ASCII)


class CreditBarred(Conflict):
    """报名 refused: the bidder is on a list that bars it here; the body names each entry."""

    code = "credit_barred"

    def __init__(self, message: str, entries: list[dict[str, Any]], check: CreditCheck) -> None:
        super().__init__(message)
        self.entries, self.statement, self.statement_sm3 = entries, check.statement, check.statement_sm3

    def to_json(self) -> dict[str, Any]:
        # the signed snapshot itself, not the check's id: ids are one sequence across the platform,
        # and two of them would tell a bidder how many others registered in between
        body = super().to_json()
        body["error"] |= {
            "entries": self.entries,
            "credit_check_sm3": self.statement_sm3,
            "credit_statement": self.statement,
        }
        return body


def entry_text(e: dict[str, Any]) -> str:
    """One signed entry as the refused bidder reads it: the list, the authority and its document,
    the period and the scope."""
    until = e["ends_on"] or "长期"
    # entries signed before the labels were part of the entry carry only the codes
    scope = e.get("region_label") or region_label(e["region"], region_name)
    category = e.get("category_label") or category_label(e["category"])
    return (
        f"“{e['list_label']}”（{e['measure_label']}）：{e['authority']} {e['document_no']}，"
        f"{e['starts_on']} 至 {until}，范围：{scope}、{category}"
    )


def contact_fields(name: str, phone: str) -> tuple[str, str]:
    """The registration's optional contact (报名联系人), bounded: a name of at most 50 characters, a
    phone of digits, ``+`` and ``-`` (at most 20)."""
    name, phone = (name or "").strip(), (phone or "").strip()
    if len(name) > 50:
        raise InvalidInput("联系人姓名不超过 50 字", fields={"contact_name": "不超过 50 字"})
    if not PHONE.match(phone):
        raise InvalidInput("联系电话只能包含数字、+ 和 -，不超过 20 位", fields={"contact_phone": "格式不正确"})
    return checked_text(name, "contact_name", lines=False), phone


def registration_check(session: Session, keys: PlatformKeys, user: User, tender: Tender) -> CreditCheck:
    """The signed credit check of 报名: the bidder's organisation, the tender's region and category,
    today (Beijing)."""
    org = user.organisation
    assert org is not None
    now = clock.now()
    return checks.check(
        session,
        keys,
        checks.Subject(SubjectKind.ORGANISATION, org.credit_code, org.name),
        Scope(region=tender.region, category=tender.category.value, on=clock.local(now).date()),
        purpose=CheckPurpose.REGISTRATION,
        tender_code=tender.code,
        lot_number=None,
        now=now,
    )


def refused_today(session: Session, tender: Tender, credit_code: str) -> CreditCheck | None:
    """Today's refusal of this organisation for this tender, if the register still bars it on the
    same entries: a retry is answered with it, so that retrying writes no snapshot and no event."""
    now = clock.now()
    prior = session.scalar(
        select(CreditCheck)
        .where(
            CreditCheck.purpose == CheckPurpose.REGISTRATION,
            CreditCheck.tender_code == tender.code,
            CreditCheck.subject_id == credit_code,
            CreditCheck.barred.is_(True),
            CreditCheck.on == clock.local(now).date(),
        )
        .order_by(CreditCheck.id.desc())
        .limit(1)
    )
    if prior is None:
        return None
    scope = Scope(region=tender.region, category=tender.category.value, on=prior.on)
    subject = checks.Subject(SubjectKind.ORGANISATION, credit_code, "")
    still = sorted(e.id for e in checks.applying(session, subject, scope, now))
    return prior if still == sorted(int(e["id"]) for e in prior.found) else None


def register_interest(
    session: Session,
    user: User,
    tender: Tender,
    *,
    kek: bytes,
    keys: PlatformKeys,
    contact_name: str = "",
    contact_phone: str = "",
) -> Interest:
    """报名: a bidder registers for a published tender before the deadline (idempotent), after a
    signed credit check. A barred bidder is refused with the entries named; the refused attempt's
    check and its sealed event ``interest.refused`` are committed before the refusal is raised (the
    evidence of the refusal outlives the failed request). The check is the request's first write,
    so that commit carries nothing else; like the registration itself it is recorded sealed only:
    before the deadline nobody learns who tried to register."""
    if Role.BIDDER not in user.roles or user.organisation is None:
        raise Forbidden("只有投标人可以报名")
    contact_name, contact_phone = contact_fields(contact_name, contact_phone)
    ensure_current(session, tender)
    if tender.status is not TenderState.PUBLISHED:
        raise Conflict("项目不在招标中，不能报名", code="wrong_state")
    existing = get_interest(session, tender, user)
    if existing is not None:
        return existing
    org = user.organisation
    prior = refused_today(session, tender, org.credit_code)
    check = prior or registration_check(session, keys, user, tender)
    sealed_facts = {"credit_check": check.id, "credit_sm3": check.statement_sm3}
    if check.barred:
        if prior is None:  # a refusal made afresh (a retry of the same one writes nothing more)
            record_sealed(session, kek, tender, org.credit_code, "interest.refused", {**sealed_facts, "user": user.id})
            session.commit()
        barring = [e for e in check.found if e["measure"] == "bar_bidding"]
        raise CreditBarred(
            "贵单位存在限制参与投标的信用记录，不能报名本项目："
            + "；".join(entry_text(e) for e in barring)
            + "。如对信用记录有异议，请向作出决定的机关申请更正或撤销；撤销后可重新报名。",
            barring,
            check,
        )
    nonce = secrets.token_hex(16)
    commitment = sm3_hex(f"{tender.code}:{org.credit_code}:{nonce}".encode())
    interest = Interest(
        tender_id=tender.id,
        org_id=org.id,
        nonce=nonce,
        commitment=commitment,
        created_at=clock.now(),
        contact_name=contact_name,
        contact_phone=contact_phone,
        credit_check_id=check.id,
    )
    session.add(interest)
    session.flush()
    record_sealed(session, kek, tender, org.credit_code, "interest.register", {"interest": interest.id, **sealed_facts})
    return interest


def credit_finding(session: Session, interest: Interest) -> CreditCheck | None:
    """The registration's check, for the bidder's own page (a notice it registered with)."""
    return session.get(CreditCheck, interest.credit_check_id) if interest.credit_check_id else None


def registration_json(session: Session, interest: Interest | None) -> dict[str, Any]:
    """Whether the caller's organisation registered, and what its check said (its SM3, not its id)."""
    check = credit_finding(session, interest) if interest is not None else None
    result = None if check is None else checks.result_of(check)
    return {
        "registered": interest is not None,
        "credit_check_sm3": check.statement_sm3 if check else None,
        "credit_result": result,
    }


def open_document(
    session: Session, store: ObjectStore, user: User, tender: Tender, document_id: int, *, kek: bytes
) -> tuple[TenderDocument, AbstractContextManager[BinaryIO]]:
    """A registered bidder downloads a document (recorded, sealed); managers and staff may too
    (recorded openly: who, in which role, which document and its SM3)."""
    doc = session.get(TenderDocument, document_id)
    if doc is None or doc.tender_id != tender.id:
        raise NotFound("招标文件不存在")
    role = open_reader(tender, user)
    if role is not None:
        record_event(
            session,
            user,
            "tender_document.read",
            doc,
            {"tender": tender.code, "name": doc.name, "sm3": doc.sm3, "size": doc.size, "as": role},
        )
        return doc, store.open(doc.object_key)
    if Role.BIDDER not in user.roles:
        raise Forbidden("没有权限下载招标文件")
    if doc not in current_documents(session, tender, include_pending=False) or not tender.is_public:
        raise NotFound("招标文件不存在")
    interest = get_interest(session, tender, user)
    if interest is None:
        raise Forbidden("请先报名后再下载招标文件", code="not_registered")
    assert user.organisation is not None
    session.add(DocumentDownload(document_id=doc.id, interest_id=interest.id, user_id=user.id, at=clock.now()))
    session.flush()
    facts = {"document": doc.id, "sm3": doc.sm3, "user": user.id}
    record_sealed(session, kek, tender, user.organisation.credit_code, "tender_document.download", facts)
    return doc, store.open(doc.object_key)


def open_reader(tender: Tender, user: User) -> str | None:
    """In which role ``user`` reads ``tender``'s documents openly (``manager``, ``staff`` or
    ``supervisor``: an ordinary event naming the reader), or None: a bidder, whose reads are
    sealed until the deadline (招标投标法第二十二条)."""
    if tender.can_manage(user):
        return "manager"
    if Role.STAFF in user.roles:
        return "staff"
    if Role.SUPERVISOR in user.roles:
        return "supervisor"
    return None


def record_damaged_read(
    session: Session, user: User, tender: Tender, doc: TenderDocument, served_sm3: str, served_size: int, *, kek: bytes
) -> None:
    """The bytes streamed for a download of ``doc`` did not hash to the SM3 its read event names
    (the stored object is damaged; the transfer was broken off). Recorded in a transaction of its
    own, as ``tender_document.read_damaged`` with what was expected and what was read: openly,
    naming the reader, for the platform side; sealed for a bidder, like its download, so that
    before the deadline the trail shows only that some sealed download was damaged, never the
    bidder, the tender or the document (those open with the other sealed events)."""
    facts = {"document": doc.id, "expected_sm3": doc.sm3, "served_sm3": served_sm3, "size": served_size}
    role = open_reader(tender, user)
    if role is not None:
        record_event(session, user, "tender_document.read_damaged", doc, {"tender": tender.code, "as": role, **facts})
        return
    assert user.organisation is not None
    record_sealed(
        session, kek, tender, user.organisation.credit_code, "tender_document.read_damaged", facts | {"user": user.id}
    )


# ---------------------------------------------------------------- questions (答疑)
def ask_question(session: Session, user: User, tender: Tender, text: str, *, kek: bytes) -> Question:
    text = text.strip()
    if not 5 <= len(text) <= 2000:
        raise InvalidInput("问题应为 5–2000 个字", fields={"text": "长度不符"})
    text = checked_text(text, "text")  # the page's form reaches here without the API's schema
    ensure_current(session, tender)
    if tender.status is not TenderState.PUBLISHED:
        raise Conflict("投标截止后不能再提问", code="wrong_state")
    interest = get_interest(session, tender, user)
    if interest is None or Role.BIDDER not in user.roles:
        raise Forbidden("请先报名后再提问", code="not_registered")
    q = Question(tender_id=tender.id, interest_id=interest.id, text=text, asked_at=clock.now())
    session.add(q)
    session.flush()
    assert user.organisation is not None
    facts = {"question": q.id, "text_sm3": sm3_hex(text.encode()), "user": user.id}
    record_sealed(session, kek, tender, user.organisation.credit_code, "question.ask", facts)
    return q


def answer_question(session: Session, user: User, tender: Tender, question_id: int, answer: str) -> Question:
    if not tender.can_manage(user):
        raise Forbidden("只有本项目的招标人或其代理机构可以答疑")
    q = session.get(Question, question_id)
    if q is None or q.tender_id != tender.id:
        raise NotFound("问题不存在")
    if q.answer is not None:
        raise Conflict("该问题已答复")
    answer = answer.strip()
    if not 2 <= len(answer) <= 10_000:
        raise InvalidInput("答复应为 2–10000 个字", fields={"answer": "长度不符"})
    answer = checked_text(answer, "answer")
    q.answer, q.answered_at, q.answered_by_user_id = answer, clock.now(), user.id
    session.flush()
    record_event(session, user, "question.answer", q, {"tender": tender.code, "question": q.text, "answer": answer})
    notifications.notify_interested(session, tender, f"《{tender.title}》发布了新的答疑，请在项目页查看。")
    return q


def questions_for(session: Session, tender: Tender, user: User | None) -> list[Question]:
    """Managers and staff: every question (never who asked). Registered bidders: answered ones and their own."""
    qs = list(session.scalars(select(Question).where(Question.tender_id == tender.id).order_by(Question.id)))
    if user is not None and (tender.can_manage(user) or has(user, Permission.TENDER_READ_ALL)):
        return qs
    interest = get_interest(session, tender, user) if user is not None else None
    if interest is None:
        return []
    return [q for q in qs if q.answer is not None or q.interest_id == interest.id]


def unanswered(session: Session) -> list[Question]:
    """Staff's blocking items: open questions on tenders still taking bids."""
    q = (
        select(Question)
        .join(Tender, Tender.id == Question.tender_id)
        .where(Question.answer.is_(None), Tender.status == TenderState.PUBLISHED)
        .order_by(Question.asked_at)
    )
    return list(session.scalars(q))
