"""The national records (全国公共资源交易平台系统数据规范, the Fujian platform's V4 tables) built from
the audit events: each record comes from one event, with the document the event names by its SM3
where the values live there (the published announcement, the final opening record), and the list
of its fields that a receiver can check against that event, payload or document (``bindings``).

Only the events listed in ``SOURCES`` make records, and none of them exists before the bids are
opened except the publication of the tender: nothing sealed (who bid, at what price) can be
reported early. The experts' scores wait for the lot's end (their names are secret until then). ``docs/exchange.md`` maps every field; this module is the rule.

This is the exchange's own reader of a tender's events (trading/opendata reads the same events for
OCDS with its own code; the two stages are independent).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import AuditEvent
from archive.objectstore import ObjectStore
from archive.objectstore.base import key_for
from signing.canonical import canonical_json
from signing.digest import sm3_hex
from trading.accounts.models import Organisation, User
from trading.evaluation.models import Evaluation, Expert, PublicityObjection, ScoreSheet
from trading.opening.models import Ceremony, CeremonyBidder, Objection
from trading.tenders.models import Announcement, AnnouncementKind, Lot, Tender

#: the audit actions that make national records (every other event makes none)
SOURCES = (
    "tender.publish",
    "announcement.publish",
    "ceremony.record",
    "lot.award",
    "lot.fail",
    "lot.terminate",
    "ceremony.objection",
    "evaluation.objection",
    "ceremony.objection_answer",
    "evaluation.objection_answer",
)
#: 统一社会信用代码 as the code type of the national tables' *_CODE_TYPE fields
CREDIT_CODE_TYPE = "97"
CURRENCY, PRICE_UNIT = "CNY", "元"


#: fields no receiver can prove: codes built from the tender number and lot number (the number itself
#: is bound where the table has an attached document), the platform's code, and fixed values
IDENTITY = frozenset({"DATA_KEY", "TENDER_PROJECT_CODE", "BID_SECTION_CODE", "UNIFIED_DEAL_CODE", "PLATFORM_CODE"})
FIXED = frozenset(
    {"BIDDER_CODE_TYPE", "TENDERER_CODE_TYPE", "CREATOR_TYPE", "CREATOR_ROLE", "PRICE_UNIT", "BID_CURRENCY", "TYPE"}
)
#: the fields signed by the platform but not proven by the log: the source event, its payload and
#: document do not hold them (docs/exchange.md says why, table by table). A receiver takes them on
#: the platform's signature alone. Every other field is bound, in IDENTITY or in FIXED.
NOT_PROVEN: dict[str, frozenset[str]] = {
    "TENDER_PROJECT": frozenset(
        {
            "TENDER_PROJECT_NAME",
            "TENDER_PROJECT_TYPE",
            "REGION_CODE",
            "TENDER_CONTENT",
            "TENDERER_NAME",
            "TENDERER_CODE",
            "TENDER_AGENCY_NAME",
            "TENDER_AGENCY_CODE",
            "TENDER_MODE",
            "CREATE_TIME",
        }
    ),
    "BID_SECTION": frozenset(
        {"BID_SECTION_NAME", "CONTRACT_RECKON_PRICE", "MARGIN_AMOUNT", "CURRENCY_CODE", "REGION_CODE"}
    ),
    "TENDER_BULLETIN": frozenset({"URL"}),
    "WIN_CANDIDATE_BULLETIN": frozenset({"URL"}),
    "BID_OPEN_DETAIL": frozenset({"CURRENCY_CODE"}),
    "EVALUATION_SCORE_DETAIL": frozenset({"BIDDER_NAME", "BIDDER_ORG_CODE", "EXPERT_NAME", "EVALUATION_ROUND"}),
    "WIN_BID_BULLETIN": frozenset({"WIN_BIDDER_NAME"}),
    # CONTENT and CREATOR_CODE are bound for an opening objection, not for a publicity objection
    "OBJECTION": frozenset({"OBJECTIONG_GUID", "TITTLE", "SUBMIT_TIME", "CREATOR", "CONTENT", "CREATOR_CODE"}),
    "OBJECTION_REPLY": frozenset({"OBJECTIONG_GUID", "REPLY_TIME", "REPLY_CONTENT"}),
}


class SourceMismatch(ValueError):
    """The platform's own document does not match the SM3 its event recorded: never reported."""


@dataclass
class Built:
    """One national record before its envelope: its table, fields, and how a receiver checks them."""

    table: str
    fields: dict[str, Any]
    tender_code: str
    attachment: str | None = None  # canonical JSON of the document the payload names by SM3
    attachment_of: str | None = None  # the payload field holding that SM3
    bindings: dict[str, str] = field(default_factory=dict)  # record field → "event:/…", "payload:/…", "attachment:/…"
    source: AuditEvent | None = None  # its own source event, when not the event being read


# ---------------------------------------------------------------- codes
def project_code(tender_code: str) -> str:
    """TENDER_PROJECT_CODE: the platform's public tender number, unchanged."""
    return tender_code


def section_code(tender_code: str, lot: int) -> str:
    """BID_SECTION_CODE: the tender number followed by the lot number in three digits."""
    return f"{tender_code}{lot:03d}"


def unified_deal_code(platform_code: str, tender_code: str, lot: int | None = None) -> str:
    """UNIFIED_DEAL_CODE (统一交易标识码): the platform code, then the tender number without its
    hyphens, then (for a lot) the lot in three digits. The same tender on the same platform always
    gets the same code; two platforms never share one (their codes differ)."""
    base = f"{platform_code}{tender_code.replace('-', '')}"
    return base if lot is None else f"{base}{lot:03d}"


def money(value: Any) -> str:
    """Yuan with two decimals, never through a float."""
    return f"{Decimal(str(value)):.2f}"


# ---------------------------------------------------------------- the common fields
def _common(platform_code: str, ev: AuditEvent, tender_code: str, lot: int | None, data_key: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "DATA_KEY": data_key,
        "TENDER_PROJECT_CODE": project_code(tender_code),
        "UNIFIED_DEAL_CODE": unified_deal_code(platform_code, tender_code, lot),
        "PLATFORM_CODE": platform_code,
        "DATA_TIMESTAMP": clock.as_utc(ev.at).isoformat(timespec="microseconds"),
    }
    if lot is not None:
        out["BID_SECTION_CODE"] = section_code(tender_code, lot)
    return out


COMMON_BINDINGS = {"DATA_TIMESTAMP": "event:/at"}


def _org(session: Session, org_id: int | None) -> Organisation | None:
    return None if org_id is None else session.get(Organisation, org_id)


def announcement_content(ann: Announcement) -> bytes:
    """The canonical content whose SM3 was recorded when ``ann`` was published
    (``trading.tenders.publishing.seal``), rebuilt from the row."""
    tender = ann.tender
    assert ann.published_at is not None
    content = {
        "tender": tender.code,
        "kind": ann.kind.value,
        "title": ann.title,
        "body": ann.body,
        "published_at": clock.as_utc(ann.published_at).isoformat(),
        "supersedes": ann.supersedes_id,
        "deadline": clock.as_utc(ann.deadline_after or tender.bid_deadline).isoformat(),
    }
    return canonical_json(content)


def _checked(data: bytes, expected: Any, what: str) -> str:
    if sm3_hex(data) != expected:
        raise SourceMismatch(f"{what} 与事件记录的 SM3 不符 (document does not match its event)")
    return data.decode("utf-8")


# ---------------------------------------------------------------- by action
def _bulletin(session: Session, pc: str, ev: AuditEvent, ann: Announcement, table: str) -> Built:
    tender = ann.tender
    payload = json.loads(ev.payload)
    attachment = _checked(announcement_content(ann), payload.get("content_sm3"), "公告内容")
    fields = _common(pc, ev, tender.code, None, f"{tender.code}/announcement/{ann.id}") | {
        "NOTICE_NAME": ann.title,
        "NOTICE_CONTENT": ann.body,
        "BULLETIN_TYPE": ann.kind.value,
        "NOTICE_SEND_TIME": clock.as_utc(ann.published_at or ev.at).isoformat(),
        "URL": f"/announcements/{ann.id}",
    }
    bindings = COMMON_BINDINGS | {
        "TENDER_PROJECT_CODE": "attachment:/tender",
        "NOTICE_NAME": "attachment:/title",
        "NOTICE_CONTENT": "attachment:/body",
        "BULLETIN_TYPE": "attachment:/kind",
        "NOTICE_SEND_TIME": "attachment:/published_at",
    }
    return Built(table, fields, tender.code, attachment, "content_sm3", bindings)


def _tender_published(session: Session, pc: str, ev: AuditEvent) -> list[Built]:
    tender = session.get(Tender, int(ev.object_id))
    payload = json.loads(ev.payload)
    ann = session.get(Announcement, payload.get("announcement"))
    if tender is None or ann is None:
        return []
    notice = _bulletin(session, pc, ev, ann, "TENDER_BULLETIN")
    tenderee, agency = _org(session, tender.tenderee_org_id), _org(session, tender.agency_org_id)
    project = _common(pc, ev, tender.code, None, tender.code) | {
        "TENDER_PROJECT_NAME": tender.title,
        "TENDER_PROJECT_TYPE": tender.category.value,
        "REGION_CODE": tender.region,
        "TENDER_CONTENT": tender.description,
        "TENDERER_NAME": tenderee.name if tenderee else None,
        "TENDERER_CODE_TYPE": CREDIT_CODE_TYPE,
        "TENDERER_CODE": tenderee.credit_code if tenderee else None,
        "TENDER_AGENCY_NAME": agency.name if agency else None,
        "TENDER_AGENCY_CODE": agency.credit_code if agency else None,
        "TENDER_MODE": tender.procedure_code,
        "CREATE_TIME": clock.as_utc(tender.created_at).isoformat(),
    }
    attachment = notice.attachment
    published = json.loads(attachment or "{}")
    out = [
        notice,
        Built(
            "TENDER_PROJECT",
            project,
            tender.code,
            attachment,
            "content_sm3",
            COMMON_BINDINGS | {"TENDER_PROJECT_CODE": "attachment:/tender"},
        ),
    ]
    for lot in tender.lots:
        section = _common(pc, ev, tender.code, lot.number, f"{tender.code}/{lot.number}") | {
            "BID_SECTION_NAME": lot.name,
            "CONTRACT_RECKON_PRICE": money(lot.estimated_price),
            "MARGIN_AMOUNT": money(lot.bond_amount),
            "CURRENCY_CODE": lot.currency or CURRENCY,
            "PRICE_UNIT": PRICE_UNIT,
            "REGION_CODE": lot.region,
            # as published: a later amendment moving the deadline is its own TENDER_BULLETIN
            "BID_OPEN_TIME": published["deadline"],
        }
        bindings = COMMON_BINDINGS | {
            "TENDER_PROJECT_CODE": "attachment:/tender",
            "BID_OPEN_TIME": "attachment:/deadline",
        }
        out.append(Built("BID_SECTION", section, tender.code, attachment, "content_sm3", bindings))
    return out


def _announcement(session: Session, pc: str, ev: AuditEvent) -> list[Built]:
    ann = session.get(Announcement, int(ev.object_id))
    if ann is None or ann.kind is AnnouncementKind.TENDER:
        return []  # the tender's own announcement is reported with its publication
    table = "WIN_CANDIDATE_BULLETIN" if ann.kind is AnnouncementKind.CANDIDATES else "TENDER_BULLETIN"
    return [_bulletin(session, pc, ev, ann, table)]


def _opening_record(session: Session, pc: str, ev: AuditEvent, store: ObjectStore) -> list[Built]:
    payload = json.loads(ev.payload)
    if payload.get("type") != "opening_record_final":
        return []  # the final record (after the bidders confirmed it) is the one reported
    data = store.read_bytes(key_for(str(payload["record_sm3"])))
    attachment = _checked(data, payload["record_sm3"], "开标记录")
    record = json.loads(attachment)
    code, lot = str(record["tender"]), int(record["lot"])
    out = []
    for i, b in enumerate(record.get("bidders", [])):
        sheet = b.get("price_sheet") or {}
        fields = _common(pc, ev, code, lot, f"{code}/{lot}/{b['credit_code']}") | {
            "BIDDER_NAME": b["bidder"],
            "BIDDER_CODE_TYPE": CREDIT_CODE_TYPE,
            "BIDDER_ORG_CODE": b["credit_code"],
            "BID_PRICE": sheet.get("price"),
            "CURRENCY_CODE": CURRENCY,
            "PRICE_UNIT": PRICE_UNIT,
            "OPEN_RESULT": b.get("outcome"),
            "CONTENT": canonical_json(sheet.get("fields") or {}).decode("utf-8"),
            "BID_OPEN_TIME": record.get("opened_at"),
        }
        bindings = COMMON_BINDINGS | {
            "TENDER_PROJECT_CODE": "attachment:/tender",
            "BIDDER_NAME": f"attachment:/bidders/{i}/bidder",
            "BIDDER_ORG_CODE": f"attachment:/bidders/{i}/credit_code",
            "OPEN_RESULT": f"attachment:/bidders/{i}/outcome",
            "BID_OPEN_TIME": "attachment:/opened_at",
        }
        if sheet.get("price") is not None:
            bindings["BID_PRICE"] = f"attachment:/bidders/{i}/price_sheet/price"
        if isinstance(sheet.get("fields"), dict):  # compared as canonical JSON, as the record carries it
            bindings["CONTENT"] = f"attachment:/bidders/{i}/price_sheet/fields"
        out.append(Built("BID_OPEN_DETAIL", fields, code, attachment, "record_sm3", bindings))
    return out


def _lot_and_tender(session: Session, lot_id: int) -> tuple[Lot, Tender] | None:
    lot = session.get(Lot, lot_id)
    return None if lot is None else (lot, lot.tender)


def _scores(session: Session, pc: str, lot: Lot, tender: Tender) -> list[Built]:
    """EVALUATION_SCORE_DETAIL for every score an expert gave in ``lot``'s evaluation, each from its
    own ``evaluation.score`` event. Told only once the lot's result is settled (awarded, failed or
    terminated): the committee's names are secret until then (招标投标法第三十七条), so the scores
    are not reported as they are given."""
    evaluation = session.scalar(select(Evaluation).where(Evaluation.lot_id == lot.id))
    if evaluation is None:
        return []
    sheets = {
        str(sh.id): sh for sh in session.scalars(select(ScoreSheet).where(ScoreSheet.evaluation_id == evaluation.id))
    }
    if not sheets:
        return []
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.action == "evaluation.score",
            AuditEvent.object_type == "evaluation_score",
            AuditEvent.object_id.in_(list(sheets)),
        )
        .order_by(AuditEvent.seq)
    ).all()
    out = []
    for ev in events:
        sheet, payload = sheets[ev.object_id], json.loads(ev.payload)
        bidder = session.get(CeremonyBidder, payload.get("bidder", sheet.bidder_id))
        org = _org(session, bidder.org_id if bidder else None)
        expert = session.get(Expert, sheet.expert_id)
        if org is None:
            continue
        key = f"{tender.code}/{lot.number}/{sheet.round}/{sheet.expert_id}/{org.credit_code}"
        fields = _common(pc, ev, tender.code, lot.number, key) | {
            "BIDDER_NAME": org.name,
            "BIDDER_CODE_TYPE": CREDIT_CODE_TYPE,
            "BIDDER_ORG_CODE": org.credit_code,
            "EXPERT_NAME": expert.name if expert else None,
            "EVALUATION_ROUND": sheet.round,
            "OTHER_POINTS": money(payload.get("declared_total", sheet.declared_total)),
            "OTHER_DETAIL": canonical_json(payload.get("scores", sheet.scores)).decode("utf-8"),
        }
        bindings = COMMON_BINDINGS | {"OTHER_POINTS": "payload:/declared_total", "OTHER_DETAIL": "payload:/scores"}
        out.append(Built("EVALUATION_SCORE_DETAIL", fields, tender.code, bindings=bindings, source=ev))
    return out


def _lot_settled(session: Session, pc: str, ev: AuditEvent) -> list[Built]:
    """A lot's end: its award (WIN_BID_BULLETIN), and for any ending, its evaluation's scores."""
    found = _lot_and_tender(session, int(ev.object_id))
    if found is None:
        return []
    lot, tender = found
    award = _award(session, pc, ev, lot, tender) if ev.action == "lot.award" else []
    return award + _scores(session, pc, lot, tender)


def _award(session: Session, pc: str, ev: AuditEvent, lot: Lot, tender: Tender) -> list[Built]:
    payload = json.loads(ev.payload)
    if payload.get("to") != "awarded":
        return []
    winner = session.scalar(select(Organisation).where(Organisation.credit_code == payload.get("winner")))
    fields = _common(pc, ev, tender.code, lot.number, f"{tender.code}/{lot.number}") | {
        "WIN_BIDDER_NAME": winner.name if winner else None,
        "BIDDER_CODE_TYPE": CREDIT_CODE_TYPE,
        "WIN_BIDDER_CODE": payload.get("winner"),
        "BID_AMOUNT": payload.get("price"),
        "BID_CURRENCY": CURRENCY,
        "PRICE_UNIT": PRICE_UNIT,
        "OTHER_CONTENT": payload.get("reason"),
    }
    bindings = COMMON_BINDINGS | {
        "WIN_BIDDER_CODE": "payload:/winner",
        "BID_AMOUNT": "payload:/price",
        "OTHER_CONTENT": "payload:/reason",  # the lot's move records the reason (null for the first candidate)
    }
    return [Built("WIN_BID_BULLETIN", fields, tender.code, bindings=bindings)]


def _objection_parts(session: Session, ev: AuditEvent) -> tuple[Any, Lot, Tender, str] | None:
    """(objection row, lot, tender, kind) of an objection event or its answer."""
    payload = json.loads(ev.payload)
    if ev.object_type == "ceremony":
        c = session.get(Ceremony, int(ev.object_id))
        opening = session.get(Objection, payload.get("objection"))
        found = _lot_and_tender(session, c.lot_id) if c else None
        return None if opening is None or found is None else (opening, *found, "opening")
    if ev.object_type == "evaluation_objection":
        publicity = session.get(PublicityObjection, int(ev.object_id))
        evaluation = session.get(Evaluation, publicity.evaluation_id) if publicity else None
        found = _lot_and_tender(session, evaluation.lot_id) if evaluation else None
        return None if publicity is None or found is None else (publicity, *found, "publicity")
    return None


OBJECTION_TYPES = {"opening": "开标异议", "publicity": "中标候选人公示异议"}


def _objection(session: Session, pc: str, ev: AuditEvent) -> list[Built]:
    parts = _objection_parts(session, ev)
    if parts is None:
        return []
    o, lot, tender, kind = parts
    org, user = _org(session, o.org_id), session.get(User, o.user_id)
    key = f"{tender.code}/{lot.number}/{kind}/{o.id}"
    fields = _common(pc, ev, tender.code, lot.number, key) | {
        "OBJECTIONG_GUID": key,
        "TITTLE": f"{OBJECTION_TYPES[kind]}（{tender.code} 第{lot.number}标段）",
        "CONTENT": o.text,
        "TYPE": OBJECTION_TYPES[kind],
        "SUBMIT_TIME": clock.as_utc(o.created_at).isoformat(),
        "CREATOR": org.name if org else (user.display_name if user else None),
        "CREATOR_TYPE": CREDIT_CODE_TYPE,
        "CREATOR_ROLE": "bidder",
        "CREATOR_CODE": org.credit_code if org else None,
    }
    bindings = dict(COMMON_BINDINGS)
    if kind == "opening":
        bindings |= {"CONTENT": "payload:/text", "CREATOR_CODE": "payload:/bidder"}
    if ev.action.endswith("_answer"):
        reply = _common(pc, ev, tender.code, lot.number, key) | {
            "OBJECTIONG_GUID": key,
            "REPLY_CONTENT": o.answer,
            "REPLY_TIME": clock.as_utc(o.answered_at).isoformat() if o.answered_at else None,
        }
        answer_bindings = COMMON_BINDINGS | ({"REPLY_CONTENT": "payload:/answer"} if kind == "opening" else {})
        return [Built("OBJECTION_REPLY", reply, tender.code, bindings=answer_bindings)]
    return [Built("OBJECTION", fields, tender.code, bindings=bindings)]


def build(session: Session, ev: AuditEvent, platform_code: str, store: ObjectStore) -> list[Built]:
    """The national records event ``ev`` makes (none for most events)."""
    if ev.action == "tender.publish":
        return _tender_published(session, platform_code, ev)
    if ev.action == "announcement.publish":
        return _announcement(session, platform_code, ev)
    if ev.action == "ceremony.record":
        return _opening_record(session, platform_code, ev, store)
    if ev.action in ("lot.award", "lot.fail", "lot.terminate"):
        return _lot_settled(session, platform_code, ev)
    if ev.action in (
        "ceremony.objection",
        "evaluation.objection",
        "ceremony.objection_answer",
        "evaluation.objection_answer",
    ):
        return _objection(session, platform_code, ev)
    return []
