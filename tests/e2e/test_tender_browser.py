"""A tenderee, a staff member and a bidder take a tender from draft to bidding closed in Chromium."""

from __future__ import annotations

import datetime as dt
import pathlib
from typing import Any

import pytest

from archive import clock
from tests.e2e.conftest import LiveServer
from tests.factories import PASSWORD, make_signer, make_user, sign_document
from trading.accounts.models import Role

pytestmark = pytest.mark.browser


def login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_tender_from_draft_to_bidding_closed(browser: Any, live_app: Any, tmp_path: pathlib.Path) -> None:
    start = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)  # 09:00 Beijing
    with clock.frozen(start) as frozen, live_app.extensions["ggzy.db"].session() as s:
        tenderee = make_signer(s, live_app, Role.TENDEREE)
        staff, bidder = make_user(s, Role.STAFF), make_user(s, Role.BIDDER)
        names = (tenderee.user.username, staff.username, bidder.username)
    with clock.frozen(start) as frozen, LiveServer(live_app) as srv:
        base = srv.url
        # --- tenderee: create, upload the signed document, submit
        t = browser.new_context(locale="zh-CN").new_page()
        login(t, base, names[0])
        t.click("text=新建招标项目")
        t.fill("input[name=title]", "乌龙江大桥检测服务")
        t.fill("textarea[name=announcement_body]", "乌龙江大桥定期检测服务项目现公开招标，欢迎符合条件的单位参加。")
        t.fill("input[name=lot_name]", "检测服务")
        t.fill("input[name=estimated_price]", "800000")
        t.fill("input[name=bond_amount]", "16001")  # above 2%: refused on the page
        t.click("button:has-text('保存')")
        assert "2%" in t.inner_text("[role=alert]")
        t.fill("input[name=bond_amount]", "16000")
        t.click("button:has-text('保存')")
        t.wait_for_selector("text=请上传招标文件后提交审核")
        code = t.inner_text("dl.facts code")
        doc = tmp_path / "招标文件.pdf"
        doc.write_bytes(b"%PDF-1.7 bridge inspection tender documents" * 50)
        t.set_input_files("input[name=file]", str(doc))
        t.fill("input[name=signature]", sign_document(tenderee, code, doc.name, doc.read_bytes()))
        t.click("button:has-text('上传并验签')")
        t.wait_for_selector("text=招标文件已上传并验签")
        t.click("button:has-text('提交审核')")
        t.click("#confirm-dialog button:has-text('确定')")  # the page asks before it submits
        t.wait_for_selector("text=已提交交易中心审核")
        assert t.inner_text(".status") == "待审核"

        # --- staff: review queue, publish
        st = browser.new_context(locale="zh-CN").new_page()
        login(st, base, names[1])
        st.click("text=审核队列")
        st.click(f"text={code}")
        st.click("button:has-text('审核通过并发布')")
        st.click("#confirm-dialog button:has-text('确定')")
        st.wait_for_selector("text=招标公告已发布")
        assert st.inner_text(".status") == "招标中"

        # --- public portal shows it; bidder registers and downloads
        pub = browser.new_context(locale="zh-CN").new_page()
        pub.goto(f"{base}/portal?q=大桥检测")
        assert "乌龙江大桥检测服务招标公告" in pub.inner_text("table.results")
        b = browser.new_context(locale="zh-CN").new_page()
        login(b, base, names[2])
        b.goto(f"{base}/tenders/{code}")
        b.click("button:has-text('报名参加')")
        b.wait_for_selector("text=您已报名本项目")
        with b.expect_download() as dl:
            b.click("ul.documents a")  # shown as 招标文件（PDF 文档…）
        assert pathlib.Path(dl.value.path()).read_bytes() == doc.read_bytes()
        b.screenshot(path=str(tmp_path / "bidder.png"), full_page=True)

        # --- the deadline passes: the next request closes bidding, no scheduler needed
        frozen.advance(days=30)
        b.reload()
        assert b.inner_text(".status") == "投标已截止"
        assert b.locator("button:has-text('报名参加')").count() == 0
