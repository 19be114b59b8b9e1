"""What the signals stage adds to a lot's archive package: the lot's collusion signals as the
platform signed them after the opening, and how each evaluation round's committee considered them,
so that what the committee was shown and what it recorded can be checked from the package alone."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import package as pkg
from signing.canonical import canonical_json
from trading.evaluation.models import Evaluation
from trading.signals.models import SignalReview, SignalRun
from trading.tenders.models import Lot

CATEGORY = "signals"


def lot_run(session: Session, lot: Lot) -> SignalRun | None:
    return session.scalar(select(SignalRun).where(SignalRun.lot_id == lot.id))


def lot_reviews(session: Session, run: SignalRun) -> list[SignalReview]:
    q = select(SignalReview).where(SignalReview.run_id == run.id).order_by(SignalReview.round, SignalReview.id)
    return list(session.scalars(q))


def signals_refs(session: Session, lot: Lot) -> list[tuple[str, str]]:
    """The audit objects: the run (``signals.computed``) and each review (``signals.reviewed``)."""
    run = lot_run(session, lot)
    if run is None:
        return []
    return [run.audit_ref, *(r.audit_ref for r in lot_reviews(session, run))]


def signals_entries(session: Session, lot: Lot) -> list[pkg.Entry]:
    """The package members (archive/PACKAGE.md, ``signals/``); none before the signals exist."""
    run = lot_run(session, lot)
    if run is None:
        return []
    evaluation = session.scalar(select(Evaluation.id).where(Evaluation.lot_id == lot.id))
    reviews = [
        {"evaluation": evaluation, "round": r.round, "text": r.text, "user": r.user_id, "at": r.at.isoformat()}
        for r in lot_reviews(session, run)
    ]
    return [
        pkg.bytes_entry("signals/signals.json", CATEGORY, "collusion_signals", run.statement.encode()),
        pkg.bytes_entry("signals/reviews.json", CATEGORY, "signal_reviews", canonical_json({"reviews": reviews})),
    ]
