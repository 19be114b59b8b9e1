"""The live opening room in Chromium: a bidder and the host follow every stage as it happens
(Server-Sent Events), the bidder objects and chats from the page, the host answers and moves on."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest

from archive import clock
from tests.e2e.conftest import LiveServer
from tests.e2e.test_tender_browser import login
from tests.trading.opening.test_ceremony import open_tender, release, signin_sig
from trading.app import services
from trading.opening.decryption import run_pending

pytestmark = pytest.mark.browser


def test_room_through_every_stage(browser: Any, live_app: Any) -> None:
    start = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)
    client = live_app.test_client()
    with clock.frozen(start) as frozen:
        with live_app.extensions["ggzy.db"].session() as s:
            t = open_tender(client, s, live_app, 3)
            names = {"staff": t["staff_username"], "bidder": t["bidders"][0].user.username}
        cid, code, bidders, headers, deadline = t["cid"], t["code"], t["bidders"], t["headers"], t["deadline"]
        frozen.set(deadline + dt.timedelta(seconds=1))
        with LiveServer(live_app) as srv:
            room = f"{srv.url}/ceremonies/{cid}"
            host = browser.new_context(locale="zh-CN").new_page()
            login(host, srv.url, names["staff"])
            host.goto(room)
            assert host.inner_text("#stage") == "签到"
            bidder = browser.new_context(locale="zh-CN").new_page()
            login(bidder, srv.url, names["bidder"])
            bidder.goto(room)
            assert "ggzy-bid signin" in bidder.inner_text(".bidder")

            # sign-in arrives live on both pages
            for i in range(3):
                r = client.post(
                    f"/api/v1/ceremonies/{cid}/signin",
                    json={"signature": signin_sig(bidders[i], cid, code)},
                    headers=headers[i],
                )
                assert r.status_code == 200
            bidder.wait_for_function("document.querySelectorAll('#bidders tbody tr').length === 3")
            bidder.wait_for_function("!document.querySelector('#bidders').innerText.includes('未签到')")
            assert "签到" in bidder.inner_text("#log")

            def host_next(label: str) -> None:
                host.click("#advance")
                host.wait_for_selector(f"#stage:has-text('{label}')")
                bidder.wait_for_selector(f"#stage:has-text('{label}')")  # pushed, not reloaded

            host_next("公布投标人名单")
            host_next("解密")
            for i in range(3):
                assert release(client, t, i).status_code == 202
            assert run_pending(live_app.extensions["ggzy.db"], services(live_app)) == 3
            bidder.wait_for_function("document.querySelector('#log').innerText.split('解密成功').length > 0")
            assert "9001000.00" not in bidder.inner_text("#table")  # no price before the window closes
            host_next("唱标")
            bidder.wait_for_selector("#table >> text=9001000.00")
            assert "9000000.00" in bidder.inner_text("#table") and "9002000.00" in bidder.inner_text("#table")

            host_next("开标记录确认")
            bidder.wait_for_selector("#record-new:has-text('开标记录已生成')")
            # the bidder objects and writes to the host from the page
            bidder.reload()
            bidder.fill(".bidder textarea[name=text]", "请核实第二家的工期")
            bidder.click(".bidder button:has-text('提出异议')")
            bidder.wait_for_selector("text=已发送")
            bidder.fill("input[name=text][maxlength='300']", "主持人您好，我方已就位")
            bidder.click("button:has-text('发送')")
            host.wait_for_selector("#log >> text=主持人您好，我方已就位")
            host.reload()
            host.fill("#objections input[name=answer]", "经核实工期为300天，唱标无误")
            host.click("#objections button:has-text('答复')")
            host.wait_for_selector("text=已执行")
            bidder.wait_for_selector("#log >> text=经核实工期为300天，唱标无误")
            record = client.get(f"/api/v1/ceremonies/{cid}").get_json()["record_sm3"]
            import base64

            from signing.statements import record_confirmation_statement

            for i in range(3):
                statement = record_confirmation_statement(cid, bidders[i].user.organisation.credit_code, record)
                sig = base64.b64encode(bidders[i].sign_key.sign(statement)).decode()
                r = client.post(f"/api/v1/ceremonies/{cid}/confirm", json={"signature": sig}, headers=headers[i])
                assert r.status_code == 200
            host_next("开标结束")
            bidder.reload()
            assert re.search(r"最终开标记录 SM3", bidder.inner_text("#record"))
            pdf = bidder.request.get(f"{srv.url}/api/v1/ceremonies/{cid}/record.pdf?final=1")
            from pypdf import PdfReader

            text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.body())).pages)
            assert "开标记录（最终版）" in text and "经核实工期为300天" in text
            public = browser.new_context(locale="zh-CN").new_page()
            public.goto(room)
            assert "9001000.00" in public.inner_text("#table") and "主持人您好" not in public.content()
