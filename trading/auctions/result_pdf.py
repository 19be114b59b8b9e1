"""The result's document (成交确认书 / 流拍公告): a PDF drawn from the platform-signed result alone.

``results.finish`` signs the result (``auction_result``); this module draws its PDF from that
signed statement and nothing else, so that what the PDF says is what was signed: the lot and its
procedure, the winner's name, credit code and bidding number and the price (in figures and in
words), or 流拍 with its reason; the reserve's published commitment with the price and salt that
open it; the increments and the countdown the bids were held to; the deposits' conversion and the
limit for the refunds; and the SM3 of the signed statement, so a reader can check the PDF against
the statement (``GET /api/v1/auctions/<code>/result``) and the statement against the platform's
certificate. Every string goes through ``trading.core.pdf`` as plain text (a title may hold
anything its author typed).

As with the award notice, the PDF is stored once in the object store (content-addressed, its key in
``Auction.result_pdf_key``) and served and archived from there, byte for byte.
"""

from __future__ import annotations

import io
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, SimpleDocTemplate, Spacer
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import SYSTEM, record_event
from archive.db import locked
from archive.objectstore import ObjectStore
from signing.digest import sm3_hex
from signing.statements import SignedStatement
from trading.auctions.models import METHOD_LABELS, Auction, AuctionProcedure, Method
from trading.core import pdf
from trading.core.errors import Conflict
from trading.core.formats import amount_in_words, local_time, money
from trading.tenders.models import CATEGORY_LABELS, TenderCategory

REASONS = {"no_bid": "竞价期间无人出价", "below_reserve": "最高报价低于底价"}
#: who issues the document: the PDF's author and creator in its metadata
PLATFORM = "公共资源交易平台"
MARGIN_MM = 20


def title_of(body: dict[str, Any]) -> str:
    """成交确认书 for a sale, 流拍公告 for a lot that failed."""
    return "成交确认书" if body.get("outcome") == "sold" else "流拍公告"


def _label(labels: dict[Any, str], enum: type[Any], value: object) -> str:
    try:
        return labels[enum(value)]
    except (ValueError, KeyError):
        return str(value)


def _price(value: object) -> str:
    words = amount_in_words(str(value))
    return f"{money(str(value))} 元（{words}）" if words else f"{money(str(value))} 元"


def _when(value: object) -> str:
    return f"{local_time(str(value))}（北京时间）" if value else "—"


def reason_text(body: dict[str, Any]) -> str:
    """Why the lot failed, in words, with the highest price when there was a bid."""
    text = REASONS.get(str(body.get("reason")), str(body.get("reason") or "未成交"))
    if body.get("reason") == "below_reserve" and body.get("highest"):
        text += f"（最高报价 {money(str(body['highest']))} 元）"
    return text


def render(statement: SignedStatement, procedure_name: str = "") -> bytes:
    """The PDF of a signed ``auction_result`` statement (its body only; nothing read elsewhere)."""
    signed_at = str(statement.content.get("signed_at", ""))
    return draw(statement.body, sm3_hex(statement.to_json()), signed_at, procedure_name)


def draw(b: dict[str, Any], statement_sm3: str, signed_at: str, procedure_name: str = "") -> bytes:
    """The PDF of a result's body, signed as the statement whose file has SM3 ``statement_sm3``."""
    body, title = pdf.styles()
    big = ParagraphStyle("big", parent=body, fontSize=11, leading=18)
    heading = title_of(b)
    method = _label(METHOD_LABELS, Method, b.get("method"))
    category = _label(CATEGORY_LABELS, TenderCategory, b.get("category"))
    story: list[Flowable] = [
        pdf.para(heading, title),
        Spacer(1, 6 * mm),
        pdf.para(f"标的：{b.get('title', '')}（标的编号 {b.get('auction', '')}）", big),
        pdf.para(f"交易方式：{method}　类别：{category}", body),
        pdf.para(f"交易程序：{procedure_name or b.get('procedure', '')}（{b.get('procedure', '')}）", body),
        pdf.para(f"出让人（转让方）：{b.get('transferor', '')}", body),
        pdf.para(f"起始价：{_price(b.get('starting_price', ''))}", body),
        Spacer(1, 4 * mm),
    ]
    winner = b.get("winner")
    if b.get("outcome") == "sold" and isinstance(winner, dict):
        story += [
            pdf.para(
                f"经{method}，竞得人（买受人）为：{winner.get('name', '')}"
                f"（统一社会信用代码 {winner.get('credit_code', '')}，竞买号牌 {winner.get('bidding_number', '')}），"
                f"成交价 {_price(b.get('final_price', ''))}。",
                big,
            ),
            pdf.para(f"成交公示期至 {_when(b.get('publicity_ends_at'))}。", body),
            pdf.para(
                f"竞得人缴纳的竞买保证金转为成交价款的一部分；其他竞买人的保证金于 {_when(b.get('refund_due'))} 前退还。",
                body,
            ),
        ]
    else:
        story += [
            pdf.para(f"本标的流拍。流拍原因：{reason_text(b)}。", big),
            pdf.para(f"全部竞买人的竞买保证金于 {_when(b.get('refund_due'))} 前退还。", body),
        ]
    story += [
        Spacer(1, 4 * mm),
        pdf.para(f"竞价结束时间：{_when(b.get('ended_at'))}　有效出价：{b.get('bids', 0)} 次", body),
        pdf.para(f"全部有效出价的摘要 SM3：{b.get('bids_sm3', '')}", body),
        pdf.para(f"限时竞价周期：{b.get('countdown_seconds', '')} 秒（每次有效出价后重新计时）", body),
    ]
    rows: list[list[object]] = [["适用起点", "加价幅度（元）"]]
    for inc in b.get("increments") or []:
        after = int(inc.get("after_seq", 0))
        rows.append(["首次出价起" if after == 0 else f"第 {after + 1} 次出价起", money(str(inc.get("increment", "")))])
    story += [Spacer(1, 2 * mm), pdf.table(rows, body, [60, 60]), Spacer(1, 4 * mm)]
    reserve = b.get("reserve")
    if isinstance(reserve, dict):
        story += [
            pdf.para(f"底价：{_price(reserve.get('price', ''))}（竞价结束时揭示）", body),
            pdf.para(f"公告时公布的底价承诺值 SM3(盐值‖底价)：{reserve.get('sm3', '')}", body),
            pdf.para(f"盐值：{reserve.get('salt', '')}", body),
            pdf.para("任何人可将盐值与底价（两位小数）依次连接后计算 SM3，与公布的承诺值核对。", body),
        ]
    else:
        story.append(pdf.para("本标的未设底价。", body))
    story += [
        Spacer(1, 4 * mm),
        pdf.para(f"平台签名的结果声明（签名文件）SM3：{statement_sm3}", body),
        pdf.para(f"签名时间：{_when(signed_at)}", body),
        pdf.para(
            "本文件由公共资源交易平台依据其以 SM2 密钥签名的竞价结果声明生成；声明及每一次出价的竞买人签名"
            "均归入标的档案包，可用 ggzy archive verify 离线核验并复算竞价结果。",
            body,
        ),
    ]
    code = b.get("auction", "")
    title_text = pdf.plain_text(f"{heading}（标的编号 {code}）")
    return build(title_text, pdf.plain_text(f"{b.get('title', '')}：竞价结果（{method}）"), story)


def build(title: str, subject: str, story: list[Flowable]) -> bytes:
    """The A4 document of ``story`` (as ``trading.core.pdf.build``) with its metadata: the title,
    the subject, and the platform as its author and creator, in place of reportlab's "(anonymous)"
    and "(unspecified)"."""
    out = io.BytesIO()
    margin = MARGIN_MM * mm
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        title=title,
        subject=subject,
        author=PLATFORM,
        creator=PLATFORM,
    )
    doc.build(story)
    return out.getvalue()


def result_statement(a: Auction) -> SignedStatement:
    """The lot's signed result; a named refusal before the lot has one."""
    if a.result_statement is None:
        raise Conflict("竞价尚未结束，没有竞价结果", code="auction_not_ended")
    return SignedStatement.from_json(a.result_statement.encode())


def issue(session: Session, store: ObjectStore, a: Auction) -> str:
    """Draw and store the result's PDF once (``Auction.result_pdf_key``); return its key. Idempotent:
    a lot whose PDF is stored keeps that one."""
    if a.result_pdf_key:
        return a.result_pdf_key
    # under the lot's lock: two first readers at once store one PDF, not two
    a = session.scalars(locked(select(Auction).where(Auction.id == a.id))).one()
    if a.result_pdf_key:
        return a.result_pdf_key
    proc = session.get(AuctionProcedure, a.procedure_code)
    stored = store.put_bytes(render(result_statement(a), proc.name if proc else ""))
    a.result_pdf_key = stored.key
    session.flush()
    record_event(session, SYSTEM, "auction.result_pdf", a, {"sm3": stored.sm3, "size": stored.size})
    return stored.key
