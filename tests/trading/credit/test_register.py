"""What a check finds: each list kind, the period's first and last day and the day after, no end,
a revocation before and after the check's instant, region scope (nationwide, province, city,
county, another province) and category scope; and the signed snapshot served byte for byte."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM
from signing.digest import sm3_hex
from tests.factories import api_token, make_user, platform_keys, valid_code
from trading.accounts.models import Role
from trading.core.hooks import Hook
from trading.credit import checks, hooks, rules
from trading.credit.entries import NewEntry, add_entry, revoke_entry
from trading.credit.models import CheckPurpose, CreditList, Measure, SubjectKind
from trading.pki.operations import trust_store
from trading.tenders.models import TenderCategory

NOW = dt.datetime(2026, 10, 12, 2, 0, tzinfo=dt.UTC)
FUZHOU = "350100"  # 福州市


def entry(session: Session, code: str, **over: Any) -> Any:
    new = NewEntry(
        **{
            "subject_kind": SubjectKind.ORGANISATION,
            "subject_id": code,
            "subject_name": "某公司",
            "list_kind": CreditList.DISHONEST_DEBTORS,
            "measure": Measure.BAR_BIDDING,
            "region": "000000",
            "category": None,
            "starts_on": dt.date(2026, 3, 1),
            "ends_on": dt.date(2026, 8, 31),
            "authority": "某法院",
            "document_no": "（2026）执1号",
            "facts": "",
            "source": "test",
            "source_ref": valid_code(),
            **over,
        }
    )
    return add_entry(session, SYSTEM, new, user_id=None, import_id=None, now=NOW - dt.timedelta(days=300))[0]


def found(
    session: Session,
    code: str,
    on: dt.date,
    region: str = FUZHOU,
    category: str = "construction",
    at: dt.datetime = NOW,
) -> list[int]:
    subject = checks.Subject(SubjectKind.ORGANISATION, code, "某公司")
    return [e.id for e in checks.applying(session, subject, rules.Scope(region, category, on), at)]


def test_the_categories_are_the_tenders(session: Session) -> None:
    assert tuple(c.value for c in TenderCategory) == rules.CATEGORIES
    assert {c.value: c.label for c in TenderCategory} == rules.CATEGORY_LABELS


@pytest.mark.parametrize("kind", [k for k in CreditList])
def test_each_list_kind_bars_or_informs(session: Session, kind: CreditList) -> None:
    code = valid_code()
    barring = entry(session, code, list_kind=kind)
    notice = entry(session, code, list_kind=kind, measure=Measure.NOTICE)
    assert found(session, code, dt.date(2026, 5, 1)) == [barring.id, notice.id]
    assert rules.bars(checks.facts_of(barring)) and not rules.bars(checks.facts_of(notice))


def test_date_boundaries(session: Session) -> None:
    code, endless = valid_code(), valid_code()
    e = entry(session, code)
    entry(session, endless, ends_on=None)
    assert found(session, code, dt.date(2026, 2, 28)) == []
    assert found(session, code, dt.date(2026, 3, 1)) == [e.id]  # first day
    assert found(session, code, dt.date(2026, 8, 31)) == [e.id]  # last day, inclusive
    assert found(session, code, dt.date(2026, 9, 1)) == []  # the day after
    assert len(found(session, endless, dt.date(2099, 1, 1))) == 1


def test_revocation_counts_from_its_instant(session: Session) -> None:
    code = valid_code()
    e = entry(session, code)
    revoke_entry(session, SYSTEM, e, "原决定已撤销", user_id=None, now=NOW)
    assert found(session, code, dt.date(2026, 5, 1), at=NOW - dt.timedelta(seconds=1)) == [e.id]  # a check before it
    assert found(session, code, dt.date(2026, 5, 1), at=NOW) == []
    assert found(session, code, dt.date(2026, 5, 1), at=NOW + dt.timedelta(days=1)) == []


@pytest.mark.parametrize(
    ("entry_region", "tender_region", "applies"),
    [
        ("000000", "650102", True),  # nationwide
        ("350000", "350102", True),  # the province: a county in it
        ("350000", "360100", False),  # another province
        ("350100", "350102", True),  # the city: a county in it
        ("350100", "350200", False),  # another city of the province
        ("350102", "350102", True),  # the county itself
        ("350102", "350103", False),  # the next county
        ("350102", "350100", False),  # a county's entry does not reach the whole city
    ],
)
def test_region_scope(session: Session, entry_region: str, tender_region: str, applies: bool) -> None:
    code = valid_code()
    entry(session, code, region=entry_region)
    assert bool(found(session, code, dt.date(2026, 5, 1), region=tender_region)) is applies


def test_category_scope(session: Session) -> None:
    code = valid_code()
    goods = entry(session, code, category="goods")
    every = entry(session, code, category=None)
    assert found(session, code, dt.date(2026, 5, 1), category="goods") == [goods.id, every.id]
    assert found(session, code, dt.date(2026, 5, 1), category="construction") == [every.id]


def test_an_expert_suspension_is_for_draws_only(session: Session) -> None:
    entry(session, "4242", subject_kind=SubjectKind.EXPERT, measure=Measure.DRAW_SUSPENSION, ends_on=None)
    assert checks.draw_suspensions(session, [4242, 4343], dt.date(2026, 5, 1), NOW) == {4242: dt.date.max}


def test_the_snapshot_is_served_byte_for_byte(
    app: Flask, client: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = valid_code()
    e = entry(session, code)
    keys = platform_keys(app)
    scope = rules.Scope(FUZHOU, "construction", dt.date(2026, 5, 1))
    subject = checks.Subject(SubjectKind.ORGANISATION, code, "某公司")
    at_evaluation = checks.check(
        session,
        keys,
        subject,
        scope,
        purpose=CheckPurpose.EVALUATION,
        tender_code="GGZY-2026-000777",
        lot_number=1,
        now=clock.now(),
    )
    at_registration = checks.check(
        session,
        keys,
        subject,
        scope,
        purpose=CheckPurpose.REGISTRATION,
        tender_code="GGZY-2026-000777",
        lot_number=None,
        now=clock.now(),
    )
    staff = make_user(session, Role.SUPERVISOR)
    session.commit()
    h = api_token(client, staff.username)
    got = client.get(f"/api/v1/credit/checks/{at_evaluation.id}", headers=h).get_json()
    assert (got["result"], [x["id"] for x in got["entries"]], got["subject"]["name"]) == ("barred", [e.id], "某公司")
    raw = client.get(f"/api/v1/credit/checks/{at_evaluation.id}/statement", headers=h)
    assert raw.status_code == 200 and raw.mimetype == "application/octet-stream"
    assert sm3_hex(raw.data) == got["statement_sm3"]
    body = checks.verified_body(raw.data, trust_store(session, keys))
    assert body["result"] == "barred" and body["entries"][0]["id"] == e.id
    # a registration names a bidder: hidden until tenders says the deadline has passed
    deadline_passed: list[bool] = []
    answer: Hook[[Session, str, dt.datetime], bool] = Hook("test.registration_public")
    answer.connect(lambda _s, code, _now: code == "GGZY-2026-000777" and bool(deadline_passed))
    monkeypatch.setattr(hooks, "registration_public", answer)
    assert client.get(f"/api/v1/credit/checks/{at_registration.id}", headers=h).status_code == 404
    assert client.get(f"/api/v1/credit/checks/{at_registration.id}/statement", headers=h).status_code == 404
    deadline_passed.append(True)
    assert client.get(f"/api/v1/credit/checks/{at_registration.id}", headers=h).status_code == 200
    assert client.get("/api/v1/credit/checks/999999/statement", headers=h).status_code == 404
