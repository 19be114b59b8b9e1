"""The platform's own credit events: each kind proposed from crafted audit events (and honest
events proposing nothing), once; confirmed into a platform entry or dismissed with a reason, each
move an audit event, and ``CreditProposal.state`` written by ``move_proposal`` alone."""

from __future__ import annotations

import ast
import datetime as dt
import json
import pathlib

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, AuditEvent, record_event
from tests.factories import api_token, make_org, make_user
from tests.trading.test_lifecycle_owner import status_writes
from trading.accounts.models import Role
from trading.core.errors import Conflict
from trading.credit import proposals
from trading.credit.models import CreditEntry, CreditList, CreditProposal, Measure, ProposalKind, ProposalState

ROOT = pathlib.Path(__file__).resolve().parents[3]
NOW = dt.datetime(2026, 10, 12, 2, 0, tzinfo=dt.UTC)


def craft_trail(session: Session) -> dict[str, str]:
    """One event of each kind that should be proposed, and an honest twin of each that should not."""
    bidder, honest = make_org(session), make_org(session)
    complainant = make_user(session, Role.BIDDER)
    expert_user = make_user(session, Role.EXPERT)
    supervisor = make_user(session, Role.SUPERVISOR)
    code, other = bidder.credit_code, honest.credit_code
    opening = ("ceremony", "9001")
    record_event(session, SYSTEM, "ceremony.create", opening, {"tender": "GGZY-2026-000901", "lot": 1})
    record_event(
        session,
        SYSTEM,
        "ceremony.classify",
        opening,
        {"bidder": code, "outcome": "revoked", "reason": "no_key_released"},
    )
    record_event(
        session, SYSTEM, "ceremony.classify", opening, {"bidder": other, "outcome": "withdrawn", "reason": "x"}
    )
    for n, ground in (("31", "withdrew_after_deadline"), ("32", "refused_contract")):
        record_event(
            session,
            complainant,
            "guarantee.claim",
            ("guarantee_claim", n),
            {"guarantee": int(n), "ground": ground, "amount": "10000.00", "bidder": code, "tender": "GGZY-2026-000901"},
        )
    for n, finding in (("71", "dismissed"), ("72", "upheld")):
        record_event(session, complainant, "complaint.file", ("complaint", n), {"tender": "GGZY-2026-000902"})
        record_event(session, supervisor, "complaint.decide", ("complaint", n), {"finding": finding})
    late, early = ("evaluation_seat", "51"), ("evaluation_seat", "52")
    record_event(session, SYSTEM, "evaluation.seat", late, {"evaluation": 5, "expert": 4242})
    record_event(session, expert_user, "evaluation.pledge", late, {"evaluation": 5, "bidders": [code]})
    record_event(session, expert_user, "evaluation.recuse", late, {"evaluation": 5, "reason": "曾在该投标人任职"})
    record_event(session, SYSTEM, "evaluation.seat", early, {"evaluation": 5, "expert": 4343})
    record_event(session, expert_user, "evaluation.recuse", early, {"evaluation": 5, "reason": "亲属在投标人任职"})
    session.commit()
    return {
        "bidder": code,
        "name": bidder.name,
        "complainant": complainant.organisation.credit_code,
        "expert": expert_user.display_name,
    }


def test_each_kind_is_proposed_once_with_its_evidence(session: Session) -> None:
    who = craft_trail(session)
    assert proposals.sweep(session, NOW) == 5
    assert proposals.sweep(session, NOW) == 0  # the cursor moved past them
    found = {p.kind: p for p in session.scalars(select(CreditProposal))}
    assert set(found) == set(ProposalKind)
    nd = found[ProposalKind.NOT_DECRYPTED]
    assert (nd.subject_id, nd.subject_name, nd.tender_code) == (who["bidder"], who["name"], "GGZY-2026-000901")
    assert [e["type"] for e in nd.evidence] == ["ceremony.classify"]
    withdrawn = found[ProposalKind.WITHDRAWN_CLAIMED]
    assert [e["type"] for e in withdrawn.evidence] == ["ceremony.classify", "guarantee.claim"]
    assert found[ProposalKind.CONTRACT_REFUSED].subject_id == who["bidder"]
    complaint = found[ProposalKind.BAD_FAITH_COMPLAINT]
    assert complaint.subject_id == who["complainant"] and complaint.tender_code == "GGZY-2026-000902"
    recusal = found[ProposalKind.RECUSAL_FAILURE]
    assert (recusal.subject_kind.value, recusal.subject_id, recusal.subject_name) == ("expert", "4242", who["expert"])
    assert [e["type"] for e in recusal.evidence] == ["evaluation.seat", "evaluation.pledge", "evaluation.recuse"]
    for p in found.values():  # each evidence item is the event as the log holds it
        for e in p.evidence:
            ev = session.get(AuditEvent, e["seq"])
            assert ev is not None and (ev.action, ev.leaf_hash.hex()) == (e["type"], e["sm3"])
    made = session.scalars(select(AuditEvent).where(AuditEvent.action == "credit.proposed")).all()
    assert len(made) == 5 and json.loads(made[0].payload)["evidence"]


def test_confirm_makes_a_platform_entry_and_dismiss_needs_a_reason(session: Session) -> None:
    craft_trail(session)
    proposals.sweep(session, NOW)
    staff = make_user(session, Role.STAFF)
    by_kind = {p.kind: p for p in session.scalars(select(CreditProposal))}
    p = by_kind[ProposalKind.NOT_DECRYPTED]
    terms = proposals.Terms(
        Measure.BAR_BIDDING,
        "350000",
        "construction",
        dt.date(2026, 11, 1),
        dt.date(2027, 10, 31),
        "开标时未解密且无正当理由",
    )
    with clock.frozen(NOW):
        proposals.confirm(session, staff, p, terms, user_id=staff.id, now=NOW)
        with pytest.raises(Conflict):
            proposals.confirm(session, staff, p, terms, user_id=staff.id, now=NOW)
        with pytest.raises(Conflict):
            proposals.dismiss(session, staff, p, "已确认的不能驳回", user_id=staff.id, now=NOW)
    entry = session.get(CreditEntry, p.entry_id)
    assert entry is not None and p.state is ProposalState.CONFIRMED
    assert (entry.list_kind, entry.source, entry.source_ref, entry.region) == (
        CreditList.PLATFORM,
        "proposal",
        str(p.id),
        "350000",
    )
    expert = by_kind[ProposalKind.RECUSAL_FAILURE]
    with pytest.raises(Exception, match="措施"):
        proposals.confirm(session, staff, expert, terms, user_id=staff.id, now=NOW)
    proposals.dismiss(session, staff, expert, "经核实专家在抽取后才得知关系，已主动回避", user_id=staff.id, now=NOW)
    assert expert.state is ProposalState.DISMISSED and expert.entry_id is None
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("credit.proposal_%"))).all()
    assert sorted(actions) == ["credit.proposal_confirmed", "credit.proposal_dismissed"]


def test_confirm_and_dismiss_over_http(client: FlaskClient, session: Session) -> None:
    craft_trail(session)
    proposals.sweep(session, NOW)
    staff, supervisor = make_user(session, Role.STAFF), make_user(session, Role.SUPERVISOR)
    session.commit()
    h, hs = api_token(client, staff.username), api_token(client, supervisor.username)
    items = client.get("/api/v1/credit/proposals?state=proposed", headers=hs).get_json()["items"]
    assert len(items) == 5
    target = next(i for i in items if i["kind"] == "contract_refused")
    body = {
        "measure": "bar_bidding",
        "region": "000000",
        "starts_on": "2026-11-01",
        "ends_on": "2026-10-01",
        "reason": "拒签合同属实",
    }
    r = client.post(f"/api/v1/credit/proposals/{target['id']}/confirm", json=body, headers=h)
    assert r.status_code == 422 and "ends_on" in r.get_json()["error"]["fields"]
    assert client.post(f"/api/v1/credit/proposals/{target['id']}/confirm", json=body, headers=hs).status_code == 403
    body["ends_on"] = None
    r = client.post(f"/api/v1/credit/proposals/{target['id']}/confirm", json=body, headers=h)
    assert r.status_code == 200 and r.get_json()["state"] == "confirmed" and r.get_json()["entry"]
    other = next(i for i in items if i["kind"] == "bad_faith_complaint")
    assert (
        client.post(f"/api/v1/credit/proposals/{other['id']}/dismiss", json={"reason": "短"}, headers=h).status_code
        == 422
    )
    r = client.post(
        f"/api/v1/credit/proposals/{other['id']}/dismiss", json={"reason": "投诉有一定依据，非恶意"}, headers=h
    )
    assert r.status_code == 200 and r.get_json()["state"] == "dismissed"
    r = client.post(f"/api/v1/credit/proposals/{other['id']}/dismiss", json={"reason": "再驳回一次试试"}, headers=h)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "credit_proposal_decided"
    assert client.get("/api/v1/credit/proposals?state=nope", headers=h).status_code == 422
    assert client.get("/api/v1/credit/proposals/999999", headers=h).status_code == 404


def test_proposal_state_has_one_writer() -> None:
    owner = ROOT / "trading/credit/proposals.py"
    for path in sorted((ROOT / "trading").rglob("*.py")):
        lines = status_writes(path.read_text(), "proposal", "ProposalState", "state")
        if path == owner:
            tree = ast.parse(path.read_text())
            mover = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "move_proposal")
            assert lines, "the scan sees move_proposal's write"
            assert all(mover.lineno <= ln <= (mover.end_lineno or 0) for ln in lines), lines
        else:
            assert lines == [], path
