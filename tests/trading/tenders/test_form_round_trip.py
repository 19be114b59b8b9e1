"""The tender form saves what it was shown: a draft made through the API (several specialties,
criteria of its own, its own price sheet, a lot's region, a joint opening) and saved unchanged
from ``/tenders/<code>/edit`` is the same tender afterwards."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from archive import clock
from tests.factories import api_token, lot_body, make_signer, make_user, page_login, tender_body
from trading.accounts.models import Role
from trading.tenders.models import Tender


class FormReader(HTMLParser):
    """What a browser sends for the page's tender form when 保存 is pressed: every named input
    (a checkbox only when checked), each select's selected option (else its first), textareas."""

    def __init__(self) -> None:
        super().__init__()
        self.pairs: list[tuple[str, str]] = []
        self.inside = False
        self.select: str | None = None
        self.options: list[tuple[str, bool]] = []
        self.textarea: str | None = None
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and "tender-form" in a.get("class", ""):
            self.inside = True
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            if a.get("type") == "checkbox" and "checked" not in a:
                return
            self.pairs.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self.select, self.options = a.get("name"), []
        elif tag == "option" and self.select is not None:
            self.options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea":
            self.textarea, self.text = a.get("name"), ""

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self.select is not None:
            chosen = [v for v, on in self.options if on] or [v for v, _ in self.options[:1]]
            self.pairs.append((self.select, chosen[-1]))
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            self.pairs.append((self.textarea, self.text.removeprefix("\n")))
            self.textarea = None


def saved_as_shown(client: FlaskClient, code: str) -> tuple[int, str]:
    page = client.get(f"/tenders/{code}/edit")
    assert page.status_code == 200
    reader = FormReader()
    reader.feed(page.get_data(as_text=True))
    r = client.post(f"/tenders/{code}/edit", data=MultiDict([*reader.pairs, ("action", "save")]))
    return r.status_code, r.get_data(as_text=True)


def snapshot(tender: Tender) -> dict[str, Any]:
    columns = ("title", "description", "category", "procedure_code", "region", "bid_deadline", "bid_validity_days")
    keep = {k: getattr(tender, k) for k in (*columns, "joint_opening", "agency_org_id", "tenderee_org_id")}
    lot_columns = (
        "number",
        "name",
        "estimated_price",
        "bond_amount",
        "region",
        "evaluation_method",
        "criteria",
        "committee_size",
        "specialties",
        "price_fields",
        "guarantee_sealed",
    )
    keep["lots"] = [{k: getattr(lot, k) for k in lot_columns} for lot in tender.lots]
    return keep


CUSTOM = {
    "compliance": ["营业执照", "施工资质", "项目经理注册证书"],
    "factors": [{"name": "施工方案", "weight": 45}, {"name": "业绩", "weight": 15, "objective": True}],
    "price": {"formula": "benchmark", "weight": 40},
}


def api_draft(app: Flask, session: Session, **over: Any) -> tuple[FlaskClient, str]:
    signer = make_signer(session, app, Role.TENDEREE)
    session.commit()
    api = app.test_client()
    headers = api_token(api, signer.user.username)
    # seconds in the deadline: the form must not round them away
    deadline = (clock.now() + dt.timedelta(days=25)).replace(second=17, microsecond=0)
    r = api.post("/api/v1/tenders", json=tender_body(deadline, **over), headers=headers)
    assert r.status_code == 201, r.get_json()
    page = app.test_client()
    page_login(page, signer.user.username)
    return page, r.get_json()["code"]


def test_an_api_draft_saved_unchanged_from_the_form_is_unchanged(app: Flask, session: Session) -> None:
    lots = [
        lot_body(
            criteria=CUSTOM,
            committee_size=7,
            specialties=[{"code": "A01", "count": 3}, {"code": "A08", "count": 2}],
            price_fields=[{"name": "quality", "label": "质量标准", "kind": "text"}],
            region="350102",
        ),
        lot_body(name="二标段：监理", guarantee_sealed=True),
    ]
    page, code = api_draft(app, session, joint_opening=True, lots=lots, description="两个标段")
    tender = session.scalar(select(Tender).where(Tender.code == code))
    assert tender is not None
    before = snapshot(tender)
    edit = page.get(f"/tenders/{code}/edit").get_data(as_text=True)
    # what the form cannot change is said per lot, by name, not hidden
    assert "合并开标" in edit and "工程施工专家" in edit and "质量标准" in edit and "鼓楼区" in edit
    status, html = saved_as_shown(page, code)
    assert status == 302, html
    session.expire_all()
    tender = session.scalar(select(Tender).where(Tender.code == code))
    assert tender is not None
    assert snapshot(tender) == before


def test_a_form_made_lot_keeps_its_template(app: Flask, session: Session) -> None:
    """Every template, saved unchanged, stays itself (the stored criteria carry defaults the
    templates leave out, such as a factor's ``objective``)."""
    from trading.procedures.scoring import SCORING_TEMPLATES

    lots = [
        lot_body(name=f"标段{key}", evaluation_method=t["method"], criteria=t["criteria"])
        for key, t in SCORING_TEMPLATES.items()
    ]
    page, code = api_draft(app, session, lots=lots)
    edit = page.get(f"/tenders/{code}/edit").get_data(as_text=True)
    assert "保持现有评分标准" not in edit  # each is one of the page's templates
    tender = session.scalar(select(Tender).where(Tender.code == code))
    assert tender is not None
    before = snapshot(tender)
    assert saved_as_shown(page, code)[0] == 302
    session.expire_all()
    tender = session.scalar(select(Tender).where(Tender.code == code))
    assert tender is not None and snapshot(tender) == before


def test_the_form_changes_what_it_shows_and_keeps_the_rest(app: Flask, session: Session) -> None:
    lot = lot_body(
        criteria=CUSTOM,
        committee_size=7,
        specialties=[{"code": "A01", "count": 3}, {"code": "A08", "count": 2}],
        price_fields=[{"name": "quality", "label": "质量标准", "kind": "text"}],
    )
    page, code = api_draft(app, session, joint_opening=True, lots=[lot, lot_body(name="二标段")])
    reader = FormReader()
    reader.feed(page.get(f"/tenders/{code}/edit").get_data(as_text=True))
    pairs = [(k, v) for k, v in reader.pairs if k != "joint_opening"]  # unticked
    # the first lot removed: the second keeps its own settings, not the first's
    r = page.post(f"/tenders/{code}/edit", data=MultiDict([*pairs, ("remove_lot", "1")]))
    assert r.status_code == 200
    again = FormReader()
    again.feed(r.get_data(as_text=True))
    assert [v for k, v in again.pairs if k == "lot_name"] == ["二标段"]
    r = page.post(f"/tenders/{code}/edit", data=MultiDict([*again.pairs, ("action", "save")]))
    assert r.status_code == 302, r.get_data(as_text=True)
    session.expire_all()
    tender = session.scalar(select(Tender).where(Tender.code == code))
    assert tender is not None and not tender.joint_opening
    assert [(x.name, x.specialties, x.criteria["compliance"]) for x in tender.lots] == [
        ("二标段", [{"code": "A01", "count": 4}], ["营业执照", "施工资质"])
    ]
    # choosing one of the page's templates replaces a lot's own criteria
    reader = FormReader()
    reader.feed(page.get(f"/tenders/{code}/edit").get_data(as_text=True))
    pairs = [(k, "lowest" if k == "template" else v) for k, v in reader.pairs]
    assert page.post(f"/tenders/{code}/edit", data=MultiDict([*pairs, ("action", "save")])).status_code == 302
    session.expire_all()
    assert tender.lots[0].evaluation_method.value == "lowest_price"


def test_keeping_criteria_needs_a_lot_to_keep_them_from(app: Flask, session: Session) -> None:
    """``keep`` is offered only for a lot that has criteria of its own; sent for a new lot (or to
    the new-tender page) it is refused by name, never a 500 or a silent template."""
    page, code = api_draft(app, session, lots=[lot_body(criteria=CUSTOM)])
    reader = FormReader()
    reader.feed(page.get(f"/tenders/{code}/edit").get_data(as_text=True))
    pairs = [(k, v) for k, v in reader.pairs if k != "lot_origin"]
    r = page.post(f"/tenders/{code}/edit", data=MultiDict([*pairs, ("action", "save")]))
    assert r.status_code == 422 and "请选择评标办法" in r.get_data(as_text=True)
    forged = [(k, "99" if k == "lot_origin" else v) for k, v in reader.pairs]
    r = page.post(f"/tenders/{code}/edit", data=MultiDict([*forged, ("action", "save")]))
    assert r.status_code == 422 and "请选择评标办法" in r.get_data(as_text=True)


def test_an_agency_saves_its_draft_unchanged(app: Flask, session: Session) -> None:
    """An agency's form names the tenderee: filled from the draft, not left at 请选择."""
    tenderee = make_user(session, Role.TENDEREE)
    agent = make_user(session, Role.AGENCY)
    session.commit()
    api = app.test_client()
    body = tender_body(tenderee_org_id=tenderee.organisation_id)
    r = api.post("/api/v1/tenders", json=body, headers=api_token(api, agent.username))
    assert r.status_code == 201, r.get_json()
    code = r.get_json()["code"]
    page = app.test_client()
    page_login(page, agent.username)
    tender = session.scalar(select(Tender).where(Tender.code == code))
    assert tender is not None
    before = snapshot(tender)
    status, html = saved_as_shown(page, code)
    assert status == 302, html
    session.expire_all()
    tender = session.scalar(select(Tender).where(Tender.code == code))
    assert tender is not None and snapshot(tender) == before
