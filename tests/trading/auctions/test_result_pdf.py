"""The result's PDF (成交确认书 / 流拍公告) is drawn from the platform-signed statement alone, says
what it signed (winner, price, reserve and its salt, the statement's SM3, the refund limit), and shows
any text a participant typed as text: a title with markup and a lone surrogate cannot break it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask

from signing.digest import sm3_hex
from signing.statements import SignedStatement, sign_statement
from tests.trading.test_hostile_text import NASTY, pdf_text
from trading.auctions import result_pdf
from trading.core.services import services

AT = dt.datetime(2026, 12, 7, 1, 42, 30, tzinfo=dt.UTC)


def statement(app: Flask, **over: Any) -> SignedStatement:
    body = {
        "format": "ggzy-auction-result/1",
        "auction": "PM-2026-0001",
        "title": "宗地",
        "procedure": "land_auction",
        "method": "auction",
        "category": "land_use",
        "transferor": "某市自然资源局",
        "starting_price": "1000000.00",
        "countdown_seconds": 300,
        "increments": [{"after_seq": 0, "increment": "10000.00"}, {"after_seq": 2, "increment": "20000.00"}],
        "outcome": "sold",
        "reason": None,
        "final_price": "1080000.00",
        "highest": "1080000.00",
        "winner": {"bidding_number": "1008", "name": "某某置业有限公司", "credit_code": "913501005000000083"},
        "bids": 5,
        "bids_sm3": "ab" * 32,
        "reserve": {"sm3": "cd" * 32, "price": "1050000.00", "salt": "ef" * 16},
        "ended_at": AT.isoformat(),
        "publicity_ends_at": (AT + dt.timedelta(days=7)).isoformat(),
        "refund_due": (AT + dt.timedelta(days=5)).isoformat(),
    } | over
    keys = services(app).keys
    return sign_statement("auction_result", body, key=keys.sign_key, cert=keys.sign_cert, now=AT)


def test_a_sale_states_winner_price_reserve_and_the_statement(app: Flask) -> None:
    st = statement(app)
    text = pdf_text(result_pdf.render(st, "国有建设用地使用权拍卖出让"))
    for part in (
        "成交确认书",
        "某某置业有限公司",
        "913501005000000083",
        "竞买号牌1008",
        "1,080,000.00元（人民币壹佰零捌万元整）",
        "底价：1,050,000.00元",
        "ef" * 16,
        "cd" * 32,
        sm3_hex(st.to_json()),
        "2026-12-1209:42:30",  # the refunds' limit, Beijing time
        "第3次出价起",
    ):
        assert part in text, part


def test_a_failure_below_the_reserve_says_why(app: Flask) -> None:
    st = statement(app, outcome="failed", reason="below_reserve", final_price=None, winner=None)
    text = pdf_text(result_pdf.render(st))
    assert "流拍公告" in text and "流拍原因：最高报价低于底价（最高报价1,080,000.00元）" in text
    assert "成交确认书" not in text and "竞得人" not in text
    none = pdf_text(result_pdf.render(statement(app, outcome="failed", reason="no_bid", reserve=None, winner=None)))
    assert "竞价期间无人出价" in none and "未设底价" in none


def test_hostile_text_is_shown_as_text(app: Flask) -> None:
    title = f"<b>粗体宗地</b>{NASTY}"
    hostile = {"title": title, "transferor": f"出让人{NASTY}"}
    winner = {"bidding_number": "1008", "name": f"<i>名称{NASTY}", "credit_code": "x"}
    text = pdf_text(result_pdf.render(statement(app, winner=winner, **hostile)))
    for shown in (title, f"出让人{NASTY}", f"<i>名称{NASTY}"):
        assert shown.replace(" ", "") in text, shown
    # a lone surrogate cannot be signed (canonical JSON is UTF-8), but the drawing never trusts that
    body = statement(app).body | {"title": f"{title}孤立代理项\ud800"}
    drawn = pdf_text(result_pdf.draw(body, "ab" * 32, AT.isoformat()))
    assert f"{title}孤立代理项\ufffd".replace(" ", "") in drawn
