"""The Content-Security-Policy as Chromium applies it: a script the page did not bring is refused
(and reported on the console, which every browser test watches), and the page cannot be framed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import WatchedBrowser
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.browser


def test_a_foreign_inline_script_is_refused(browser: WatchedBrowser, live_app: Any) -> None:
    with LiveServer(live_app) as srv:
        page = browser.new_context(locale="zh-CN").new_page()
        page.goto(f"{srv.url}/login")
        # what an injected <script> would do: the policy allows only the page's own files and nonce
        page.evaluate(
            "() => { const s = document.createElement('script'); s.textContent = 'window.injected = 1';"
            " document.head.appendChild(s); }"
        )
        page.wait_for_timeout(200)
        assert page.evaluate("() => window.injected") is None
        assert any("inline script" in v for v in browser.violations), browser.violations
        browser.violations.clear()  # expected here; any other test fails on one

        # a page of another site that frames the login page gets an empty frame
        other = browser.new_context().new_page()
        other.set_content(f'<iframe id="f" src="{srv.url}/login"></iframe>')
        other.wait_for_timeout(500)
        frame = other.frame_locator("#f")
        assert frame.locator("input[name=username]").count() == 0
        assert any("frame-ancestors" in v for v in browser.violations), browser.violations
        browser.violations.clear()
