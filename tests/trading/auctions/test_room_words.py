"""What a newcomer reads on the room's pages once a lot has run: the result page and its PDF agree on
what they are and say when the publicity ends as a day's end; an ended lot shows no live figures
(the next acceptable bid, how many may bid, a bid form); the console's notes say who sees names;
lists and bid tables keep codes and numbers whole on a phone."""

from __future__ import annotations

import datetime as dt
import io
import re
from html import unescape

from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy.orm import Session

from archive import clock
from tests.factories import make_user, page_login
from tests.trading.auctions.test_bidding import T0, bid, make_lot
from trading.accounts.models import Role
from trading.auctions.models import Auction, AuctionState
from trading.auctions.tasks import auction_clock_job
from trading.core.formats import local_time
from trading.core.services import services

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def sold_lot(session: Session, app: Flask) -> Auction:
    """A lot sold to the second buyer at 1,010,000.00."""
    svc = services(app)
    a, (b1, b2, _) = make_lot(session, app)
    with clock.frozen(T0 + dt.timedelta(seconds=1)) as c:
        bid(session, svc, a, b1, "1000000.00")
        bid(session, svc, a, b2, "1010000.00")
        c.set(T0 + dt.timedelta(minutes=16))
        auction_clock_job(session, clock.now(), svc)
    assert a.state is AuctionState.SOLD
    session.commit()
    return a


def text_of(html: str, element_id: str) -> str:
    m = re.search(rf'id="{element_id}"[^>]*>(.*?)</d[dt]>', html, re.S)
    assert m is not None, element_id
    return unescape(re.sub(r"<[^>]+>", "", m.group(1)))


def test_the_result_page_and_its_pdf_say_what_they_are(client: FlaskClient, session: Session, app: Flask) -> None:
    a = sold_lot(session, app)
    html = client.get(f"/auctions/{a.code}/result").get_data(as_text=True)
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    h1 = re.search(r"<h1>(.*?)</h1>", html)
    assert title is not None and h1 is not None
    assert h1.group(1) == "成交公示" and title.group(1).startswith("成交公示 ")  # the tab says what the page says
    assert "成交确认书（PDF" in html  # the document it links to
    # the publicity ends at a day's end: "…-07 24:00", not "…-08 00:00:00"
    ends = a.publicity_ends_at
    assert ends is not None
    local = ends.astimezone(SHANGHAI)
    publicity = text_of(html, "publicity")
    if (local.hour, local.minute) == (0, 0):
        day = (local - dt.timedelta(days=1)).strftime("%Y-%m-%d")
        assert f"至 {day} 24:00（北京时间）" in publicity, publicity
    else:
        assert f"至 {local_time(ends, False)}（北京时间）" in publicity, publicity
    assert "00:00:00" not in publicity

    pdf = client.get(f"/auctions/{a.code}/result.pdf")
    meta = PdfReader(io.BytesIO(pdf.data)).metadata
    assert meta is not None
    assert meta.title == f"成交确认书（标的编号 {a.code}）"
    assert meta.author == "公共资源交易平台" and meta.creator == "公共资源交易平台"
    assert meta.subject is not None and a.title in meta.subject and "竞价结果" in meta.subject


def test_the_publicity_ending_at_midnight_reads_as_the_day_before_at_24(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    a = sold_lot(session, app)
    midnight = dt.datetime(2026, 12, 8, tzinfo=SHANGHAI).astimezone(dt.UTC)
    a.publicity_ends_at = midnight
    session.commit()
    html = client.get(f"/auctions/{a.code}/result").get_data(as_text=True)
    assert "至 2026-12-07 24:00（北京时间）" in text_of(html, "publicity")
    a.publicity_ends_at = midnight + dt.timedelta(hours=15, minutes=30)  # not a day's end: as it is
    session.commit()
    html = client.get(f"/auctions/{a.code}/result").get_data(as_text=True)
    assert "至 2026-12-08 15:30（北京时间）" in text_of(html, "publicity")


def test_an_ended_lot_shows_no_live_figures(client: FlaskClient, session: Session, app: Flask) -> None:
    a = sold_lot(session, app)
    staff = make_user(session, Role.STAFF)
    session.commit()
    with clock.frozen(T0 + dt.timedelta(minutes=20)):
        watch = client.get(f"/auctions/{a.code}/watch").get_data(as_text=True)
        detail = client.get(f"/auctions/{a.code}").get_data(as_text=True)
        page_login(client, staff.username)
        console = client.get(f"/auctions/{a.code}/console").get_data(as_text=True)
    for html in (watch, console):
        assert re.search(r'<dt class="while-open" hidden>最低应价</dt>', html)
        assert re.search(r'id="minimum-next" hidden>', html)
        assert "竞价已结束" in html and "/result" in html  # and where the result is
    assert "可以出价" not in detail and "资格审核通过 3 家" in detail
    assert 'id="pause-form"' in console and re.search(r'id="pause-form"[^>]* hidden', console)


def test_an_ended_room_has_no_bid_form(client: FlaskClient, session: Session, app: Flask) -> None:
    svc = services(app)
    lot, (b1, b2, _) = make_lot(session, app)
    session.commit()
    with clock.frozen(T0 + dt.timedelta(seconds=1)) as c:
        page_login(client, b1.keys.user.username)
        html = client.get(f"/auctions/{lot.code}/room").get_data(as_text=True)
        # the bid form comes before the list of bids (a phone shows it without scrolling the list)
        assert 'id="bid-form"' in html and html.index('id="bid-form"') < html.index('id="bids"')
        assert '<label for="sign-key" class="button pick">选择私钥文件</label>' in html  # not "Choose File"
        bid(session, svc, lot, b2, "1000000.00")
        c.set(T0 + dt.timedelta(minutes=16))
        auction_clock_job(session, clock.now(), svc)
        session.commit()
        html = client.get(f"/auctions/{lot.code}/room").get_data(as_text=True)
    assert 'id="bid-form"' not in html and "竞价已结束，不再接受出价" in html and "ukey.js" not in html


def test_the_console_says_who_sees_whose_number(client: FlaskClient, session: Session, app: Flask) -> None:
    a, _ = make_lot(session, app)
    supervisor = make_user(session, Role.SUPERVISOR)
    session.commit()
    watch = client.get(f"/auctions/{a.code}/watch").get_data(as_text=True)
    assert "竞价结束前只显示竞买号牌，不显示竞买人名称" in watch
    page_login(client, supervisor.username)
    console = client.get(f"/auctions/{a.code}/console").get_data(as_text=True)
    assert "号牌对应的竞买人只有交易中心和监督人员可见" in console
    assert "不显示竞买人名称" not in console  # its table does show them


def test_codes_and_numbers_stay_whole_on_a_phone(client: FlaskClient, session: Session, app: Flask) -> None:
    a, _ = make_lot(session, app)
    with clock.frozen(T0 + dt.timedelta(seconds=1)):
        lots = client.get("/auctions").get_data(as_text=True)
        watch = client.get(f"/auctions/{a.code}/watch").get_data(as_text=True)
    assert (
        'table id="lots" class="stack"' in lots
        and f'<td class="nowrap" data-label="编号"><code>{a.code}</code>' in lots
    )
    assert "auction.css" in lots and "auction.css" in watch
    assert 'table id="bids" class="stack"' in watch
    served = client.get("/static/auction.css")
    css = served.get_data(as_text=True)
    served.close()
    assert "table.stack thead { display: none; }" in css
