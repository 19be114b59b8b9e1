"""The bidding room in Chromium: two buyers bid from their pages (SM2 in the browser, checked by the
server) while the public follows the price and the countdown by number over the live server; a
watcher whose connection drops sees every bid it missed when it comes back; a page opened after a
pause finds it in the room's log; times, amounts and refusals read as the rest of the site writes
them."""

from __future__ import annotations

import asyncio
import datetime as dt
import pathlib
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from archive import clock
from tests.conftest import free_port, wait_for_port
from tests.e2e.conftest import LiveServer
from tests.e2e.page_checks import confirmation_problems, page_problems
from tests.e2e.test_tender_browser import login
from tests.factories import make_user
from tests.trading.auctions.test_bidding import T0, make_lot
from trading.accounts.models import Organisation, Role, User
from trading.auctions import room
from trading.auctions.lifecycle import feed
from trading.auctions.models import Auction
from trading.auctions.tasks import auction_clock_job
from trading.cli.serve import live_app
from trading.core.services import services

pytestmark = pytest.mark.browser
PASSWORD = "口令-auction-key-1"
START = T0 + dt.timedelta(seconds=5)


class LiveThread:
    """``ggzy live`` in a thread of this process, on a port of its own; ``stop`` drops every
    connection (as a network failure would), ``start`` serves again on the same port."""

    def __init__(self, app: Any, port: int) -> None:
        self.app, self.port = app, port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runner: Any = None

    def start(self) -> None:
        from aiohttp import web

        async def up() -> None:
            db, secret = self.app.extensions["ggzy.db"], self.app.extensions["ggzy.settings"].secret_key
            self.runner = web.AppRunner(live_app(db, secret, 0.1), shutdown_timeout=0.5)
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True).start()

        asyncio.run_coroutine_threadsafe(up(), self.loop).result(10)
        wait_for_port(self.port)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)

    def close(self) -> None:
        self.stop()

        async def drain() -> None:  # streams still waiting for an event
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(drain(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def rooms(tmp_path: pathlib.Path) -> Iterator[tuple[Any, LiveThread]]:
    """The app with its live server (``LIVE_URL=:PORT``)."""
    from trading.app import create_app
    from trading.core.config import load_settings
    from trading.core.db import upgrade

    url, port = f"sqlite:///{tmp_path / 'e2e.db'}", free_port()
    upgrade(url)
    env = {"GGZY_ENV": "test", "GGZY_INSTANCE": str(tmp_path / "instance"), "DATABASE_URL": url}
    app = create_app(load_settings({**env, "LIVE_URL": f":{port}"}))
    live = LiveThread(app, port)
    live.start()
    try:
        yield app, live
    finally:
        live.close()
        app.extensions["ggzy.db"].engine.dispose()


def bid_from_page(page: Any, amount: str | None, expect: str) -> None:
    if amount is None:
        page.click("#bid-minimum")  # the lowest acceptable bid, as the page shows it
    else:
        page.fill("#bid-amount", amount)
    page.click("#do-bid")
    try:
        page.wait_for_function(
            "(t) => document.querySelector('#bid-status').innerText.includes(t)", arg=expect, timeout=20_000
        )
    except Exception:
        print("STATUS", page.inner_text("#bid-status"), page.inner_text("#link-state"), page.input_value("#bid-amount"))
        raise


def rows(page: Any) -> list[str]:
    return [str(t) for t in page.eval_on_selector_all("#bids tbody tr[data-seq]", "rs => rs.map(r => r.dataset.seq)")]


def test_two_buyers_bid_from_their_pages_and_the_public_follows(
    browser: Any,
    rooms: tuple[Any, LiveThread],
    tmp_path: pathlib.Path,
) -> None:
    app, live = rooms
    db, svc = app.extensions["ggzy.db"], services(app)
    with clock.frozen(START) as frozen:
        with db.session() as s:
            a, buyers = make_lot(s, app)
            code, free_ends = a.code, a.free_ends_at
            staff = make_user(s, Role.STAFF).username
            names = list(s.scalars(select(Organisation.name)))
            s.commit()
        keys = []
        for i, b in enumerate(buyers[:2]):
            path = tmp_path / f"sign{i}.key"
            path.write_bytes(b.keys.sign_key.to_pem(PASSWORD.encode()))
            keys.append(path)
        enc_key = tmp_path / "enc.key"
        enc_key.write_bytes(buyers[0].keys.enc_key.to_pem(PASSWORD.encode()))
        with LiveServer(app) as srv:
            public = browser.new_context(locale="zh-CN").new_page()
            public.goto(f"{srv.url}/auctions/{code}/watch")
            public.wait_for_function("() => document.querySelector('#link-state').innerText.includes('实时推送已连接')")
            assert public.inner_text("#current-price") == "尚无出价"
            pages = []
            for i in range(2):
                page = browser.new_context(locale="zh-CN").new_page()
                login(page, srv.url, buyers[i].keys.user.username)
                page.goto(f"{srv.url}/auctions/{code}/room")
                assert page.inner_text("#my-number") == buyers[i].number
                page.set_input_files("#sign-key", str(keys[i]))
                page.fill("#key-password", PASSWORD)
                pages.append(page)
            first, second = pages
            assert first.input_value("#bid-amount") == "1000000.00"  # the starting price, to begin with
            bid_from_page(first, None, "第 1 次有效出价")
            public.wait_for_function("() => document.querySelector('#current-price').innerText === '1,000,000.00 元'")
            second.wait_for_function("() => document.querySelector('#bid-amount').value === '1010000.00'")
            bid_from_page(second, "1015000", "第 2 次有效出价，1,015,000.00 元")
            bid_from_page(first, "1020000.00", "出价未被接受：")  # the server names the minimum
            assert "1,025,000.00" in first.inner_text("#bid-status").replace("1025000.00", "1,025,000.00")

            # the free period ends: the countdown runs on the server's clock, not the computer's
            frozen.set(free_ends + dt.timedelta(seconds=1))
            with db.session() as s:
                assert auction_clock_job(s, clock.now(), svc) == 1
            public.wait_for_function("() => document.querySelector('#clock-label').innerText === '限时竞价剩余'")
            assert public.inner_text("#countdown").startswith("4 分 5")  # 299 s left by the server's time
            frozen.set(free_ends + dt.timedelta(seconds=290))
            bid_from_page(first, None, "第 3 次有效出价，1,025,000.00 元")  # restarts the countdown
            # 10 s were left; the bid, accepted at the server's +290 s, shows its restarted 300 s
            public.wait_for_function("() => document.querySelector('#countdown').innerText.startsWith('4 分 5')")

            # the live server goes down: the pages poll the app meanwhile, then follow it again
            live.stop()
            public.wait_for_function("() => document.querySelector('#link-state').innerText.includes('中断')")
            bid_from_page(second, None, "第 4 次有效出价")
            first.wait_for_function("() => document.querySelector('#current-seq').innerText === '4'")  # polled
            bid_from_page(first, None, "第 5 次有效出价")
            public.wait_for_function("() => document.querySelectorAll('#bids tbody tr[data-seq]').length === 5")
            assert rows(public) == ["5", "4", "3", "2", "1"]  # polled while the stream was down
            live.start()
            public.wait_for_function("() => document.querySelector('#link-state').innerText === '实时推送已连接'")
            bid_from_page(second, None, "第 6 次有效出价")
            public.wait_for_function("() => document.querySelectorAll('#bids tbody tr[data-seq]').length === 6")
            assert public.inner_text("#current-price") == "1,055,000.00 元"
            text = public.inner_text("body")
            assert buyers[0].number in text and not [n for n in names if n in text]  # numbers, never names
            assert rows(second) == ["6", "5", "4", "3", "2", "1"]
            assert "（本单位）" in second.inner_text("#bids")

            # refusals say what happened: a wrong password sends nothing; a wrong key file is named
            first.fill("#key-password", "不是这个口令")
            bid_from_page(first, None, "私钥口令错误，出价未发送")
            first.fill("#key-password", PASSWORD)
            for wrong in (enc_key, keys[1]):  # the encryption key; another company's signing key
                first.set_input_files("#sign-key", str(wrong))
                bid_from_page(first, None, "不是贵单位登记的签名私钥")
                assert "sign.key" in first.inner_text("#bid-status code")
            first.set_input_files("#sign-key", str(keys[0]))
            assert first.inner_text("#sign-key-name") == "sign0.key"
            assert first.inner_text("#current-seq") == "6"  # none of them was accepted

            # staff pause, resume and change the increment: the open page logs it; a page opened
            # afterwards reads it from the feed
            with db.session() as s:
                user = s.scalars(select(User).where(User.username == staff)).one()
                room.pause(s, svc, user, code, "电子竞价系统故障")
                s.commit()
                frozen.set(clock.now() + dt.timedelta(seconds=30))
                room.resume(s, svc, user, code)
                room.change_increment(s, svc, user, code, "20000", "报价踊跃")
                s.commit()
            public.wait_for_function("() => document.querySelectorAll('#room-log li').length >= 4")
            late = browser.new_context(locale="zh-CN").new_page()
            late.goto(f"{srv.url}/auctions/{code}/watch")
            late.wait_for_function("() => document.querySelectorAll('#room-log li').length >= 4")
            for page in (public, late):
                log = page.eval_on_selector_all("#room-log li", "ls => ls.map(l => l.innerText)")
                assert "调整加价幅度 由 10,000.00 元调整为 20,000.00 元（原因：报价踊跃）" in log[0], log
                assert "恢复竞价 继续限时竞价，暂停 30.0 秒" in log[1], log
                assert "暂停（原因：电子竞价系统故障），剩余时间保留" in log[2], log
                assert "阶段变化 限时竞价" in log[3] and "阶段变化 自由竞价" in log[-1], log
                assert all(re.match(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} ", line) for line in log), log
                # times as the server writes them (Beijing), whether the row came with the page or later
                times = page.eval_on_selector_all(
                    "#bids tbody tr[data-seq]", "rs => rs.map(r => r.lastChild.innerText)"
                )
                assert len(times) == 6 and all(re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", t) for t in times)
                assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", page.inner_text("#server-time"))
                assert page.inner_text("#increment") == "20,000.00 元"
            assert late.eval_on_selector_all(
                "#bids tbody tr[data-seq]", "rs => rs.map(r => r.lastChild.innerText)"
            ) == public.eval_on_selector_all("#bids tbody tr[data-seq]", "rs => rs.map(r => r.lastChild.innerText)")
            # long spans in days and hours, the way a person says them
            spans = late.evaluate(
                "[GgzyAuction.span(119 * 3600 + 24 * 60 + 56), GgzyAuction.span(3 * 3600 + 5), GgzyAuction.span(299)]"
            )
            assert spans == ["4 天 23 小时 24 分", "3 小时 0 分", "4 分 59 秒"]
            pages.append(late)

            # each page as a person reads it: it fits a phone, speaks Chinese, asks before acting
            console = browser.new_context(locale="zh-CN").new_page()
            login(console, srv.url, staff)
            console.goto(f"{srv.url}/auctions/{code}/console")
            org = buyers[0].keys.user.organisation
            assert org is not None and org.name in console.inner_text("#bids")  # staff see whose
            assert not confirmation_problems(console)
            # what the script hides is hidden (style.css shows buttons and the console's forms)
            assert console.is_visible("#pause-form") and not console.is_visible("#resume-form")
            assert not console.is_visible("#room-log-more") and not late.is_visible("#room-log-more")
            for page in (public, first, console, late):
                for width in (1280, 390):
                    page.set_viewport_size({"width": width, "height": 900})
                    assert not page_problems(page, width), (page.url, width, page_problems(page, width))
            pages.append(console)

            # a long log: the latest 50 first, the earlier ones on asking
            before = len(late.eval_on_selector_all("#room-log li", "ls => ls"))
            with db.session() as s:
                lot = s.scalars(select(Auction).where(Auction.code == code)).one()
                for i in range(60):
                    feed(s, lot, "timed", {"requests": i})
                s.commit()
            long = browser.new_context(locale="zh-CN").new_page()
            long.goto(f"{srv.url}/auctions/{code}/watch")
            long.wait_for_function("() => document.querySelectorAll('#room-log li').length === 50")
            assert "申请限时竞价的竞买人：59 家" in long.inner_text("#room-log li")  # the newest first
            more = long.locator("#room-log-more")
            total = before + 60
            assert more.inner_text() == f"显示更早的 {total - 50} 条记录"
            more.click()
            assert len(long.eval_on_selector_all("#room-log li", "ls => ls")) == total and not more.is_visible()
            assert (
                "阶段变化 自由竞价" in long.eval_on_selector_all("#room-log li", "ls => ls.map(l => l.innerText)")[-1]
            )
            pages.append(long)
            for page in (public, *pages):
                page.context.close()
