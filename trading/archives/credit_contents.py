"""What the credit checks add to a lot's archive package: every platform-signed check of the lot's
bidders, as signed, so that a refusal, a notice or a clean result can be verified years later from
the package alone (财库〔2016〕125号: 查询结果留存, kept with the procurement file).

The package holds the registration checks (报名) of the organisations that bid on the lot, the
registration checks that refused an organisation for this tender (the evidence of the refusal), and
every evaluation check of the lot, each as ``credit/checks/<id>.json``: the signed statement's bytes
(``ggzy-credit-check/1``, docs/formats.md). By the time a package is built the bidding has closed
and the sealed registrations are revealed, so naming them there discloses nothing still secret.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from archive import package as pkg
from trading.accounts.models import Organisation
from trading.bids.models import Bid
from trading.credit.models import CheckPurpose, CreditCheck
from trading.tenders.models import Lot, Tender

CATEGORY = "credit"
KIND = "credit_check"


def lot_checks(session: Session, tender: Tender, lot: Lot) -> list[CreditCheck]:
    """The checks the lot's package keeps, oldest first."""
    codes = select(Organisation.credit_code).join(Bid, Bid.org_id == Organisation.id).where(Bid.lot_id == lot.id)
    registration = (CreditCheck.purpose == CheckPurpose.REGISTRATION) & or_(
        CreditCheck.subject_id.in_(codes), CreditCheck.barred.is_(True)
    )
    evaluation = (CreditCheck.purpose == CheckPurpose.EVALUATION) & (CreditCheck.lot_number == lot.number)
    q = select(CreditCheck).where(CreditCheck.tender_code == tender.code, or_(registration, evaluation))
    return list(session.scalars(q.order_by(CreditCheck.id)))


def credit_refs(session: Session, tender: Tender, lot: Lot) -> list[tuple[str, str]]:
    """The audit objects of the checks (the evaluation's ``credit.checked`` events; a registration's
    check is recorded sealed, and its opening is in the tender's ``sealed.reveal``)."""
    return [c.audit_ref for c in lot_checks(session, tender, lot)]


def credit_entries(session: Session, tender: Tender, lot: Lot) -> list[pkg.Entry]:
    """The package members (archive/PACKAGE.md, ``credit/``)."""
    return [
        pkg.bytes_entry(
            f"credit/checks/{c.id}.json",
            CATEGORY,
            KIND,
            c.statement.encode(),
            purpose=c.purpose.value,
            subject=c.subject_id,
        )
        for c in lot_checks(session, tender, lot)
    ]
