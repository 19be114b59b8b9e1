"""An expert in Chromium: signs in and signs the recusal pledge with its key file, reads the bids,
votes in the compliance review, scores every bid (the page adds up the total) and signs the report,
each signature made in the browser and checked by the server. The other four experts act through
the API, as ``ggzy-bid``-style tools would."""

from __future__ import annotations

import base64
import datetime as dt
import pathlib
from typing import Any

import pytest
from sqlalchemy import select

from archive import clock
from signing.statements import evaluation_pledge_statement, evaluation_report_statement, evaluation_signin_statement
from tests.e2e.conftest import LiveServer
from tests.e2e.test_tender_browser import login
from tests.trading.test_draw import opened_lot
from tests.trading.test_evaluation import confirm_all, expert_pool

pytestmark = pytest.mark.browser
PASSWORD = "口令-expert-key-01"


def _sig(x: dict[str, Any], message: bytes) -> str:
    return base64.b64encode(x["signer"].key.sign(message)).decode()


def wait_message(page: Any, text: str) -> None:
    try:
        page.wait_for_function(
            "(t) => document.querySelector('#message').innerText.includes(t)", arg=text, timeout=20_000
        )
    except Exception:
        raise AssertionError(f"expected {text!r}, the page says {page.inner_text('#message')!r}") from None


def test_an_expert_scores_and_signs_in_the_browser(browser: Any, live_app: Any, tmp_path: pathlib.Path) -> None:
    client = live_app.test_client()
    with live_app.extensions["ggzy.db"].session() as s:
        t = opened_lot(client, s, live_app, specialties=[{"code": "A01", "count": 5}])
        pool = expert_pool(client, s, live_app, t, 5, 0)
        codes = [b.user.organisation.credit_code for b in t["bidders"]]
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)):
        lot = f"/api/v1/tenders/{t['code']}/lots/1"
        d = client.post(f"{lot}/draws", json={}, headers=t["staff"]).get_json()
        client.post(f"/api/v1/draws/{d['id']}/run", headers=t["staff"])
        committee = confirm_all(client, pool)
        ev = client.post(f"{lot}/evaluation", json={}, headers=t["staff"]).get_json()
        eid, url = ev["id"], f"/api/v1/evaluations/{ev['id']}"
        me, others = committee[0], committee[1:]
        for x in others:
            client.post(
                f"{url}/signin",
                json={"signature": _sig(x, evaluation_signin_statement(eid, t["code"], 1, x["id"]))},
                headers=x["h"],
            )
            client.post(
                f"{url}/pledge",
                json={"signature": _sig(x, evaluation_pledge_statement(eid, x["id"], codes))},
                headers=x["h"],
            )
        key_file = tmp_path / "sign.key"
        key_file.write_bytes(me["signer"].key.to_pem(PASSWORD.encode()))

        with LiveServer(live_app) as srv:
            page = browser.new_context(locale="zh-CN").new_page()
            login(page, srv.url, me["signer"].user.username)
            page.goto(f"{srv.url}/evaluations/{eid}")
            assert page.inner_text("#stage") == "签到与回避承诺"
            page.set_input_files("#key-file", str(key_file))
            page.fill("#key-password", "错的口令")
            page.click("#sign-in")
            wait_message(page, "签名失败")
            page.fill("#key-password", PASSWORD)
            page.click("#sign-in")
            wait_message(page, "已完成")
            page.click("#pledge")
            page.wait_for_selector("#leader-choice")
            # everyone elects the page's expert as leader; it starts the review from the page
            page.select_option("#leader-choice", str(me["id"]))
            page.click("#vote-leader")
            wait_message(page, "已完成")
            for x in others[:2]:
                client.post(f"{url}/leader", json={"candidate": me["id"]}, headers=x["h"])
            page.reload()
            page.click("#advance")
            page.wait_for_function(
                "() => document.querySelector('#stage').innerText === '资格/符合性审查'", timeout=20_000
            )
            bids = [b["id"] for b in client.get(url, headers=me["h"]).get_json()["bidders"]]
            for b in bids:
                page.click(f"#pass-{b}")
                wait_message(page, "已完成")
                for x in others:
                    client.post(f"{url}/compliance", json={"bidder": b, "passed": True}, headers=x["h"])
            page.click("#advance")
            page.wait_for_selector(".score-form")
            # scoring from the page: the total is added up as the expert types
            for n, b in enumerate(bids):
                page.fill(f"[id='score-{b}-施工组织设计']", str(40 - n))
                page.fill(f"[id='score-{b}-项目管理机构']", "8")
                assert page.input_value(f"#total-{b}") == f"{48 - n}.00"
                page.click(f"#submit-{b}")
                wait_message(page, "已完成")
            for x in others:
                for n, b in enumerate(bids):
                    body = {
                        "bidder": b,
                        "scores": {"施工组织设计": str(41 - n), "项目管理机构": "8"},
                        "total": str(49 - n),
                    }
                    assert client.post(f"{url}/scores", json=body, headers=x["h"]).status_code == 200
            page.reload()
            # all of its own are in: it sees everybody's, a row per bidder, a column per member and the average
            assert page.locator("#sheets tbody tr[data-bidder]").count() == 3
            assert page.locator("#sheets thead th").count() == 5 + 1
            first = page.locator(f"#sheets tbody tr[data-bidder='{bids[0]}'] td")
            assert first.nth(5).inner_text() == "48.80"  # (48 + 4 × 49) / 5
            assert page.locator("#score-chart circle").count() >= 15  # the server's chart, one dot a sheet
            page.click("#advance")
            page.wait_for_selector("#sign-report")
            sm3 = client.get(url, headers=me["h"]).get_json()["report_sm3"]
            assert sm3 in page.inner_text("#report-body")
            page.set_input_files("#key-file", str(key_file))  # the page was reloaded
            page.fill("#key-password", PASSWORD)
            page.fill("#dissent", "对第三名的施工组织设计评分有保留意见")
            page.click("#sign-report")
            wait_message(page, "已完成")
            for x in others:
                sig = _sig(x, evaluation_report_statement(eid, 1, x["id"], sm3, ""))
                assert client.post(f"{url}/sign", json={"signature": sig}, headers=x["h"]).status_code == 200
            page.reload()
            assert page.inner_text("#stage") == "评标结束，待公示"

    from trading.evaluation.models import ReportSignature

    with live_app.extensions["ggzy.db"].session() as s:
        mine = s.scalars(select(ReportSignature).where(ReportSignature.expert_id == me["id"])).one()
        assert not mine.agree and mine.dissent == "对第三名的施工组织设计评分有保留意见"
