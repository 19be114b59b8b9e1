"""A complaint's files: the supervising department's signed documents (受理通知书、不予受理通知书、暂停通知、
恢复通知、提请说明通知、处理决定书), the records of the complaint and of each party's statement, and the
complainant's evidence; and who may read which.

Each document is a PDF (every user string escaped by ``trading.core.pdf``) stored by SM3, with the
platform's signed statement ``complaint_document`` over ``{complaint, step, tender, lot, pdf_sm3,
issued_at, …}``, so it verifies offline with the platform certificate alone.

Secrecy (招标投标法第二十二条): before the bid deadline a complaint reveals that its complainant
means to bid, so nobody but the complainant and the supervising department (and staff, who read
every complaint) learns who it is: documents issued before the deadline do not name it, and the
complaint itself and its evidence are shown to the asked parties only after the deadline. Other
bidders and the public see nothing of a complaint.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from archive.audit import Actor, record_event
from archive.clock import local
from signing.digest import sm3_hex
from signing.statements import sign_statement
from trading.accounts.models import Organisation, User
from trading.accounts.permissions import Permission, has
from trading.core import pdf
from trading.core.services import Services
from trading.supervision.complaint_rules import MATTERS
from trading.supervision.models import Complaint, ComplaintFile, ComplaintState, StatementRequest
from trading.tenders.models import Lot, Tender

#: what each file kind is called (``ComplaintFile.kind``)
FILE_KINDS: dict[str, str] = {
    "complaint": "投诉书（平台签收）",
    "evidence": "证明材料",
    "acceptance": "受理通知书",
    "refusal": "不予受理通知书",
    "suspension": "暂停招标投标（采购）活动通知",
    "resumption": "恢复招标投标（采购）活动通知",
    "request": "提请说明通知",
    "statement": "当事人说明（平台签收）",
    "decision": "投诉处理决定书",
    "withdrawal": "撤回投诉记录",
}
#: the documents every reader of a complaint sees; the rest by addressee or role
COMMON_KINDS = frozenset({"acceptance", "suspension", "resumption", "decision", "withdrawal"})
HIDDEN_NAME = "（投标截止前不公开投诉人名称）"
STATEMENT_TYPE = "complaint_document"


def complainant_shown(session: Session, c: Complaint, tender: Tender, now: dt.datetime) -> str:
    """The complainant as a document issued ``now`` names it: hidden before the deadline."""
    if not tender.deadline_passed(now):
        return HIDDEN_NAME
    org = session.get(Organisation, c.complainant_org_id)
    return f"{org.name}（统一社会信用代码 {org.credit_code}）" if org else ""


def render_pdf(title: str, facts: list[tuple[str, str]], sections: list[tuple[str, str]]) -> bytes:
    """A complaint document: its title, a table of facts, then headed sections of plain text."""
    body, heading = pdf.styles()
    story: list[Flowable] = [pdf.para(title, heading), Spacer(1, 6 * mm), pdf.table(facts, body, (40, 130))]
    for head, text in sections:
        story += [Spacer(1, 4 * mm), pdf.para(f"【{head}】", body), pdf.para(text, body)]
    story += [
        Spacer(1, 6 * mm),
        pdf.para("本文书由公共资源交易平台生成并以平台 SM2 密钥签名，可凭签名文件离线核验。", body),
    ]
    return pdf.build(title, 18, story)


def issue_document(
    session: Session,
    services: Services,
    actor: Actor,
    c: Complaint,
    step: str,
    sections: list[tuple[str, str]],
    now: dt.datetime,
    *,
    org_id: int | None = None,
    extra: dict[str, Any] | None = None,
) -> ComplaintFile:
    """Render, store and sign the document of ``step``; its file row and ``complaint.document`` event."""
    tender = session.get(Tender, c.tender_id)
    assert tender is not None
    lot = session.get(Lot, c.lot_id) if c.lot_id else None
    facts = [
        ("文书", FILE_KINDS[step]),
        ("投诉编号", c.number),
        ("项目", f"{tender.title}（{tender.code}）"),
        ("标段", f"第{lot.number}标段 {lot.name}" if lot else "全部标段（整个项目）"),
        ("投诉类别", c.kind.label),
        ("投诉事项", MATTERS.get(c.matter, c.matter)),
        ("投诉人", complainant_shown(session, c, tender, now)),
        ("签发时间", f"{local(now):%Y-%m-%d %H:%M:%S}（北京时间）"),
    ]
    if org_id is not None:
        org = session.get(Organisation, org_id)
        facts.append(("送达", org.name if org else ""))
    data = render_pdf(FILE_KINDS[step], facts, sections)
    stored = services.store.put_bytes(data)
    body = {
        "complaint": c.number,
        "step": step,
        "tender": tender.code,
        "lot": lot.number if lot else None,
        "pdf_sm3": stored.sm3,
        "issued_at": now.isoformat(),
        **(extra or {}),
    }
    st = sign_statement(STATEMENT_TYPE, body, key=services.keys.sign_key, cert=services.keys.sign_cert, now=now)
    f = ComplaintFile(
        complaint_id=c.id,
        kind=step,
        name=f"{c.number}-{step}.pdf",
        object_key=stored.key,
        sm3=stored.sm3,
        size=stored.size,
        signature=st.to_json().decode(),
        org_id=org_id,
        created_at=now,
    )
    session.add(f)
    session.flush()
    record_event(
        session,
        actor,
        "complaint.document",
        f,
        {"complaint": c.id, "step": step, "sm3": stored.sm3, "statement_sm3": sm3_hex(st.statement)},
    )
    return f


# ---------------------------------------------------------------- who reads what
def reader_role(session: Session, user: User | None, c: Complaint) -> str | None:
    """``handler`` (the department and staff: SUPERVISION_READ), ``complainant`` (its organisation),
    ``party`` (an organisation asked for a statement), or None: it sees nothing of the complaint."""
    if user is None:
        return None
    if has(user, Permission.SUPERVISION_READ):
        return "handler"
    if user.organisation_id is None:
        return None
    if user.organisation_id == c.complainant_org_id:
        return "complainant"
    asked = session.scalar(
        select(StatementRequest.id).where(
            StatementRequest.complaint_id == c.id, StatementRequest.org_id == user.organisation_id
        )
    )
    return "party" if asked is not None else None


def file_readable(role: str, user: User, f: ComplaintFile, tender: Tender, now: dt.datetime) -> bool:
    """The handler reads every file; the complainant its complaint, evidence and the common notices,
    and of the requests and statements only those addressed to it (as the JSON lists them); a party
    its own requests and statements, the common notices, and the complaint and its evidence once
    the deadline has passed."""
    if role == "handler":
        return True
    if f.kind in ("request", "statement"):
        return f.org_id == user.organisation_id
    if role == "complainant" or f.kind in COMMON_KINDS:
        return True
    if f.kind in ("request", "statement"):
        return f.org_id == user.organisation_id
    return f.kind in ("complaint", "evidence") and tender.deadline_passed(now)


def complaints_for(session: Session, user: User, state: ComplaintState | None = None) -> list[Complaint]:
    """The complaints ``user`` may read: every one for the department and staff (by ``state``), else
    its organisation's own and those it was asked about."""
    q = select(Complaint).order_by(Complaint.id.desc()).limit(500)
    if state is not None:
        q = q.where(Complaint.state == state)
    if not has(user, Permission.SUPERVISION_READ):
        if user.organisation_id is None:
            return []
        asked = select(StatementRequest.complaint_id).where(StatementRequest.org_id == user.organisation_id)
        q = q.where(or_(Complaint.complainant_org_id == user.organisation_id, Complaint.id.in_(asked)))
    return list(session.scalars(q))


def requests_for(session: Session, user: User) -> list[StatementRequest]:
    """The statement requests addressed to ``user``'s organisation, newest first."""
    if user.organisation_id is None:
        return []
    q = select(StatementRequest).where(StatementRequest.org_id == user.organisation_id)
    return list(session.scalars(q.order_by(StatementRequest.id.desc()).limit(500)))


# ---------------------------------------------------------------- for the archive package
def complaints_of_lot(session: Session, lot_id: int) -> list[Complaint]:
    """The complaints about a lot: its own and those about its whole tender (no lot named)."""
    lot = session.get(Lot, lot_id)
    if lot is None:
        return []
    q = select(Complaint).where(
        or_(Complaint.lot_id == lot_id, (Complaint.lot_id.is_(None)) & (Complaint.tender_id == lot.tender_id))
    )
    return list(session.scalars(q.order_by(Complaint.id)))


def complaint_files(session: Session, complaint_id: int) -> list[ComplaintFile]:
    q = select(ComplaintFile).where(ComplaintFile.complaint_id == complaint_id).order_by(ComplaintFile.id)
    return list(session.scalars(q))


def statement_requests(session: Session, complaint_id: int) -> list[StatementRequest]:
    q = select(StatementRequest).where(StatementRequest.complaint_id == complaint_id).order_by(StatementRequest.id)
    return list(session.scalars(q))


def complaint_refs(session: Session, lot_id: int) -> list[tuple[str, str]]:
    """The audit objects of a lot's complaints, their files and statement requests (archive package)."""
    refs: list[tuple[str, str]] = []
    for c in complaints_of_lot(session, lot_id):
        refs.append(c.audit_ref)
        refs += [f.audit_ref for f in complaint_files(session, c.id)]
        refs += [r.audit_ref for r in statement_requests(session, c.id)]
    return refs
