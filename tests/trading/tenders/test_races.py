"""Tender transitions raced on PostgreSQL (tests.races): a locked read must see the row as the
lock finds it, not as the request read it a moment before."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from archive.audit import AuditEvent
from tests.factories import api_token, make_signer, make_user, tender_body, upload
from tests.races import when_statement
from trading.accounts.models import Role
from trading.opening.models import Ceremony
from trading.tenders.models import Tender

pytestmark = pytest.mark.integration


def test_two_staff_publishing_at_once_publish_once(pg_app: Flask) -> None:
    """The second publication waits for the first's lock and is then refused: before, it read the
    tender (submitted) just before the first committed, kept that copy under the lock and
    published it again."""
    app, client, db = pg_app, pg_app.test_client(), pg_app.extensions["ggzy.db"]
    with db.session() as s:
        tenderee = make_signer(s, app, Role.TENDEREE)
        staff = [make_user(s, Role.STAFF), make_user(s, Role.STAFF)]
    ht = api_token(client, tenderee.user.username)
    code = client.post("/api/v1/tenders", json=tender_body(), headers=ht).get_json()["code"]
    upload(client, ht, tenderee, code, "招标文件.pdf", b"%PDF docs")
    assert client.post(f"/api/v1/tenders/{code}/submit", headers=ht).status_code == 200
    h = [api_token(client, u.username) for u in staff]
    other: dict[str, Any] = {}

    def the_other_publishes() -> None:
        other["r"] = app.test_client().post(f"/api/v1/tenders/{code}/publish", headers=h[1])

    with when_statement(app, "SELECT tender.", the_other_publishes, after=True) as fired:
        mine = client.post(f"/api/v1/tenders/{code}/publish", headers=h[0])
    assert fired[0]
    assert other["r"].status_code == 200
    assert mine.status_code == 409, mine.get_json()
    with db.session() as s:
        tender = s.scalar(select(Tender).where(Tender.code == code))
        assert tender is not None
        assert s.scalar(select(func.count()).select_from(Ceremony).where(Ceremony.tender_id == tender.id)) == 1
        publications = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "tender.publish")
        assert s.scalar(publications) == 1
