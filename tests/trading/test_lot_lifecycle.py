"""The lot's life: the transition table, and what users see when a lot fails at the deadline
(流标公告, notices, the status on every page) or is awarded (中标通知 / 未中标)."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM
from tests.factories import page_login
from tests.trading.opening.test_ceremony import open_tender
from tests.trading.test_draw import run_opening
from tests.trading.test_evaluation import evaluate_to_publicity, finish_award
from trading.core.errors import Conflict
from trading.tenders.lifecycle import LOT_MOVES, TENDER_MOVES, move_lot, move_tender
from trading.tenders.models import Announcement, AnnouncementKind, AnnouncementState, Lot, LotState, TenderState
from trading.tenders.rules import life_label, lot_life_label

B, E, F, A, T = LotState.BIDDING, LotState.EVALUATING, LotState.FAILED, LotState.AWARDED, LotState.TERMINATED
OP, P = LotState.OPENING, LotState.PUBLICITY


def test_the_transition_table() -> None:
    assert LOT_MOVES[B] == {OP, F, T}
    assert LOT_MOVES[OP] == {E, F}
    assert LOT_MOVES[E] == {F, P}
    assert LOT_MOVES[P] == {A}
    assert all(not LOT_MOVES[s] for s in (F, A, T))  # the ends are final
    S = TenderState
    assert TENDER_MOVES[S.PUBLISHED] == {S.BIDDING_CLOSED, S.SUSPENDED, S.TERMINATED}
    assert not TENDER_MOVES[S.BIDDING_CLOSED] and not TENDER_MOVES[S.TERMINATED]
    assert S.PUBLISHED not in TENDER_MOVES[S.DRAFT]  # publishing goes through review


def test_life_labels_follow_the_whole_life() -> None:
    assert life_label(TenderState.SUBMITTED, [B]) == "待审核"
    assert life_label(TenderState.PUBLISHED, [B, B]) == "招标中"
    assert life_label(TenderState.BIDDING_CLOSED, [B]) == "投标已截止"
    assert life_label(TenderState.BIDDING_CLOSED, [OP]) == "开标中"
    assert life_label(TenderState.BIDDING_CLOSED, [E]) == "评标中"
    assert life_label(TenderState.BIDDING_CLOSED, [P]) == "公示中"
    assert life_label(TenderState.BIDDING_CLOSED, [P, OP]) == "开标中"  # the least advanced running lot
    assert life_label(TenderState.BIDDING_CLOSED, [A]) == "已定标"
    assert life_label(TenderState.BIDDING_CLOSED, [F]) == "流标"
    assert life_label(TenderState.TERMINATED, [T]) == "已终止"
    assert life_label(TenderState.BIDDING_CLOSED, [A, F]) == "部分标段已定标"
    assert life_label(TenderState.BIDDING_CLOSED, [F, E]) == "评标中"  # the furthest common state
    assert life_label(TenderState.BIDDING_CLOSED, [F, T]) == "流标"
    assert lot_life_label(TenderState.PUBLISHED, B) == "招标中"


def _notices(client: FlaskClient, username: str) -> str:
    page_login(client, username)
    html = client.get("/my/notifications").get_data(as_text=True)
    client.get("/logout")
    return html


def test_a_lot_failing_at_the_deadline(client: FlaskClient, session: Session, app: Flask) -> None:
    t = open_tender(client, session, app, 2)  # fewer than the procedure's three
    names = [b.user.organisation.name for b in t["bidders"]]
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        assert client.get(f"/api/v1/ceremonies/{t['cid']}").get_json()["stage"] == "failed"
        session.expire_all()
        ann = session.scalars(select(Announcement).where(Announcement.kind == AnnouncementKind.FAILURE)).one()
        assert ann.status is AnnouncementState.PUBLISHED and ann.content_sm3  # published, not a draft
        assert "投标人不足3家" in ann.body and not any(n in ann.body for n in names)  # why, never who
        lot = session.scalars(select(Lot)).one()
        assert lot.status is LotState.FAILED
        with pytest.raises(Conflict) as e:  # an end is final
            move_lot(session, SYSTEM, lot, LotState.EVALUATING, reason="x", now=clock.now())
        assert e.value.code == "lot_transition"
        with pytest.raises(Conflict) as e:  # after the deadline the tender does not go back
            move_tender(session, SYSTEM, lot.tender, TenderState.PUBLISHED, action="tender.resume")
        assert e.value.code == "tender_transition"
        session.rollback()

        public = client.get(f"/announcements/{ann.id}").get_data(as_text=True)
        assert "流标公告" in public and "投标人不足3家" in public and '<span class="status">流标</span>' in public
        assert '<td class="status">流标</td>' in client.get("/portal").get_data(as_text=True)
        page = client.get(f"/tenders/{t['code']}").get_data(as_text=True)
        assert 'data-status="bidding_closed">流标' in page and "投标已截止" not in page
        for b in t["bidders"]:  # every registered bidder is told, with the reason
            html = _notices(client, b.user.username)
            assert "流标" in html and "投标人不足3家" in html
        assert "流标公告已发布" in _notices(client, t["tenderee_username"])
        page_login(client, t["tenderee_username"])
        assert '<td class="status">流标</td>' in client.get("/my/tenders").get_data(as_text=True)


def test_an_awarded_lot(client: FlaskClient, session: Session, app: Flask) -> None:
    t = open_tender(client, session, app, 3)
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        client.get(f"/api/v1/ceremonies/{t['cid']}")  # the room opens at the deadline
        assert 'data-status="bidding_closed">开标中' in client.get(f"/tenders/{t['code']}").get_data(as_text=True)
        assert '<td class="status">开标中</td>' in client.get("/portal").get_data(as_text=True)
    run_opening(client, app, t)
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)) as moment:
        assert "评标中" in client.get(f"/tenders/{t['code']}").get_data(as_text=True)
        got = evaluate_to_publicity(client, session, app, t)
        assert 'data-status="bidding_closed">公示中' in client.get(f"/tenders/{t['code']}").get_data(as_text=True)
        assert '<td class="status">公示中</td>' in client.get("/portal").get_data(as_text=True)
        for b in t["bidders"]:  # every registered bidder is told the candidates are publicised
            assert "中标候选人公示已发布" in _notices(client, b.user.username)
        page_login(client, t["tenderee_username"])
        assert '<td class="status">公示中</td>' in client.get("/my/tenders").get_data(as_text=True)
        client.get("/logout")
        got = finish_award(client, t, got, moment)
        winner = got["winner"]["bidder"]
        page = client.get(f"/tenders/{t['code']}").get_data(as_text=True)
        assert 'data-status="bidding_closed">已定标' in page and "投标已截止" not in page
        assert '<td class="status">已定标</td>' in client.get("/portal").get_data(as_text=True)
        for b in t["bidders"]:
            html = _notices(client, b.user.username)
            if b.user.organisation.name == winner:
                assert "中标通知" in html and "贵单位为中标人" in html and "未中标" not in html
            else:
                assert "未中标通知" in html and f"中标人为{winner}" in html
        assert f"已定标，中标人：{winner}" in _notices(client, t["tenderee_username"])
        page_login(client, t["tenderee_username"])
        assert '<td class="status">已定标</td>' in client.get("/my/tenders").get_data(as_text=True)


def test_terminating_a_draft_ends_its_lots(session: Session, app: Flask) -> None:
    """A tender never published has no opening rooms to cancel: its lots end with it, so the sweeps
    that select ended lots (archives, the release of guarantees) see them."""
    from tests.factories import make_user, tender_body
    from trading.accounts.models import Role
    from trading.tenders.drafting import create_tender
    from trading.tenders.schemas import TenderIn
    from trading.tenders.termination import terminate_tender

    user = make_user(session, Role.TENDEREE)
    tender = create_tender(session, user, TenderIn(**tender_body(clock.now() + dt.timedelta(days=30))))
    terminate_tender(session, user, tender, "项目取消")
    assert tender.status is TenderState.TERMINATED
    assert [lot.status for lot in tender.lots] == [LotState.TERMINATED]
    assert life_label(tender.status, [lot.status for lot in tender.lots]) == "已终止"
    assert not tender.is_public  # what was never published stays private


def test_a_terminated_draft_is_not_shown_to_the_public(client: FlaskClient, session: Session) -> None:
    from tests.factories import api_token, make_user, tender_body
    from trading.accounts.models import Role

    user = make_user(session, Role.TENDEREE)
    session.commit()
    h = api_token(client, user.username)
    r = client.post("/api/v1/tenders", json=tender_body(clock.now() + dt.timedelta(days=30)), headers=h)
    code = r.get_json()["code"]
    r = client.post(f"/api/v1/tenders/{code}/terminate", json={"reason": "项目取消"}, headers=h)
    assert r.status_code == 200, r.get_json()
    assert client.get(f"/api/v1/tenders/{code}", headers=h).get_json()["status"] == "terminated"
    assert client.get(f"/tenders/{code}").status_code == 404  # anonymous: it was never public
