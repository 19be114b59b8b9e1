"""The result of a lot, for anyone, once it has ended: the platform-signed statement over the API,
its PDF (成交确认书 / 流拍公告), and the public page (成交公示 / 流拍公告) that names the winner, the
price and the end of the publicity.

Before the end there is nothing to show: a lot still in its announcement or its bidding answers
409 ``auction_not_ended``; a lot terminated before any bid (终止) has no result, 404 ``no_result``;
a draft is not public, 404 ``auction_not_found``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, url_for

from archive import clock
from signing.statements import SignedStatement
from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.auctions import result_pdf
from trading.auctions.bidding import get_auction
from trading.auctions.models import Auction, AuctionState
from trading.auctions.result_schemas import AuctionResultOut
from trading.core.apispec import documented
from trading.core.errors import Conflict, NotFound
from trading.core.services import services

api = Blueprint("auction_results_api", __name__, url_prefix="/api/v1")
pages = Blueprint("auction_results", __name__, template_folder="templates")


def ended_auction(code: str) -> Auction:
    """The lot ``code`` with its signed result; the named refusal otherwise."""
    a = get_auction(web.db(), code)
    if a.state is AuctionState.DRAFT:
        raise NotFound("未找到该标的", code="auction_not_found")
    if a.state is AuctionState.CANCELLED:
        raise NotFound("本标的已终止，没有竞价结果", code="no_result")
    if not a.state.ended or a.result_statement is None:
        raise Conflict(f"竞价尚未结束（{a.state.label}），结果在竞价结束后公布", code="auction_not_ended")
    return a


def result_json(a: Auction) -> dict[str, Any]:
    assert a.result_statement is not None and a.ended_at is not None
    st = SignedStatement.from_json(a.result_statement.encode())
    body: dict[str, Any] = st.body
    now = clock.now()
    return {
        "auction": a.code,
        "title": a.title,
        "state": a.state.value,
        "state_label": a.state.label,
        "outcome": body["outcome"],
        "final_price": body["final_price"],
        "winner": body["winner"],
        "ended_at": clock.as_utc(a.ended_at).isoformat(),
        "publicity_ends_at": body["publicity_ends_at"],
        "in_publicity": a.publicity_ends_at is not None and now < clock.as_utc(a.publicity_ends_at),
        "result": body,
        "statement": a.result_statement,
        "result_sm3": a.result_sm3 or "",
        "pdf": url_for("auction_results.result_pdf_page", code=a.code),
    }


@api.get("/auctions/<code>/result")
@requires(Permission.PUBLIC)
@documented(
    "竞价结果（平台签名的成交确认书或流拍声明）",
    ok=AuctionResultOut,
    errors=("auction_not_found", "auction_not_ended", "no_result"),
)
def result_api(code: str) -> Response:
    return jsonify(result_json(ended_auction(code)))


@pages.get("/auctions/<code>/result.pdf")
@requires(Permission.PUBLIC)
def result_pdf_page(code: str) -> Response:
    """The PDF as stored at the end; drawn and stored now if the end did not store it."""
    a = ended_auction(code)
    svc = services(current_app)
    stored = a.result_pdf_key is not None
    key = result_pdf.issue(web.db(), svc.store, a)
    if not stored:
        web.commit()
    name = "result" if a.state is AuctionState.SOLD else "failed"
    return Response(
        svc.store.read_bytes(key),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="auction-{name}.pdf"'},
    )


@pages.get("/auctions/<code>/result")
@requires(Permission.PUBLIC)
def result_page(code: str) -> str:
    a = ended_auction(code)
    r = result_json(a)
    return render_template(
        "auctions/result.html",
        a=a,
        r=r,
        body=r["result"],
        heading=result_pdf.title_of(r["result"]),
        reason=result_pdf.reason_text(r["result"]),
    )
