"""The credit pages: the register with its filters, an entry with the revoke form, the import form
naming bad rows (nothing written), the proposals with their evidence links and forms, a check."""

from __future__ import annotations

import datetime as dt
import io

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import clock
from tests.factories import csrf_from, make_user, page_login, platform_keys
from tests.trading.credit.samples import as_csv, row
from tests.trading.credit.test_proposals import NOW, craft_trail
from trading.accounts.models import Role
from trading.credit import checks, proposals, rules
from trading.credit.models import CheckPurpose, CreditEntry, CreditProposal, ProposalState, SubjectKind


def staff_in(client: FlaskClient, session: Session, role: Role = Role.STAFF) -> None:
    user = make_user(session, role)
    session.commit()
    page_login(client, user.username)


def test_import_names_bad_rows_then_imports(client: FlaskClient, session: Session) -> None:
    staff_in(client, session)
    page = client.get("/credit/import").get_data(as_text=True)
    token = csrf_from(page)
    bad = as_csv([row(), row(region="3501", subject_name="<script>x</script>")])
    r = client.post("/credit/import", data={"csrf_token": token, "file": (io.BytesIO(bad), "l.csv")})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="bad-rows"' in html and "<td>3</td>" in html and "地区" in html
    assert "<script>x</script>" not in html
    assert session.scalar(select(func.count()).select_from(CreditEntry)) == 0
    good = as_csv([row(), row(list="local", measure="notice")])
    r = client.post("/credit/import", data={"csrf_token": token, "file": (io.BytesIO(good), "l.csv")})
    assert r.status_code == 302
    listing = client.get("/credit").get_data(as_text=True)
    assert "导入完成：共 2 条，新增 2 条" in listing and "地方信用名单" in listing
    assert client.get("/credit?in_force_on=2026-99-01").status_code == 422
    r = client.post("/credit/import", data={"file": (io.BytesIO(good), "l.csv")})
    assert r.status_code == 302 and session.scalar(select(func.count()).select_from(CreditEntry)) == 2


def test_an_entry_is_revoked_from_its_page(client: FlaskClient, session: Session) -> None:
    staff_in(client, session)
    token = csrf_from(client.get("/credit/import").get_data(as_text=True))
    client.post("/credit/import", data={"csrf_token": token, "file": (io.BytesIO(as_csv([row()])), "l.csv")})
    entry = session.scalars(select(CreditEntry)).one()
    page = client.get(f"/credit/entries/{entry.id}").get_data(as_text=True)
    assert 'id="revoke-form"' in page
    r = client.post(f"/credit/entries/{entry.id}/revoke", data={"csrf_token": token, "reason": "原决定已被撤销"})
    assert r.status_code == 302
    session.refresh(entry)
    assert entry.revoked_at is not None
    assert "已撤销" in client.get(f"/credit/entries/{entry.id}").get_data(as_text=True)


def test_proposals_page_links_evidence_and_decides(client: FlaskClient, session: Session) -> None:
    craft_trail(session)
    proposals.sweep(session, NOW)
    staff_in(client, session)
    page = client.get("/credit/proposals").get_data(as_text=True)
    assert "开标时未解密（撤销）" in page and "/audit?action=ceremony.classify" in page
    token = csrf_from(page)
    target = session.scalars(select(CreditProposal).where(CreditProposal.subject_kind == SubjectKind.EXPERT)).one()
    form = {
        "csrf_token": token,
        "measure": "draw_suspension",
        "region": "000000",
        "starts_on": "2026-11-01",
        "reason": "签署回避承诺后才回避",
    }
    assert client.post(f"/credit/proposals/{target.id}/confirm", data=form).status_code == 302
    session.refresh(target)
    assert target.state is ProposalState.CONFIRMED
    other = session.scalars(select(CreditProposal).where(CreditProposal.state == ProposalState.PROPOSED)).first()
    assert other is not None
    client.post(f"/credit/proposals/{other.id}/dismiss", data={"csrf_token": token, "reason": "短"})
    session.refresh(other)
    assert other.state is ProposalState.PROPOSED  # refused by name, nothing moved


def test_a_supervisor_reads_but_has_no_forms(app: Flask, client: FlaskClient, session: Session) -> None:
    c = checks.check(
        session,
        platform_keys(app),
        checks.Subject(SubjectKind.ORGANISATION, "913501000000000051", "某公司"),
        rules.Scope("350100", "goods", dt.date(2026, 12, 1)),
        purpose=CheckPurpose.EVALUATION,
        tender_code="GGZY-2026-000888",
        lot_number=1,
        now=clock.now(),
    )
    staff_in(client, session, Role.SUPERVISOR)
    page = client.get(f"/credit/checks/{c.id}").get_data(as_text=True)
    assert "未发现信用记录" in page and c.statement_sm3 in page
    assert client.get(f"/credit/checks/{c.id}/statement").data == c.statement.encode()
    assert "导入信用名单" not in client.get("/credit").get_data(as_text=True)
    assert client.get("/credit/import").status_code == 403
    assert client.get("/credit/proposals").status_code == 200


def test_a_bidder_is_refused_everywhere(client: FlaskClient, session: Session) -> None:
    staff_in(client, session, Role.BIDDER)
    for path in ("/credit", "/credit/entries/1", "/credit/import", "/credit/proposals", "/credit/checks/1"):
        assert client.get(path).status_code == 403, path
