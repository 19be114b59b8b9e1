"""Collusion signals through a real opening (SQLite and PostgreSQL): nothing computed or visible
before it, every signal computed once after it with its evidence and the platform's signature,
a package that cannot be read skipped without holding up the rest, who may read them, bad input."""

from __future__ import annotations

import datetime as dt
import pathlib
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import AuditEvent
from signing.certs import Certificate
from signing.statements import SignedStatement
from tests.factories import api_token, make_user, page_login
from tests.trading.signals.helpers import FORM, sweep, tender_with_bids
from tests.trading.signals.test_collusion_rules import pdf
from tests.trading.test_cli import demo_environment
from tests.trading.test_draw import run_opening
from trading.accounts.models import Role
from trading.bids.models import BidOrigin
from trading.cli import main
from trading.core.services import services
from trading.opening.models import CeremonyBidder
from trading.signals.models import SignalRun

PLAN = pdf(Author="李四", Creator="WPS 文字", CreationDate="D:20261201100000+08'00'")


def colluding(client: FlaskClient, session: Session, app: Flask) -> dict[str, Any]:
    """Bidders 0 and 1 share an address, an installation, a file (with its author), a price and a
    contact phone; bidder 2 shares only the tender's own form with them."""
    a, b = "0123456789abcdef" * 4, "fedcba9876543210" * 4
    bids = [
        {
            "price": "9000000.00",
            "files": {"技术标/方案.pdf": PLAN, "投标函.doc": FORM},
            "addr": "198.51.100.7",
            "install": a,
            "contact": "张伟",
            "phone": "13800000001",
            "rep": "赵一",
        },
        {
            "price": "9000000.00",
            "files": {"方案.pdf": PLAN, "投标函.doc": FORM},
            "addr": "198.51.100.7",
            "install": a,
            "contact": "张伟",
            "phone": "13800000001",
            "rep": "钱二",
        },
        {
            "price": "8123456.00",
            "files": {"方案.pdf": pdf(Author="王五"), "投标函.doc": FORM},
            "addr": "203.0.113.9",
            "install": b,
            "contact": "李娜",
            "phone": "13900000003",
            "rep": "孙三",
        },
    ]
    return tender_with_bids(client, session, app, bids, docs={"招标文件.pdf": b"%PDF docs", "投标函格式.doc": FORM})


def signals_url(t: dict[str, Any], lot: int = 1) -> str:
    return f"/api/v1/lots/{t['code']}/{lot}/signals"


def test_signals_after_the_opening_never_before(client: FlaskClient, session: Session, app: Flask) -> None:
    t = colluding(client, session, app)
    empty = tender_with_bids(client, session, app, [])
    # before the opening: nothing computed, and the same answer for a lot with bids and one without
    assert sweep(session, app) == 0 and session.scalar(select(func.count()).select_from(SignalRun)) == 0
    with_bids, without = (
        client.get(signals_url(t), headers=t["staff"]),
        client.get(signals_url(empty), headers=t["staff"]),
    )
    assert with_bids.status_code == without.status_code == 404
    assert with_bids.get_json() == without.get_json()
    assert with_bids.get_json()["error"]["code"] == "signals_not_computed"
    # the origins are kept, and nothing shows them: no event, no answer of the bid API
    origins = {o.install_id: o for o in session.scalars(select(BidOrigin))}
    assert set(origins) == {"0123456789abcdef" * 4, "fedcba9876543210" * 4}
    assert origins["fedcba9876543210" * 4].completed_from == "203.0.113.9"
    events = " ".join(session.scalars(select(AuditEvent.payload)))
    assert "198.51.100.7" not in events and "0123456789abcdef" not in events
    assert "198.51.100.7" not in client.get("/api/v1/bids", headers=t["headers"][0]).get_data(as_text=True)
    # the deadline passed, bidders signing in: still nothing (the ceremony has not decrypted)
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        client.get(f"/api/v1/ceremonies/{t['cid']}")
        assert sweep(session, app) == 0
    run_opening(client, app, t)
    later = t["deadline"] + dt.timedelta(hours=4)
    assert sweep(session, app, later) == 1 and sweep(session, app, later) == 0  # once
    got = client.get(signals_url(t), headers=t["staff"]).get_json()
    seats = dict(session.execute(select(CeremonyBidder.org_id, CeremonyBidder.id)).all())
    s0, s1 = (seats[b.user.organisation_id] for b in t["bidders"][:2])
    found = {(i["kind"], tuple(i["bidder_ids"])) for i in got["items"]}
    assert found == {
        ("same_address", (s0, s1)),
        ("same_install", (s0, s1)),
        ("same_file", (s0, s1)),  # the plan; the tender's own form shared by all three is not evidence
        ("same_metadata", (s0, s1)),  # its author 李四 and creation time
        ("price_pattern", (s0, s1)),
        ("same_person", (s0, s1)),
    }
    assert got["bids"] == 3 and got["files"] == 9 and got["skipped"] == []
    plan = next(i for i in got["items"] if i["kind"] == "same_file")
    assert plan["evidence"]["files"][0]["names"] == {str(s0): ["技术标/方案.pdf"], str(s1): ["方案.pdf"]}
    assert plan["bidders"] == [b.user.organisation.name for b in t["bidders"][:2]]
    # the list is signed by the platform, and the event counts without naming anyone
    platform = services(app).keys.sign_cert
    body = SignedStatement.from_json(got["statement"].encode()).verify(
        trusted=Certificate.from_pem(platform.to_pem()), expected_type="collusion_signals"
    )
    assert len(body["body"]["signals"]) == len(got["items"])
    ev = session.scalars(select(AuditEvent).where(AuditEvent.action == "signals.computed")).one()
    assert '"signals":' in ev.payload and "198.51.100.7" not in ev.payload


def test_an_honest_lot_has_no_signals(client: FlaskClient, session: Session, app: Flask) -> None:
    bids = [
        {
            "price": p,
            "files": {"方案.pdf": pdf(Author=f"作者{i}"), "投标函.doc": FORM},
            "addr": f"203.0.113.{i}",
            "install": f"{i}" * 64,
            "phone": f"1380000000{i}",
        }
        for i, p in enumerate(("8712000.00", "9050500.00", "9433300.00"), start=1)
    ]
    bids[0]["install"] = "NOT-AN-INSTALL-ID"  # malformed: kept as none, never compared
    t = tender_with_bids(client, session, app, bids, docs={"投标函格式.doc": FORM})
    assert sorted(o.install_id or "" for o in session.scalars(select(BidOrigin))) == ["", "2" * 64, "3" * 64]
    run_opening(client, app, t)
    assert sweep(session, app, t["deadline"] + dt.timedelta(hours=4)) == 1
    got = client.get(signals_url(t), headers=t["staff"]).get_json()
    assert got["items"] == [] and got["files"] == 9


def test_an_unreadable_package_is_skipped_and_the_others_read(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    t = colluding(client, session, app)
    run_opening(client, app, t)
    seat = session.scalars(select(CeremonyBidder).order_by(CeremonyBidder.id)).first()
    assert seat is not None
    seat.plaintext_key = services(app).store.put_bytes(b"not a zip at all, damaged since").key
    session.commit()
    assert sweep(session, app, t["deadline"] + dt.timedelta(hours=4)) == 1
    got = client.get(signals_url(t), headers=t["staff"]).get_json()
    assert got["skipped"] == [{"bidder": seat.id, "code": "archive_unreadable", "detail": got["skipped"][0]["detail"]}]
    assert got["files"] == 6
    kinds = {i["kind"] for i in got["items"]}
    assert "same_file" not in kinds and {"same_address", "price_pattern"} <= kinds  # its other facts still count


def test_who_may_read_and_bad_input(client: FlaskClient, session: Session, app: Flask) -> None:
    t = colluding(client, session, app)
    run_opening(client, app, t)
    sweep(session, app, t["deadline"] + dt.timedelta(hours=4))
    supervisor, expert = make_user(session, Role.SUPERVISOR), make_user(session, Role.EXPERT)
    session.commit()
    assert client.get(signals_url(t), headers=api_token(client, supervisor.username)).status_code == 200
    r = client.get(signals_url(t), headers=t["headers"][0])  # a bidder, even one the signals name
    assert r.status_code == 403
    r = client.get(signals_url(t), headers=api_token(client, expert.username))  # not on this committee
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_in_committee"
    r = client.get(signals_url(t), headers=t["tenderee"])
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_in_committee"
    assert client.get(signals_url(t)).status_code == 401
    for url in (signals_url(t, 9), "/api/v1/lots/NO-SUCH-CODE/1/signals", f"/api/v1/lots/{'x' * 300}/1/signals"):
        r = client.get(url, headers=t["staff"])
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    assert client.get(f"/api/v1/lots/{t['code']}/0/signals", headers=t["staff"]).status_code == 404


def test_the_pages_for_supervisors(client: FlaskClient, session: Session, app: Flask) -> None:
    t = colluding(client, session, app)
    bidder = t["bidders"][0].user.username
    page_login(client, t["staff_username"])
    assert client.get(f"/signals/{t['code']}/1").status_code == 404  # not before the opening
    run_opening(client, app, t)
    sweep(session, app, t["deadline"] + dt.timedelta(hours=4))
    listing = client.get("/signals").get_data(as_text=True)
    assert t["code"] in listing and "7 项" in listing and "尚未记录" in listing
    html = client.get(f"/signals/{t['code']}/1").get_data(as_text=True)
    assert "同一网络地址上传" in html and "198.51.100.7" in html and "报价相同" in html and "李四" in html
    assert "评标委员会尚未记录研判意见" in html
    # a PDF creation time in words (the raw value only in the stored evidence), file names and tools as code
    assert "创建时间均为“2026-12-01 10:00:00（UTC+08:00）”" in html and "<code>WPS 文字 / pypdf</code>" in html
    assert "<code>方案.pdf</code>" in html and html.count("D:20261201100000") == 1
    raw = html.index("D:20261201100000")
    assert html.rindex("<pre>", 0, raw) > html.rindex("</pre>", 0, raw)  # in the stored evidence only
    # not a dead end: the tender, and the room once there is one
    assert f'href="/tenders/{t["code"]}" id="tender-link"' in html and 'id="evaluation-link"' not in html
    assert client.get(f"/signals/{t['code']}/7").status_code == 404
    client.post("/logout")
    page_login(client, bidder)
    assert client.get("/signals").status_code == 403


def test_the_command_line_names_a_lot_it_cannot_find(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    demo_environment(monkeypatch, tmp_path / "instance")
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    for cmd in ("show", "compute"):
        r = runner.invoke(main, ["signals", cmd, "GGZY-2026-000404", "1"])
        assert r.exit_code == 2 and "GGZY-2026-000404 的标段 1 不存在" in r.output, r.output
    assert runner.invoke(main, ["signals", "show", "X", "0"]).exit_code == 2
