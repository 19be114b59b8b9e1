"""The warnings and the rules over HTTP and on the command line: who may read and edit them, the
bad input refused by name, the colour in words, and the start and stop events' inclusion proofs
checked with archive.merkle against the signed checkpoint."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import re
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from archive import clock
from archive import transparency as log
from archive.audit import SYSTEM, record_event
from archive.merkle import verify_inclusion
from signing.statements import SignedStatement
from tests.factories import api_token, csrf_from, make_user, page_login, platform_keys, tender_body
from tests.trading.test_cli import demo_environment
from trading.accounts.models import Role
from trading.cli import main
from trading.core.schemas import parse
from trading.supervision.clocks import sweep
from trading.supervision.rulebook import ensure_seed
from trading.supervision.rules import SEED
from trading.tenders.drafting import create_tender
from trading.tenders.schemas import TenderIn

MON = dt.datetime(2026, 9, 14, 2, 0, tzinfo=dt.UTC)  # Monday 10:00 Beijing
UTC_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d|\+00:00")


def a_late_award(session: Session, app: Flask) -> dict[str, Any]:
    """A lot publicised on Monday and awarded 10 days past the platform's limit: a red warning,
    its start event covered by a signed checkpoint, its stop event not yet."""
    with clock.frozen(MON) as moment:  # everything inside: the log's times never go backwards
        users = {role: make_user(session, role) for role in (Role.SUPERVISOR, Role.STAFF, Role.BIDDER, Role.TENDEREE)}
        tender = create_tender(
            session, users[Role.TENDEREE], parse(TenderIn, tender_body(deadline=MON + dt.timedelta(days=30)))
        )
        ensure_seed(session, SYSTEM)
        lot = tender.lots[0]
        start = record_event(session, SYSTEM, "lot.publicise", lot, {"from": "evaluating", "to": "publicity"})
        keys = platform_keys(app)
        log.request_checkpoint(session, "award", f"lot:{lot.id}")
        log.sign_pending(session, keys.sign_key, keys.sign_cert)
        session.commit()
        sweep(session, clock.now())
        moment.advance(days=30)
        stop = record_event(session, users[Role.TENDEREE], "lot.award", lot, {"from": "publicity", "to": "awarded"})
        session.commit()
        sweep(session, clock.now())
    return {"users": users, "tender": tender, "start": start, "stop": stop}


def test_a_red_warning_with_its_rule_and_its_events_proven(client: FlaskClient, session: Session, app: Flask) -> None:
    w = a_late_award(session, app)
    h = api_token(client, w["users"][Role.SUPERVISOR].username)
    r = client.get("/api/v1/supervision/warnings?colour=red", headers=h)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["total"] == 1 and body["per_page"] == 50
    (item,) = body["items"]
    assert (item["rule"], item["colour"], item["colour_label"], item["worst"], item["late"]) == (
        "award_after_publicity",
        "red",
        "红灯（超期）",
        "red",
        True,
    )
    assert item["tender"] == w["tender"].code and item["lot"] == 1 and item["remaining_seconds"] is None
    assert (
        client.get(
            f"/api/v1/supervision/warnings?tender={w['tender'].code}&rule=award_after_publicity", headers=h
        ).get_json()["total"]
        == 1
    )
    assert client.get("/api/v1/supervision/warnings?tender=GGZY-1999-000001", headers=h).get_json()["total"] == 0

    one = client.get(f"/api/v1/supervision/warnings/{item['id']}", headers=h).get_json()
    assert one["rule_detail"]["source"].startswith("平台规定") and "第四十五条" in one["rule_detail"]["source_text"]
    start, stop = one["start"], one["stop"]
    assert (start["seq"], start["action"], start["proof_pending"], start["verified"]) == (
        w["start"],
        "lot.publicise",
        False,
        True,
    )
    assert (stop["seq"], stop["action"], stop["proof_pending"], stop["proof"]) == (w["stop"], "lot.award", True, None)
    # the proof checks out against the root the platform signed, by the merkle module alone
    cp = start["checkpoint"]
    signed = SignedStatement.from_json(cp["statement"].encode())
    assert signed.body["root_sm3"] == cp["root_sm3"]
    assert verify_inclusion(
        start["seq"] - 1,
        cp["tree_size"],
        bytes.fromhex(start["leaf_hash"]),
        [bytes.fromhex(x) for x in start["proof"]],
        bytes.fromhex(cp["root_sm3"]),
    )
    assert client.get("/api/v1/supervision/warnings/999999", headers=h).status_code == 404

    # the pages: the colour in words, the law quoted, the pending proof said so
    page_login(client, w["users"][Role.SUPERVISOR].username)
    html = client.get("/supervision/warnings").get_data(as_text=True)
    assert "红灯（超期）" in html and "公示后确定中标人" in html
    html = client.get(f"/supervision/warnings/{item['id']}").get_data(as_text=True)
    assert "已核验" in html and "待下一个签名检查点" in html and "第四十五条" in html


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("colour=purple", 422, "unknown_colour"),
        ("rule=no_such_rule", 422, "unknown_rule"),
        ("page=0", 422, "bad_integer"),
        ("page=99999999999999999999", 422, "bad_integer"),
        ("tender=" + "X" * 40, 422, "invalid_input"),
    ],
)
def test_bad_filters_are_refused_by_name(
    client: FlaskClient, session: Session, query: str, status: int, code: str
) -> None:
    ensure_seed(session, SYSTEM)
    staff = make_user(session, Role.STAFF)
    session.commit()
    r = client.get(f"/api/v1/supervision/warnings?{query}", headers=api_token(client, staff.username))
    assert (r.status_code, r.get_json()["error"]["code"]) == (status, code)


def test_who_may_read_and_edit_the_rules(client: FlaskClient, session: Session) -> None:
    with clock.frozen(MON):
        ensure_seed(session, SYSTEM)
        users = {role: make_user(session, role) for role in (Role.SUPERVISOR, Role.STAFF, Role.BIDDER)}
        session.commit()
        assert client.get("/api/v1/supervision/rules").status_code == 401
        assert client.get("/api/v1/supervision/warnings").status_code == 401
        hb = api_token(client, users[Role.BIDDER].username)
        assert client.get("/api/v1/supervision/rules", headers=hb).status_code == 403
        assert client.get("/api/v1/supervision/warnings", headers=hb).status_code == 403
        hs = api_token(client, users[Role.STAFF].username)
        rules = client.get("/api/v1/supervision/rules", headers=hs).get_json()["items"]
        assert {x["code"] for x in rules} == {r.code for r in SEED}
        change = {"limit_value": 20, "reason": "本地区合同签订时限为二十日"}
        r = client.post("/api/v1/supervision/rules/contract", json=change, headers=hs)
        assert (r.status_code, r.get_json()["error"]["code"]) == (403, "forbidden")  # staff read only

        hv = api_token(client, users[Role.SUPERVISOR].username)
        for body, code in (
            ({"limit_value": 0, "reason": "时限不能为零"}, "invalid_input"),
            ({"limit_value": 5, "yellow_value": 6, "reason": "黄灯提前量过大"}, "bad_limit"),
            ({"limit_value": 30, "reason": "与现行版本相同"}, "rule_unchanged"),
            ({"limit_value": 20, "reason": "短"}, "invalid_input"),
            ({"limit_value": 20, "warned": ["everyone"], "reason": "通知对象不存在"}, "invalid_input"),
            ({"limit_value": 20, "start_action": "lot.open", "reason": "不能改事件"}, "invalid_input"),
            ({"title": "合同\u202e签订", "reason": "含双向控制字符"}, "invalid_input"),
        ):
            r = client.post("/api/v1/supervision/rules/contract", json=body, headers=hv)
            assert (r.status_code, r.get_json()["error"]["code"]) == (422, code), body
        r = client.post("/api/v1/supervision/rules/no_such_rule", json=change, headers=hv)
        assert r.status_code == 404
        r = client.post("/api/v1/supervision/rules/contract", data="x", headers=hv)
        assert r.status_code == 415
        r = client.post("/api/v1/supervision/rules/contract", json=change, headers=hv)
        assert r.status_code == 201, r.get_json()
        got = r.get_json()
        assert [v["version"] for v in got["versions"]] == [2, 1] and got["current"]["limit"] == "20日"
        assert got["current"]["change_reason"] == change["reason"]

        # the page: every version, and the form for supervisors only
        page_login(client, users[Role.STAFF].username)
        html = client.get("/supervision/rules/contract").get_data(as_text=True)
        assert "第 2 版" in html and "第 1 版" in html and "rule-form" not in html
        assert "三十日内" in html  # the law quoted
        client.get("/logout")
        page_login(client, users[Role.SUPERVISOR].username)
        html = client.get("/supervision/rules/contract").get_data(as_text=True)
        assert 'id="rule-form"' in html
        form = {
            "csrf_token": csrf_from(html),
            "title": "签订书面合同",
            "source": "《招标投标法》第四十六条",
            "source_text": "招标人和中标人应当自中标通知书发出之日起三十日内，按照招标文件和中标人的投标文件订立书面合同。",
            "limit_value": "25",
            "limit_unit": "calendar",
            "yellow_value": "5",
            "warned": ["managers", "supervisors"],
            "enabled": "true",
            "reason": "本地区规定二十五日",
        }
        r = client.post("/supervision/rules/contract", data=form)
        assert r.status_code == 302
        html = client.get("/supervision/rules/contract").get_data(as_text=True)
        assert "第 3 版" in html and "25日" in html and "已保存为新版本" in html
        assert client.get("/supervision/rules").status_code == 200
        assert client.get("/supervision/rules/no_such_rule").status_code == 404


def test_the_command_line_tells_rules_and_warnings_in_beijing_time(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_environment(monkeypatch, tmp_path / "instance")
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    r = runner.invoke(main, ["supervision", "rules"])
    assert "尚无监督规则" in r.output
    r = runner.invoke(main, ["supervision", "sweep"])
    assert r.exit_code == 0 and f"已写入初始规则 {len(SEED)} 条" in r.output, r.output
    r = runner.invoke(main, ["supervision", "rules"])
    assert r.exit_code == 0 and "objection_answer  答复对中标候选人的异议  时限 3日" in r.output
    assert "《招标投标法实施条例》第五十四条" in r.output and not UTC_ISO.search(r.output)
    r = runner.invoke(main, ["supervision", "warnings", "--colour", "red", "--json"])
    assert r.exit_code == 0 and json.loads(r.output) == []
    r = runner.invoke(main, ["supervision", "warnings"])
    assert r.exit_code == 0 and "没有预警" in r.output
    r = runner.invoke(main, ["supervision", "warnings", "--colour", "purple"])
    assert r.exit_code != 0 and "green（绿灯）" in r.output
