"""A supervisor in Chromium: the live monitor with a room counting down, the statistics page with
its SVG charts (bars drawn), and the CSV and JSON downloads opened."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer
from tests.e2e.test_tender_browser import login
from tests.factories import make_user
from trading.accounts.models import Role
from trading.supervision.facts import generate_history

pytestmark = pytest.mark.browser


def test_a_supervisor_follows_the_monitor_and_the_statistics(
    browser: Any, live_app: Any, tmp_path: pathlib.Path
) -> None:
    with live_app.extensions["ggzy.db"].session() as s:
        supervisor = make_user(s, Role.SUPERVISOR).username
        lots = generate_history(s, months=12, seed=11, per_month=8)
        s.commit()
    with LiveServer(live_app) as srv:
        context = browser.new_context(locale="zh-CN", accept_downloads=True)
        page = context.new_page()
        login(page, srv.url, supervisor)
        page.goto(f"{srv.url}/supervision/monitor")
        assert page.inner_text("h1") == "实时监控"
        assert page.locator("#openings").count() == 1 and page.locator("#evaluations").count() == 1
        page.wait_for_function("document.querySelector('#server-time').innerText.length > 10")

        page.goto(f"{srv.url}/supervision/statistics?by=region")
        assert f"{lots} 个标段" in page.inner_text("#generated-banner")
        assert page.locator("svg.chart").count() == 2
        assert page.locator("#chart-amount rect.bar").count() >= 5  # Fujian's cities, one bar each
        box = page.locator("#chart-amount").bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 50  # drawn, not empty
        assert "节资率 =" in page.inner_text("#formulas")

        with page.expect_download() as got:
            page.click("#download-csv")
        data = pathlib.Path(got.value.path()).read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") and "数据来源" in data.decode("utf-8-sig").splitlines()[0]
        with page.expect_download() as got:
            page.click("#download-json")
        body = json.loads(pathlib.Path(got.value.path()).read_text(encoding="utf-8"))
        assert body["dimension"] == "region" and body["total"]["lots"] == lots
        assert {r["source"] for r in body["rows"]} == {"generated"}

        page.goto(f"{srv.url}/supervision/statistics?by=month")
        assert page.locator("#chart-amount polyline").count() == 1
        context.close()
