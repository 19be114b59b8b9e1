"""``/api/v1/me/notifications`` (issue 20): each notice with its id and tender; ``?since=`` gives
those after an instant, oldest first, at most ``limit`` (≤ 100), with ``more`` to ask again; a page
never ends inside a run of notices sharing one instant, so following ``created_at`` loses none."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import api_token, make_user, tender_body
from trading.accounts.models import Role
from trading.tenders.models import Notification, Tender

URL = "/api/v1/me/notifications"
BASE = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)


def notices(session: Session, org_id: int, tender_id: int | None, n: int, tie_every: int = 1) -> None:
    """``n`` notices, ``tie_every`` of them at each millisecond from BASE on."""
    session.add_all(
        Notification(
            org_id=org_id,
            tender_id=tender_id,
            message=f"通知{i:03d}",
            created_at=BASE + dt.timedelta(milliseconds=i // tie_every),
        )
        for i in range(n)
    )
    session.commit()


@pytest.fixture
def world(client: FlaskClient, session: Session) -> dict[str, Any]:
    tenderee, bidder, other = (make_user(session, r) for r in (Role.TENDEREE, Role.BIDDER, Role.BIDDER))
    session.commit()
    r = client.post("/api/v1/tenders", json=tender_body(), headers=api_token(client, tenderee.username))
    assert r.status_code == 201, r.get_json()
    tender = session.scalars(select(Tender).where(Tender.code == r.get_json()["code"])).one()
    return {
        "code": tender.code,
        "tender_id": tender.id,
        "org": bidder.organisation_id,
        "me": api_token(client, bidder.username),
        "other": api_token(client, other.username),
    }


def follow(client: FlaskClient, headers: dict[str, str], since: str, limit: int) -> list[str]:
    got: list[str] = []
    while True:
        body = client.get(URL, query_string={"since": since, "limit": limit}, headers=headers).get_json()
        got += [n["message"] for n in body["items"]]
        if not body["more"]:
            return got
        assert body["items"], "more, but an empty page"
        since = body["items"][-1]["created_at"]


def test_the_default_answer_and_since(client: FlaskClient, session: Session, world: dict[str, Any]) -> None:
    notices(session, world["org"], world["tender_id"], 25)
    body = client.get(URL, headers=world["me"]).get_json()
    items = body["items"]
    assert [n["message"] for n in items] == [f"通知{i:03d}" for i in range(24, 4, -1)]  # the latest 20, newest first
    assert items[0]["tender"] == world["code"] and isinstance(items[0]["id"], int) and body["more"] is False
    assert dt.datetime.fromisoformat(items[0]["created_at"]) == BASE + dt.timedelta(milliseconds=24)
    assert client.get(URL, headers=world["other"]).get_json()["items"] == []  # another organisation's
    r = client.get(URL, query_string={"since": "2026-11-02T09:00:00.004+08:00", "limit": 3}, headers=world["me"])
    body = r.get_json()
    assert [n["message"] for n in body["items"]] == ["通知005", "通知006", "通知007"] and body["more"] is True
    assert follow(client, world["me"], "2026-11-02T00:00:00Z", 7) == [f"通知{i:03d}" for i in range(25)]
    r = client.get(URL, query_string={"since": "2026-11-02T01:00:00.024Z"}, headers=world["me"])
    assert r.get_json() == {"items": [], "server_time": r.get_json()["server_time"], "more": False}
    # an unencoded "+" arrives as a space: still read as the offset
    r = client.get(f"{URL}?since=2026-11-02T09:00:00.023+08:00", headers=world["me"])
    assert [n["message"] for n in r.get_json()["items"]] == ["通知024"]


def test_a_page_never_ends_inside_one_instant(client: FlaskClient, session: Session, world: dict[str, Any]) -> None:
    notices(session, world["org"], None, 130, tie_every=3)  # three notices at each instant, none with a tender
    body = client.get(URL, query_string={"since": "2026-11-01T00:00:00Z", "limit": 100}, headers=world["me"]).get_json()
    assert len(body["items"]) == 99 and body["more"] and body["items"][0]["tender"] is None  # not 100: 99 ends a run
    got = follow(client, world["me"], "2026-11-01T00:00:00Z", 100)
    assert got == [f"通知{i:03d}" for i in range(130)]
    assert follow(client, world["me"], "2026-11-01T00:00:00Z", 3) == got  # pages of one run each


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"since": "yesterday"}, "invalid_input"),
        ({"since": "2026-11-02T09:00:00"}, "invalid_input"),  # no offset: which zone?
        ({"since": "1999-11-02T09:00:00Z"}, "invalid_input"),
        ({"since": "2026-11-02T09:00:00Z\x00"}, "nul_character"),  # refused before the view
        ({"since": "2026-11-02T09:00:00Z", "limit": "101"}, "bad_integer"),
        ({"limit": "0"}, "bad_integer"),
        ({"limit": "x"}, "bad_integer"),
    ],
)
def test_bad_input_is_a_named_422(client: FlaskClient, session: Session, query: dict[str, str], code: str) -> None:
    user = make_user(session, Role.BIDDER)
    session.commit()
    r = client.get(URL, query_string=query, headers=api_token(client, user.username))
    assert r.status_code == 422 and r.get_json()["error"]["code"] == code, r.get_json()
    if code != "nul_character":  # that one is refused before anything else, whoever asks
        assert client.get(URL, query_string=query).status_code == 401  # anonymous
