"""The live opening room in Chromium: a bidder and the host follow every stage as it happens
(Server-Sent Events); the bidder signs in, decrypts and confirms from the page with its key files
(SM2 in the browser, checked by the server), objects and chats; the host answers and moves on."""

from __future__ import annotations

import datetime as dt
import io
import pathlib
import re
from typing import Any

import pytest

from archive import clock
from tests.e2e.conftest import LiveServer
from tests.e2e.test_tender_browser import login
from tests.trading.opening.test_ceremony import open_tender, release, signin_sig
from trading.core.services import services
from trading.opening.decryption import run_pending

pytestmark = pytest.mark.browser


PASSWORD = "口令-browser-key-1"


def key_files(tmp: pathlib.Path, t: dict[str, Any], i: int) -> dict[str, pathlib.Path]:
    """What ``ggzy-bid keygen`` leaves in a bidder's key folder (PBES2-encrypted PKCS#8), and its bid."""
    b = t["bidders"][i]
    folder = tmp / f"bidder{i}"
    folder.mkdir()
    files = {"sign": folder / "sign.key", "enc": folder / "enc.key", "sealed": folder / "bid.sealed"}
    files["sign"].write_bytes(b.sign_key.to_pem(PASSWORD.encode()))
    files["enc"].write_bytes(b.enc_key.to_pem(PASSWORD.encode()))
    files["sealed"].write_bytes(t["blobs"][i])
    return files


def confirm(page: Any) -> None:
    """Accept the confirmation an irreversible act asks for (static/ui.js's dialog)."""
    page.click("#confirm-dialog button[value=ok]")


def page_action(page: Any, button: str, expect: str) -> None:
    page.click(f"#do-{button}")
    page.wait_for_function(
        "(t) => document.querySelector('#ukey-status').innerText.includes(t)", arg=expect, timeout=20_000
    )


def test_room_through_every_stage(browser: Any, live_app: Any, tmp_path: pathlib.Path) -> None:
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
            mine, other = key_files(tmp_path, t, 0), key_files(tmp_path, t, 1)

            # bad input from the page: each refused in the browser with its reason, nothing sent
            bidder.set_input_files("#sign-key", str(mine["sign"]))
            bidder.fill("#key-password", "不是这个口令")
            page_action(bidder, "signin", "私钥口令错误")
            bidder.fill("#key-password", PASSWORD)
            bidder.set_input_files("#sign-key", str(other["sign"]))  # another bidder's key: the server refuses
            page_action(bidder, "signin", "未完成")
            assert client.get(f"/api/v1/ceremonies/{cid}", headers=headers[0]).get_json()["me"]["signed_in"] is False

            # sign-in from the page, the others with the tool's API; it arrives live on both pages
            bidder.set_input_files("#sign-key", str(mine["sign"]))
            page_action(bidder, "signin", "已签到")
            for i in range(1, 3):
                r = client.post(
                    f"/api/v1/ceremonies/{cid}/signin",
                    json={"signature": signin_sig(bidders[i], cid, code)},
                    headers=headers[i],
                )
                assert r.status_code == 200
            bidder.wait_for_function("() => document.querySelectorAll('#bidders tbody tr').length === 3")
            bidder.wait_for_function("() => !document.querySelector('#bidders').innerText.includes('未签到')")
            assert "签到" in bidder.inner_text("#log")

            def host_next(label: str) -> None:
                host.wait_for_selector("#advance:enabled")  # disabled, with the reason, while it would be refused
                host.click("#advance")
                assert "不能撤回" in host.inner_text("#confirm-dialog")  # names what will happen first
                confirm(host)
                host.wait_for_selector(f"#stage:has-text('{label}')")
                bidder.wait_for_selector(f"#stage:has-text('{label}')")  # pushed, not reloaded

            host_next("公布投标人名单")
            host_next("解密")
            bidder.set_input_files("#enc-key", str(mine["enc"]))
            bidder.set_input_files("#sealed-file", str(other["sealed"]))
            page_action(bidder, "decrypt", "不是贵单位在本标段的有效投标")
            bidder.set_input_files("#sealed-file", str(mine["sealed"]))
            bidder.set_input_files("#enc-key", str(mine["sign"]))  # the signing key cannot open the bid
            page_action(bidder, "decrypt", "加密私钥与投标文件不匹配")
            bidder.set_input_files("#enc-key", str(mine["enc"]))
            page_action(bidder, "decrypt", "密钥已提交")  # unwrapped here, re-wrapped to the ceremony key
            for i in range(1, 3):
                assert release(client, t, i).status_code == 202
            assert run_pending(live_app.extensions["ggzy.db"], services(live_app)) == 3
            bidder.wait_for_function("() => document.querySelector('#log').innerText.split('解密成功').length > 0")
            assert "9,001,000.00" not in bidder.inner_text("#table")  # no price before the window closes
            host_next("唱标")
            bidder.wait_for_selector("#table >> text=9,001,000.00")
            table = bidder.inner_text("#table")
            assert "9,000,000.00" in table and "9,002,000.00" in table and "工期（日历天）：300" in table

            host_next("开标记录确认")
            bidder.wait_for_selector("#record-new:has-text('开标记录已生成')")
            # the bidder objects and writes to the host from the page
            bidder.reload()
            bidder.fill(".bidder textarea[name=text]", "请核实第二家的工期")
            bidder.click(".bidder button:has-text('提出异议')")
            confirm(bidder)
            bidder.wait_for_selector("text=已发送")
            bidder.fill("input[name=text][maxlength='300']", "主持人您好，我方已就位")
            bidder.click("button:has-text('发送')")
            host.wait_for_selector("#log >> text=主持人您好，我方已就位")
            host.reload()
            host.fill("#objections input[name=answer]", "经核实工期为300天，唱标无误")
            host.click("#objections button:has-text('答复')")
            confirm(host)
            host.wait_for_selector("text=异议已答复")
            bidder.wait_for_selector("#log >> text=经核实工期为300天，唱标无误")
            record = client.get(f"/api/v1/ceremonies/{cid}").get_json()["record_sm3"]
            import base64

            from signing.statements import record_confirmation_statement

            bidder.reload()
            bidder.set_input_files("#sign-key", str(mine["sign"]))
            bidder.fill("#key-password", PASSWORD)
            page_action(bidder, "confirm", "已确认开标记录")
            bidder.wait_for_selector("#my-state:has-text('已确认开标记录')")
            assert "解密成功" in bidder.inner_text("#my-state")
            for i in range(1, 3):
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
            assert "9,001,000.00" in public.inner_text("#table") and "主持人您好" not in public.content()


def test_joint_room_moves_every_lot(browser: Any, live_app: Any) -> None:
    """多标段合并开标 in Chromium: the host's one click moves both open lots, pushed to a bidder's
    page; the failed lot says so; the public page has no controls."""
    from tests.trading.opening.test_joint import joint_tender

    start = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)
    client = live_app.test_client()
    with clock.frozen(start) as frozen:
        with live_app.extensions["ggzy.db"].session() as s:
            t = joint_tender(client, s, live_app)
            bidder_name = t["bidders"][0].user.username
        frozen.set(t["deadline"] + dt.timedelta(seconds=1))
        with LiveServer(live_app) as srv:
            url = f"{srv.url}/tenders/{t['code']}/opening"
            host = browser.new_context(locale="zh-CN").new_page()
            login(host, srv.url, t["staff_username"])
            host.goto(url)
            host.wait_for_selector("#lot-2 .lot-stage:has-text('签到')")
            assert "流标" in host.inner_text("#lot-3")
            bidder = browser.new_context(locale="zh-CN").new_page()
            login(bidder, srv.url, bidder_name)
            bidder.goto(url)
            assert bidder.query_selector("#advance") is None
            # refused while bidders have not signed in: disabled, and the reason names the lots
            assert host.is_disabled("#advance")
            why = host.inner_text("#why-advance")
            assert "第1标段" in why and "第2标段" in why and "未签到" in why
            frozen.set(t["deadline"] + dt.timedelta(minutes=31))  # the sign-in window has run out
            host.reload()
            host.wait_for_selector("#stage:has-text('公布投标人名单')")
            host.click("#advance")
            assert "全部 2 个标段" in host.inner_text("#confirm-dialog")
            confirm(host)
            host.wait_for_selector("text=全部标段：已进入下一阶段")
            for page in (host, bidder):
                page.wait_for_selector("#lot-1 .lot-stage:has-text('解密')")
                page.wait_for_selector("#lot-2 .lot-stage:has-text('解密')")
            assert "第1标段" in bidder.inner_text("#log")
