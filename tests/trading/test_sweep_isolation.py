"""One broken item never holds up another in any scheduler sweep: each tender, lot, guarantee,
application, report and objection moves in a transaction of its own (trading.core.scheduler.each_apart,
attempt); a failure is undone alone, recorded as an audit event staff read in the trail, retried
with a pause and given up after RETRY_CAP. Each test breaks one item with a real corrupt row and
checks that another item due at the same instant still moves in the same sweep.

The corrupt rows: a timestamp no reader accepts (PostgreSQL's -infinity, which psycopg refuses to
load; year 0 on SQLite), a sealed opening whose box does not unwrap, a tender document whose object
is not in the store."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from archive import clock
from archive import transparency as log
from archive.audit import AuditEvent
from archive.objectstore.base import key_for
from tests.bidding.test_guarantees import credit, issuer_of, push_body
from tests.factories import make_user, platform_keys
from tests.trading.opening.test_ceremony import open_tender
from trading.accounts.models import Role
from trading.archives.building import build_due
from trading.archives.models import ArchivePackage
from trading.awards.award import report_late_publicity, report_overdue
from trading.awards.release import release_due
from trading.core.platform_keys import key_encryption_key
from trading.core.scheduler import RETRY_CAP
from trading.core.services import services
from trading.evaluation.models import EvalState, Evaluation, PublicityObjection
from trading.guarantees.models import Guarantee, GuaranteeState
from trading.opening.tasks import open_ceremonies_job
from trading.tenders.models import Lot, LotState, SealedOpening, Tender, TenderDocument, TenderState
from trading.tenders.operations import close_due
from trading.tenders.sealed import record_sealed, reveal_due


def unreadable_time(session: Session, table: str, column: str, row_id: int) -> None:
    """A timestamp the database holds and no reader accepts (a row edited by hand, a bad restore)."""
    value = "'-infinity'" if session.get_bind().dialect.name == "postgresql" else "'0000-01-01 00:00:00.000000'"
    session.execute(text(f"UPDATE {table} SET {column} = {value} WHERE id = :id"), {"id": row_id})
    session.commit()


def failures(session: Session, action: str, obj: str) -> list[dict[str, Any]]:
    session.expire_all()
    kind, _, oid = obj.partition(":")
    rows = session.scalars(
        select(AuditEvent.payload)
        .where(AuditEvent.action == action, AuditEvent.object_type == kind, AuditEvent.object_id == oid)
        .order_by(AuditEvent.seq)
    )
    return [json.loads(p) for p in rows]


def staff_sees(client: FlaskClient, staff: str, action: str, obj: str) -> dict[str, Any]:
    """The failure as the staff member ``staff`` reads it in the audit trail (the API behind the
    /audit page)."""
    from tests.factories import api_token

    items = client.get("/api/v1/audit/events?limit=1000", headers=api_token(client, staff)).get_json()
    (seen,) = [e for e in items["items"] if e["action"] == action and e["object"] == obj]
    payload: dict[str, Any] = json.loads(seen["payload"])
    return payload


def published_tenders(session: Session, app: Flask, n: int = 2) -> list[dict[str, Any]]:
    """``n`` published tenders of one lot each, no bids, through the operations (an HTTP set-up
    logs in three times per tender: most of a second of password hashing)."""
    import io

    from tests.factories import make_signer, sign_document, tender_body
    from trading.pki.operations import trust_store
    from trading.tenders import drafting, publication
    from trading.tenders.documents import upload_document
    from trading.tenders.schemas import TenderIn

    tenderee, staff = make_signer(session, app, Role.TENDEREE), make_user(session, Role.STAFF)
    svc, made = services(app), []
    for _ in range(n):
        tender = drafting.create_tender(session, tenderee.user, TenderIn.model_validate(tender_body()))
        doc = b"%PDF tender documents"
        signature = sign_document(tenderee, tender.code, "招标文件.pdf", doc)
        trust = trust_store(session, platform_keys(app))
        upload_document(session, svc.store, trust, tenderee.user, tender, "招标文件.pdf", io.BytesIO(doc), signature)
        publication.submit_tender(session, tenderee.user, tender)
        publication.publish_tender(session, staff, tender, svc.settings)
        made.append({"code": tender.code, "deadline": tender.bid_deadline, "staff_username": staff.username})
    session.commit()
    return made


def tender_id(session: Session, t: dict[str, Any]) -> int:
    return session.scalars(select(Tender.id).where(Tender.code == t["code"])).one()


def lot_id(session: Session, t: dict[str, Any]) -> int:
    return session.scalars(select(Lot.id).join(Tender).where(Tender.code == t["code"])).one()


def test_close_bidding_a_broken_tender_holds_up_no_other_and_is_retried_up_to_the_cap(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    broken, sound = published_tenders(session, app)
    bid, sid = tender_id(session, broken), tender_id(session, sound)
    unreadable_time(session, "tender", "bid_deadline", bid)
    with clock.frozen(sound["deadline"] + dt.timedelta(seconds=1)) as moment:
        # before, the sweep loaded every due tender at once: the one unreadable row stopped all
        assert close_due(session, clock.now()) == 1
        session.expire_all()
        assert session.get(Tender, sid).status is TenderState.BIDDING_CLOSED  # type: ignore[union-attr]
        (first,) = failures(session, "tender.close_failed", f"tender:{bid}")
        assert first["error"] in ("DataError", "ValueError") and first["failures"] == 1 and not first["gave_up"]
        seen = staff_sees(client, broken["staff_username"], "tender.close_failed", f"tender:{bid}")
        assert seen["error"] == first["error"]

        # retried after a pause, not on every sweep; left alone after the cap
        assert close_due(session, clock.now()) == 0
        assert len(failures(session, "tender.close_failed", f"tender:{bid}")) == 1
        for _ in range(2 * RETRY_CAP):
            moment.advance(minutes=10)
            close_due(session, clock.now())
        found = failures(session, "tender.close_failed", f"tender:{bid}")
        assert len(found) == RETRY_CAP and found[-1]["gave_up"] is True


def test_reveal_sealed_an_opening_that_does_not_unwrap_holds_up_no_other_tender(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    broken, sound = published_tenders(session, app)
    kek = key_encryption_key(app.extensions["ggzy.settings"])
    bid = tender_id(session, broken)
    for t in (broken, sound):
        tender = session.get(Tender, tender_id(session, t))
        assert tender is not None
        record_sealed(session, kek, tender, "91350100MA00000001", "tender.interest", {"lot": 1})
    session.commit()
    session.execute(update(SealedOpening).where(SealedOpening.tender_id == bid).values(box=b"\x00" * 80))
    session.commit()
    with clock.frozen(max(broken["deadline"], sound["deadline"]) + dt.timedelta(seconds=1)):
        assert close_due(session, clock.now()) == 2
        assert reveal_due(session, kek, clock.now()) == 1  # the sound tender's one opening
    (failed,) = failures(session, "sealed.reveal_failed", f"tender:{bid}")
    assert failed["failures"] == 1 and failed["error"]
    (revealed,) = failures(session, "sealed.reveal", f"tender:{tender_id(session, sound)}")
    assert revealed["openings"][0]["facts"]["tender"] == sound["code"]
    assert staff_sees(client, broken["staff_username"], "sealed.reveal_failed", f"tender:{bid}")["failures"] == 1


def test_build_archives_a_lot_whose_file_is_missing_holds_up_no_other_lot(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    broken, sound = published_tenders(session, app)
    svc = services(app)
    with clock.frozen(max(broken["deadline"], sound["deadline"]) + dt.timedelta(seconds=1)):
        assert open_ceremonies_job(session, clock.now(), svc) == 2  # no bids: both lots fail (流标)
        keys = platform_keys(app)
        log.sign_pending(session, keys.sign_key, keys.sign_cert)
        session.execute(
            update(TenderDocument)
            .where(TenderDocument.tender_id == tender_id(session, broken))
            .values(object_key=key_for("0" * 64))  # a well-formed key the store does not hold
        )
        session.commit()
        # before, one lot whose package could not be built stopped every lot's
        assert build_due(session, svc, clock.now()) == 1
    packages = session.scalars(select(ArchivePackage.lot_id)).all()
    assert lot_id(session, sound) in packages and lot_id(session, broken) not in packages
    (failed,) = failures(session, "archive.build_failed", f"lot:{lot_id(session, broken)}")
    assert failed["package"] == "end" and failed["failures"] == 1
    assert staff_sees(client, broken["staff_username"], "archive.build_failed", f"lot:{lot_id(session, broken)}")[
        "error"
    ]


def test_release_guarantees_a_broken_guarantee_holds_up_no_other(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    t = open_tender(client, session, app, 2)  # fewer than the procedure's three: the lot fails
    ic, issuer = issuer_of(client, session, app)
    for i in range(2):
        body = {"tender": t["code"], "lot": 1, "issuer": credit(issuer)}
        assert client.post("/api/v1/guarantees", json=body, headers=t["headers"][i]).status_code == 201
    for n, order in enumerate(ic.orders()):
        ic.push(order["order"], push_body(order, issuer, f"BH-{n}"))
    broken, sound = session.scalars(select(Guarantee.id).order_by(Guarantee.id)).all()
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        assert client.get(f"/api/v1/ceremonies/{t['cid']}").get_json()["stage"] == "failed"
        unreadable_time(session, "guarantee", "verified_at", broken)
        # before, the sweep loaded every due guarantee at once: the one unreadable row stopped all
        assert release_due(session, clock.now()) == 1
    assert session.scalars(select(Guarantee.state).where(Guarantee.id == sound)).one() is GuaranteeState.RELEASED
    (failed,) = failures(session, "guarantee.release_failed", f"guarantee:{broken}")
    assert failed["failures"] == 1
    assert staff_sees(client, t["staff_username"], "guarantee.release_failed", f"guarantee:{broken}")["failures"] == 1


def _reported(session: Session, lot: int, reported_at: dt.datetime) -> Evaluation:
    """A lot's evaluation whose signed report waits for publicity (the state the sweeps read)."""
    ev = Evaluation(
        lot_id=lot,
        state=EvalState.REPORTED,
        z_limit=2.0,
        candidates=1,
        history=[],
        opened_at=reported_at,
        reported_at=reported_at,
        report_statement="{}",
    )
    session.add(ev)
    session.flush()
    return ev


def test_evaluation_sweeps_a_broken_report_or_objection_holds_up_no_other(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    broken, sound = published_tenders(session, app)
    bidder = make_user(session, Role.BIDDER)
    now = clock.now()
    evs = [_reported(session, lot_id(session, t), now - dt.timedelta(days=4)) for t in (broken, sound)]
    objections = []
    for ev in evs:
        session.execute(update(Lot).where(Lot.id == ev.lot_id).values(status=LotState.EVALUATING))
        o = PublicityObjection(
            evaluation_id=ev.id,
            org_id=bidder.organisation_id,
            user_id=bidder.id,
            text="对第一中标候选人的业绩有异议",
            created_at=now - dt.timedelta(days=4),
            answer_due=now - dt.timedelta(days=1),
        )
        session.add(o)
        session.flush()
        objections.append(o.id)
    session.commit()
    ev_ids = [ev.id for ev in evs]
    unreadable_time(session, "evaluation", "reported_at", ev_ids[0])
    unreadable_time(session, "evaluation_objection", "answer_due", objections[0])
    # before, each sweep loaded every due row at once: the one unreadable row stopped all
    assert report_late_publicity(session, clock.now()) == 1
    assert report_overdue(session, clock.now()) == 1
    session.expire_all()
    assert session.get(Evaluation, ev_ids[1]).publicity_late_at is not None  # type: ignore[union-attr]
    assert session.get(PublicityObjection, objections[1]).overdue_at is not None  # type: ignore[union-attr]
    (late,) = failures(session, "evaluation.publicity_overdue_failed", f"evaluation:{ev_ids[0]}")
    (overdue,) = failures(session, "evaluation.objection_overdue_failed", f"evaluation_objection:{objections[0]}")
    assert late["failures"] == overdue["failures"] == 1
    obj = f"evaluation_objection:{objections[0]}"
    seen = staff_sees(client, broken["staff_username"], "evaluation.objection_overdue_failed", obj)
    assert seen["error"] == overdue["error"]
