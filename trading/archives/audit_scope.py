"""The audit objects of one tender, for the audit page's filter by 项目编号 (``trading.audit.hooks``).

The archives stage already gathers a lot's every fact for its package; this names the same objects
for the whole tender. Before the bid deadline, bids, guarantees and their orders are left out: their
events are sealed (``trading.tenders.sealed``) and listing them under the tender would count its
bidders (招标投标法第二十二条, docs/security.md "Secrecy of registrations before the deadline").
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from trading.archives.credit_contents import credit_refs
from trading.archives.models import ArchivePackage
from trading.archives.signals_contents import signals_refs
from trading.archives.supervision_contents import supervision_refs
from trading.bids.models import Bid
from trading.evaluation import models as em
from trading.guarantees.models import Guarantee, GuaranteeClaim, GuaranteeOrder
from trading.opening.models import Ceremony
from trading.supervision.models import SupervisionClock
from trading.tenders.models import Announcement, Question, Tender, TenderDocument

Ref = tuple[str, str]


def tender_objects(session: Session, code: str) -> list[Ref]:
    """Every ``(object_type, object_id)`` the trail uses for the tender ``code``; none if unknown."""
    tender = session.scalar(select(Tender).where(Tender.code == code))
    if tender is None:
        return []
    lots = [lot.id for lot in tender.lots]
    refs: list[Ref] = [tender.audit_ref, *(lot.audit_ref for lot in tender.lots)]
    refs += [a.audit_ref for a in session.scalars(select(Announcement).where(Announcement.tender_id == tender.id))]
    refs += [d.audit_ref for d in session.scalars(select(TenderDocument).where(TenderDocument.tender_id == tender.id))]
    refs += [q.audit_ref for q in session.scalars(select(Question).where(Question.tender_id == tender.id))]
    refs += [c.audit_ref for c in session.scalars(select(Ceremony).where(Ceremony.tender_id == tender.id))]
    refs += [p.audit_ref for p in session.scalars(select(ArchivePackage).where(ArchivePackage.tender_id == tender.id))]
    refs += _evaluation(session, lots)
    clocks = session.scalars(select(SupervisionClock.id).where(SupervisionClock.tender_id == tender.id))
    refs += [("supervision_clock", str(i)) for i in clocks]
    if tender.deadline_passed(clock.now()):
        refs += _bidders(session, tender.id, lots)
        # a complaint shows its complainant's interest in the tender, as a bid does
        for lot in tender.lots:
            refs += [r for r in supervision_refs(session, lot) if r[0] != "supervision_clock"]
            refs += credit_refs(session, tender, lot) + signals_refs(session, lot)
    return list(dict.fromkeys(refs))


def _evaluation(session: Session, lots: list[int]) -> list[Ref]:
    refs: list[Ref] = []
    for d in session.scalars(select(em.Draw).where(em.Draw.lot_id.in_(lots))):
        refs.append(d.audit_ref)
        refs += [m.audit_ref for m in session.scalars(select(em.DrawMember).where(em.DrawMember.draw_id == d.id))]
    for ev in session.scalars(select(em.Evaluation).where(em.Evaluation.lot_id.in_(lots))):
        refs.append(ev.audit_ref)
        for model in (em.Seat, em.ScoreSheet, em.Flag, em.Clarification, em.PublicityObjection):
            # each one's audit_ref is (its table, its id), as archives.contents reads them
            ids = session.scalars(select(model.id).where(model.evaluation_id == ev.id))
            refs += [(str(model.__tablename__), str(i)) for i in ids]
    return refs


def _bidders(session: Session, tender_id: int, lots: list[int]) -> list[Ref]:
    refs: list[Ref] = []
    for bid in session.scalars(select(Bid).where(Bid.tender_id == tender_id)):
        refs += [bid.audit_ref, ("bid", bid.commitment[:32])]
    orders = session.scalars(select(GuaranteeOrder).where(GuaranteeOrder.tender_id == tender_id)).all()
    refs += [o.audit_ref for o in orders]
    for g in session.scalars(select(Guarantee).where(Guarantee.lot_id.in_(lots))):
        refs.append(g.audit_ref)
        refs += [
            c.audit_ref for c in session.scalars(select(GuaranteeClaim).where(GuaranteeClaim.guarantee_id == g.id))
        ]
    return refs
