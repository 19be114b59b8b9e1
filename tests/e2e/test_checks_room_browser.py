"""An expert in Chromium sees a bidder's credit finding in the room, its text shown literally (an
entry's facts are an import's text: markup in it stays text), and passes that bid only with a reason."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from archive import clock
from tests.e2e.conftest import LiveServer
from tests.e2e.test_evaluation_browser import wait_message
from tests.e2e.test_tender_browser import login
from tests.trading.credit.test_checks_registration import listed
from tests.trading.test_draw import opened_lot
from tests.trading.test_evaluation import start_review
from trading.credit.models import Measure

pytestmark = pytest.mark.browser
HOSTILE = "<img src=x onerror=\"document.title='pwned'\">拒不履行"


def test_the_room_shows_the_finding_literally_and_asks_for_a_reason(browser: Any, live_app: Any) -> None:
    client = live_app.test_client()
    with live_app.extensions["ggzy.db"].session() as s:
        t = opened_lot(client, s, live_app, specialties=[{"code": "A01", "count": 5}])
        code = t["bidders"][0].user.organisation.credit_code
        listed(s, code, Measure.NOTICE, facts=HOSTILE, document_no="<b>（2026）闽01执9号</b>")
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)):
        with live_app.extensions["ggzy.db"].session() as s:
            room = start_review(client, s, live_app, t, 5)
        me = room["committee"][0]
        state = client.get(room["url"], headers=me["h"]).get_json()
        flagged = next(b["id"] for b in state["bidders"] if b["credit_code"] == code)
        with LiveServer(live_app) as srv:
            page = browser.new_context(locale="zh-CN").new_page()
            login(page, srv.url, me["signer"].user.username)
            page.goto(f"{srv.url}/evaluations/{room['ev']['id']}")
            cell = page.locator(f"td[data-credit='{flagged}']")
            cell.wait_for()
            text = cell.inner_text()
            assert "有信用提示" in text and HOSTILE in text and "<b>（2026）闽01执9号</b>" in text
            assert page.locator("#bidders img, #bidders b").count() == 0 and page.title() != "pwned"
            # the lot is opened and its signals not computed yet: the room says so (not "nothing found")
            assert "计算中" in page.locator("#findings").inner_text()
            page.click(f"#pass-{flagged}")
            wait_message(page, "说明理由")
            page.fill(f"#pass-reason-{flagged}", "该提示为税务处罚，与本项目资格条件无关")
            page.click(f"#pass-{flagged}")
            wait_message(page, "已完成")
            assert "已投：通过" in page.locator(f"tr[data-bidder='{flagged}']").inner_text()
