"""OCDS releases from a tender's audit events: each release is the tender's public facts as of its
source event (a snapshot, so one release read alone is complete), derived by folding the events
in the trail's order. The static facts the events do not carry (title, lots, the tenderee's name)
come from the tender's rows, which do not change once it is published.

Nothing sealed enters: bidders and prices come only from the opening's reading (唱标,
``ceremony.reading``), which takes place after the deadline; registrations, downloads, questions,
bids and guarantees are not read at all (no trigger in ``trail.TRIGGERS`` is about them).
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import AuditEvent
from trading.accounts.models import Organisation
from trading.evaluation.models import Evaluation, PublicityObjection
from trading.opendata.trail import payload
from trading.opening.models import Ceremony, CeremonyBidder
from trading.opening.models import Objection as OpeningObjection
from trading.tenders.models import Announcement, Lot, Tender, TenderCategory, TenderDocument

Json = dict[str, Any]

CATEGORIES = {
    TenderCategory.CONSTRUCTION: "works",
    TenderCategory.GOODS: "goods",
    TenderCategory.SERVICES: "services",
}
LOT_STATUS = {
    "bidding": "active",
    "opening": "active",
    "evaluating": "active",
    "publicity": "active",
    "failed": "unsuccessful",
    "terminated": "cancelled",
    "awarded": "complete",
}
#: a bid not decrypted is ``withdrawn`` whoever's fault it was (撤销, the bidder's; 撤回, the
#: platform's: 电子招标投标办法 31): ``disqualified`` would read as the committee's judgement of a
#: bid nobody opened. The opening record tells the two apart.
BID_STATUS = {"decrypted": "pending", "revoked": "withdrawn", "withdrawn": "withdrawn", "pending": "pending"}
SCHEME = "CN-USCC"  # 统一社会信用代码 (GB 32100)


def ocid(prefix: str, tender: Tender) -> str:
    return f"{prefix}-{tender.code}"


def release_id(tender: Tender, n: int) -> str:
    """The tender's ``n``-th release. Not the audit sequence number: that would tell the public the
    log's size at every release, and so how many sealed acts (registrations, downloads, bids) came
    between two of them; the public sees the size only at the signed checkpoints."""
    return f"{tender.code}-{n}"


def instant(at: dt.datetime) -> str:
    """An OCDS date: UTC with microseconds always, so dates sort as strings (ocdsmerge does)."""
    return clock.as_utc(at).isoformat(timespec="microseconds").replace("+00:00", "Z")


def amount(value: Decimal | str) -> int | float:
    d = Decimal(value)
    return int(d) if d == d.to_integral_value() else float(d)


def party_id(credit_code: str) -> str:
    return f"{SCHEME}-{credit_code}"


class Fold:
    """The tender's public facts as its events are applied one by one."""

    def __init__(self, session: Session, tender: Tender, prefix: str) -> None:
        self.session, self.tender, self.prefix = session, tender, prefix
        self.published: str | None = None
        self.deadline: str | None = None
        self.cancelled = False
        self.made = 0  # releases so far: the next one's number
        self.parties: dict[str, Json] = {}
        self.documents: dict[str, Json] = {}
        self.amendments: dict[str, Json] = {}
        self.lots: dict[str, Json] = {}
        self.bids: dict[str, Json] = {}
        self.complaints: dict[str, Json] = {}
        self.awards: dict[str, Json] = {}
        self.contracts: dict[str, Json] = {}
        for lot in tender.lots:
            self.lots[str(lot.number)] = {
                "id": str(lot.number),
                "title": lot.name,
                "status": "active",
                "value": {"amount": amount(lot.estimated_price), "currency": lot.currency},
            }
        self.buyer = self._party(tender.tenderee, "buyer")
        agency = tender.agency or tender.tenderee
        self.procuring = self._party(agency, "procuringEntity")

    # ------------------------------------------------------------------ parties
    def _party(self, org: Organisation, role: str) -> Json:
        pid = party_id(org.credit_code)
        p = self.parties.setdefault(
            pid,
            {
                "id": pid,
                "name": org.name,
                "identifier": {"scheme": SCHEME, "id": org.credit_code, "legalName": org.name},
                "roles": [],
            },
        )
        if role not in p["roles"]:
            p["roles"].append(role)
        return {"id": pid, "name": org.name}

    def _org(self, credit_code: str) -> Organisation | None:
        return self.session.scalar(select(Organisation).where(Organisation.credit_code == credit_code))

    def _lot(self, lot_id: int) -> Lot:
        lot = self.session.get(Lot, lot_id)
        assert lot is not None and lot.tender_id == self.tender.id
        return lot

    # ------------------------------------------------------------------ events
    def apply(self, e: AuditEvent) -> str | None:
        """Apply one event; its release tag, or None when it makes no release (yet)."""
        body, at = payload(e), instant(e.at)
        handler = getattr(self, "_" + e.action.replace(".", "_"))
        tag: str | None = handler(e, body, at)
        return tag if self.published else None

    def _tender_publish(self, e: AuditEvent, body: Json, at: str) -> str:
        self.published = at
        for doc in self.documents.values():
            doc["datePublished"] = at  # uploaded with the draft, issued at the publication
        self.deadline = _deadline(body.get("deadline"), self.tender.bid_deadline)
        return "tender"

    def _tender_deadline_move(self, e: AuditEvent, body: Json, at: str) -> str:
        self.deadline = _deadline(body.get("deadline_after"), self.tender.bid_deadline)
        return "tenderAmendment"

    def _tender_suspend(self, e: AuditEvent, body: Json, at: str) -> str:
        return "tenderUpdate"

    _tender_resume = _tender_suspend

    def _tender_terminate(self, e: AuditEvent, body: Json, at: str) -> str:
        self.cancelled = True
        for lot in self.lots.values():
            if lot["status"] == "active":
                lot["status"] = "cancelled"
        return "tenderCancellation"

    def _tender_document_upload(self, e: AuditEvent, body: Json, at: str) -> str | None:
        doc = self.session.get(TenderDocument, int(e.object_id))
        if doc is None:
            return None
        if doc.announcement_id is not None:
            return None  # issued with an amendment: public when the amendment is (``_announcement_publish``)
        self._document(doc, self.published or at)
        return "tenderUpdate"

    def _document(self, doc: TenderDocument, at: str) -> None:
        self.documents[f"doc-{doc.id}"] = {
            "id": f"doc-{doc.id}",
            "documentType": "biddingDocuments",
            "title": doc.name,
            "description": f"SM3 {doc.sm3}，{doc.size} 字节（报名后下载）",
            "datePublished": at,
            "language": "zh",
        }

    def _announcement_publish(self, e: AuditEvent, body: Json, at: str) -> str | None:
        ann = self.session.get(Announcement, int(e.object_id))
        if ann is None:
            return None
        if body.get("kind") == "termination":
            return self._tender_terminate(e, body, at)
        self.amendments[str(ann.id)] = {
            "id": str(ann.id),
            "date": at,
            "rationale": ann.title,
            "description": ann.body,
        }
        for doc in self.session.scalars(select(TenderDocument).where(TenderDocument.announcement_id == ann.id)):
            self._document(doc, at)
        return "tenderAmendment"

    def _ceremony_reading(self, e: AuditEvent, body: Json, at: str) -> str | None:
        ceremony = self.session.get(Ceremony, int(e.object_id))
        if ceremony is None:
            return None
        number = str(self._lot(ceremony.lot_id).number)
        for row in body.get("table", []):
            org = self._org(str(row.get("credit_code", "")))
            if org is None:
                continue
            who = self._party(org, "tenderer")
            bid: Json = {
                "id": f"{number}-{org.credit_code}",
                "date": at,
                "status": BID_STATUS.get(str(row.get("outcome")), "pending"),
                "tenderers": [who],
                "relatedLots": [number],
            }
            if row.get("price") is not None:
                bid["value"] = {"amount": amount(str(row["price"])), "currency": self.lots[number]["value"]["currency"]}
            self.bids[bid["id"]] = bid
        return "tenderUpdate"

    def _ceremony_objection(self, e: AuditEvent, body: Json, at: str) -> str | None:
        ceremony = self.session.get(Ceremony, int(e.object_id))
        org = self._org(str(body.get("bidder", "")))
        if ceremony is None or org is None:
            return None
        number = str(self._lot(ceremony.lot_id).number)
        cid = f"opening-{body.get('objection')}"
        self.complaints[cid] = {
            "id": cid,
            "type": "claim",
            "status": "claim",
            "title": f"第{number}标段开标异议",
            "author": {"id": party_id(org.credit_code), "name": org.name},
            "date": at,
            "dateSubmitted": at,
            "relatedLot": number,
        }
        return "tenderUpdate"

    def _ceremony_objection_answer(self, e: AuditEvent, body: Json, at: str) -> str | None:
        c = self.complaints.get(f"opening-{body.get('objection')}")
        if c is None:
            found = self.session.get(OpeningObjection, int(body.get("objection", 0)))
            return None if found is None else "tenderUpdate"
        c |= {"status": "answered", "dateAnswered": at}
        return "tenderUpdate"

    def _lot_status(self, e: AuditEvent, body: Json) -> str:
        number = str(self._lot(int(e.object_id)).number)
        self.lots[number]["status"] = LOT_STATUS.get(str(body.get("to")), "active")
        return number

    def _lot_fail(self, e: AuditEvent, body: Json, at: str) -> str:
        self._lot_status(e, body)
        return "tenderUpdate"

    _lot_terminate = _lot_fail

    def _lot_publicise(self, e: AuditEvent, body: Json, at: str) -> str | None:
        number = self._lot_status(e, body)
        ev = self.session.scalar(select(Evaluation).where(Evaluation.lot_id == int(e.object_id)))
        if ev is None or not ev.report:
            return None
        names = []
        first: Json | None = None
        for c in ev.report.get("candidates", []):
            names.append(f"第 {c['rank']} 名 {c['bidder']}（投标报价 {c['price']} 元）")
            if first is None:
                first = c
        award: Json = {
            "id": f"award-{number}",
            "title": f"第{number}标段中标候选人公示",
            "description": "中标候选人：" + "；".join(names),
            "status": "pending",
            "date": at,
            "relatedLots": [number],
        }
        if first is not None:
            cb = self.session.get(CeremonyBidder, int(first["bidder_id"]))
            org = self.session.get(Organisation, cb.org_id) if cb else None
            if org is not None:
                award["suppliers"] = [self._party(org, "supplier")]
                award["relatedBid"] = f"{number}-{org.credit_code}"
            award["value"] = {"amount": amount(str(first["price"])), "currency": self.lots[number]["value"]["currency"]}
        self.awards[award["id"]] = award
        return "award"

    def _lot_award(self, e: AuditEvent, body: Json, at: str) -> str:
        number = self._lot_status(e, body)
        aid = f"award-{number}"
        tag = "awardUpdate" if aid in self.awards else "award"
        award = self.awards.setdefault(aid, {"id": aid, "relatedLots": [number]})
        award |= {"title": f"第{number}标段中标结果", "status": "active", "date": at}
        org = self._org(str(body.get("winner", "")))
        if org is not None:
            award["suppliers"] = [self._party(org, "supplier")]
            award["relatedBid"] = f"{number}-{org.credit_code}"
        if body.get("price") is not None:
            award["value"] = {"amount": amount(str(body["price"])), "currency": self.lots[number]["value"]["currency"]}
        return tag

    def _publicity_objection(self, objection_id: int) -> tuple[PublicityObjection, str] | None:
        o = self.session.get(PublicityObjection, objection_id)
        ev = self.session.get(Evaluation, o.evaluation_id) if o else None
        if o is None or ev is None:
            return None
        return o, str(self._lot(ev.lot_id).number)

    def _evaluation_objection(self, e: AuditEvent, body: Json, at: str) -> str | None:
        found = self._publicity_objection(int(e.object_id))
        if found is None:
            return None
        o, number = found
        org = self.session.get(Organisation, o.org_id)
        award = self.awards.get(f"award-{number}")
        if org is None or award is None:
            return None
        cid = f"publicity-{o.id}"
        complaint = {
            "id": cid,
            "type": "claim",
            "status": "claim",
            "title": f"第{number}标段中标候选人公示异议",
            "author": {"id": party_id(org.credit_code), "name": org.name},
            "date": at,
            "dateSubmitted": at,
            "relatedLot": number,
        }
        award["complaints"] = [c for c in award.get("complaints", []) if c["id"] != cid] + [complaint]
        return "awardUpdate"

    def _evaluation_objection_answer(self, e: AuditEvent, body: Json, at: str) -> str | None:
        found = self._publicity_objection(int(e.object_id))
        if found is None:
            return None
        award = self.awards.get(f"award-{found[1]}")
        cid = f"publicity-{found[0].id}"
        for c in award.get("complaints", []) if award else []:
            if c["id"] == cid:
                c |= {"status": "answered", "dateAnswered": at}
                return "awardUpdate"
        return None

    def _evaluation_contract(self, e: AuditEvent, body: Json, at: str) -> str | None:
        number = str(self._lot(int(body.get("lot", 0))).number)
        award = self.awards.get(f"award-{number}")
        if award is None:
            return None
        contract: Json = {
            "id": f"contract-{number}",
            "awardID": award["id"],
            "title": f"第{number}标段合同",
            "status": "active",
            "dateSigned": at,
        }
        if "value" in award:
            contract["value"] = dict(award["value"])
        self.contracts[contract["id"]] = contract
        return "contract"

    # ------------------------------------------------------------------ the release
    def tender_status(self) -> str:
        states = {lot["status"] for lot in self.lots.values()}
        if self.cancelled or states == {"cancelled"}:
            return "cancelled"
        if "active" in states or not states:
            return "active"
        return "complete" if "complete" in states else "unsuccessful"

    def release(self, e: AuditEvent, tag: str) -> Json:
        t = self.tender
        lots = list(self.lots.values())
        currencies = {lot["value"]["currency"] for lot in lots}
        tender: Json = {
            "id": t.code,
            "title": t.title,
            "status": self.tender_status(),
            "procuringEntity": dict(self.procuring),
            "procurementMethod": "open",
            "procurementMethodDetails": "公开招标",
            "submissionMethod": ["electronicSubmission"],
            "tenderPeriod": {"startDate": self.published, "endDate": self.deadline},
            "lots": _copy(lots),
        }
        if t.description:
            tender["description"] = t.description
        if t.category in CATEGORIES:
            tender["mainProcurementCategory"] = CATEGORIES[t.category]
        if len(currencies) == 1:
            tender["value"] = {"amount": sum(lot["value"]["amount"] for lot in lots), "currency": currencies.pop()}
        if self.documents:
            tender["documents"] = _copy(list(self.documents.values()))
        if self.amendments:
            tender["amendments"] = _copy(list(self.amendments.values()))
        if self.complaints:
            tender["complaints"] = _copy(list(self.complaints.values()))
        release: Json = {
            "ocid": ocid(self.prefix, t),
            "id": release_id(t, self.made + 1),
            "date": instant(e.at),
            "tag": [tag],
            "initiationType": "tender",
            "language": "zh",
            "parties": _copy(list(self.parties.values())),
            "buyer": dict(self.buyer),
            "tender": tender,
        }
        if self.bids:
            tenderers = {b["tenderers"][0]["id"]: b["tenderers"][0] for b in self.bids.values()}
            tender["tenderers"] = _copy(list(tenderers.values()))
            tender["numberOfTenderers"] = len(tenderers)
            release["bids"] = {"details": _copy(list(self.bids.values()))}
        if self.awards:
            release["awards"] = _copy(list(self.awards.values()))
        if self.contracts:
            release["contracts"] = _copy(list(self.contracts.values()))
        self.made += 1
        return release


def _deadline(value: object, fallback: dt.datetime) -> str:
    if isinstance(value, str):
        return instant(dt.datetime.fromisoformat(value))
    return instant(fallback)


def _copy(items: list[Json]) -> list[Json]:
    """A copy that later events cannot change through a release already made."""
    return copy.deepcopy(items)


def releases(
    session: Session, tender: Tender, prefix: str, events: Sequence[AuditEvent]
) -> list[tuple[AuditEvent, Json]]:
    """Each of ``events`` (the tender's, in order: ``trail.tender_events``) that makes a release,
    with it. The first is the publication's; events before it make none."""
    fold = Fold(session, tender, prefix)
    made: list[tuple[AuditEvent, Json]] = []
    for e in events:
        tag = fold.apply(e)
        if tag is not None:
            made.append((e, fold.release(e, tag)))
    return made
