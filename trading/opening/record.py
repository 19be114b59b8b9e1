"""The opening record (开标记录): canonical JSON, a Chinese PDF of it, and the platform's signed
statement over both digests.

Two versions: the one the bidders confirm (at the end of the price reading), and the final one at
the close, which adds the confirmations (signed or deemed by silence), the objections and answers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import Spacer
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, record_event
from archive.objectstore.base import key_for
from signing.canonical import canonical_json
from signing.digest import sm3_hex
from signing.statements import SignedStatement, sign_statement
from trading.bids.models import Bid
from trading.core import pdf
from trading.core.formats import amount_in_words, local_time, money
from trading.core.services import Services
from trading.guarantees.bonds import bond_status
from trading.opening.ceremonies import lot_of, tender_of
from trading.opening.display import credit_code_of, fields_text, org_name
from trading.opening.models import Ceremony, Confirmation, DecryptionJob, Objection, Outcome, reason_label


def build_record(session: Session, c: Ceremony, now: dt.datetime, *, final: bool) -> dict[str, Any]:
    tender, lot = tender_of(session, c), lot_of(session, c)
    bidders = []
    for seat in c.bidders:
        bid = session.get(Bid, seat.bid_id)
        assert bid is not None
        attempts = session.scalars(
            select(DecryptionJob).where(DecryptionJob.ceremony_bidder_id == seat.id).order_by(DecryptionJob.id)
        ).all()
        row: dict[str, Any] = {
            "bidder": org_name(session, seat.org_id),
            "credit_code": credit_code_of(session, seat.org_id),
            "ciphertext_sm3": bid.ciphertext_sm3,
            "received_at": bid.received_at.isoformat(),
            "signed_in_at": seat.signed_in_at.isoformat() if seat.signed_in_at else None,
            "outcome": seat.outcome.value,
            "reason": seat.outcome_reason,
            "plaintext_sm3": seat.plaintext_sm3,
            "price_sheet": seat.price_sheet,
            "bond": bond_status(session, c.lot_id, seat.org_id),  # 保证金: from the e-guarantee module
            "evidence": [
                {
                    "job": j.id,
                    "released_at": j.created_at.isoformat(),
                    "finished_at": j.finished_at.isoformat() if j.finished_at else None,
                    "state": j.state.value,
                    "fault": j.fault.value if j.fault else None,
                    "code": j.error_code,
                    "detail": j.error_detail,
                }
                for j in attempts
            ],
        }
        if final:
            row["confirmation"] = {
                "kind": seat.confirmation.value if seat.confirmation else None,
                "at": seat.confirmed_at.isoformat() if seat.confirmed_at else None,
                "signature": seat.confirmation_signature,
                "confirms_record_sm3": c.record_sm3,
            }
        bidders.append(row)
    record: dict[str, Any] = {
        "type": "opening_record_final" if final else "opening_record",
        "tender": tender.code,
        "title": tender.title,
        "lot": lot.number,
        "lot_name": lot.name,
        "price_fields": lot.price_fields,  # the names of the sheet's fields, as the lot declared them
        "ceremony": c.id,
        "deadline": tender.bid_deadline.isoformat(),
        "opened_at": c.opened_at.isoformat() if c.opened_at else None,
        "generated_at": now.isoformat(),
        "bidders": bidders,
        "counts": {o.value: sum(1 for b in bidders if b["outcome"] == o.value) for o in Outcome},
    }
    if final:
        record["confirmed_record_sm3"] = c.record_sm3
        record["objections"] = [
            {
                "bidder": org_name(session, o.org_id),
                "raised_at": o.created_at.isoformat(),
                "text": o.text,
                "answer": o.answer,
                "answered_at": o.answered_at.isoformat() if o.answered_at else None,
            }
            for o in session.scalars(select(Objection).where(Objection.ceremony_id == c.id).order_by(Objection.id))
        ]
    return record


def _local(iso: str | None) -> str:
    return local_time(iso) or "—"


def _price(value: Any) -> str:
    """A bid price as the record states it: the figure with thousands separators, and in words."""
    if value is None:
        return "—"
    words = amount_in_words(value)
    return f"{money(value)}\n{words}" if words else money(value)


def _outcome(b: dict[str, Any]) -> str:
    try:
        text = Outcome(b["outcome"]).label
    except ValueError:
        text = str(b["outcome"])
    if b["reason"] and b["outcome"] != Outcome.DECRYPTED:
        text += f"：{reason_label(b['reason'])}"
    return text


def _confirmation(kind: str | None) -> str:
    try:
        return Confirmation(kind).label if kind else "—"
    except ValueError:
        return str(kind)


def render_pdf(record: dict[str, Any]) -> bytes:
    """The record as a Chinese PDF: amounts with thousands separators and in words (大写), times in
    Beijing time, codes in words. Every string from the record is shown as plain text."""
    body, title = pdf.styles()
    final = record["type"] == "opening_record_final"
    story: list[Any] = [
        pdf.para("开标记录（最终版）" if final else "开标记录", title),
        Spacer(1, 6 * mm),
        pdf.para(f"项目名称：{record['title']}　项目编号：{record['tender']}", body),
        pdf.para(f"标段：第{record['lot']}标段　{record['lot_name']}", body),
        pdf.para(f"投标截止（开标）时间：{_local(record['deadline'])}（北京时间）", body),
        pdf.para(f"本记录生成时间：{_local(record['generated_at'])}（北京时间）", body),
        Spacer(1, 4 * mm),
    ]
    rows: list[list[Any]] = [
        ["序号", "投标人（统一社会信用代码）", "投标报价（元）", "其他报价内容", "保证金", "解密结果"]
    ]
    declared = record.get("price_fields") or []
    for i, b in enumerate(record["bidders"], 1):
        sheet = b["price_sheet"] if isinstance(b["price_sheet"], dict) else {}
        fields = fields_text(sheet.get("fields"), declared)
        bond = (b.get("bond") or {}).get("label") or "—"
        bidder = f"{b['bidder']}\n{b['credit_code']}"
        rows.append([i, bidder, _price(sheet.get("price")), fields or "—", bond, _outcome(b)])
    story += [pdf.table(rows, body, [10, 40, 38, 30, 34, 28]), Spacer(1, 4 * mm)]
    if final:
        story.append(pdf.para(f"本记录确认的开标记录 SM3：{record['confirmed_record_sm3']}", body))
        for b in record["bidders"]:
            conf = b.get("confirmation") or {}
            story.append(pdf.para(f"{b['bidder']}：{_confirmation(conf.get('kind'))}", body))
        story.append(Spacer(1, 3 * mm))
        for o in record["objections"]:
            story.append(pdf.para(f"异议（{o['bidder']}，{_local(o['raised_at'])}）：{o['text']}", body))
            story.append(pdf.para(f"答复（{_local(o['answered_at'])}）：{o['answer'] or '—'}", body))
        if not record["objections"]:
            story.append(pdf.para("开标过程中无异议。", body))
    story.append(Spacer(1, 4 * mm))
    story.append(pdf.para("本记录由公共资源交易平台生成并以平台 SM2 密钥签名；签名文件与本记录一同归档。", body))
    return pdf.build("开标记录", 15, story)


def publish_record(session: Session, c: Ceremony, services: Services, now: dt.datetime, *, final: bool) -> None:
    """Build, store and sign the record; the statement names both files' SM3. It is dated when it is
    made: never later than the clock, even if a caller's ``now`` runs ahead of it."""
    now = min(now, clock.now())
    record = build_record(session, c, now, final=final)
    data = canonical_json(record)
    pdf = render_pdf(record)
    json_obj = services.store.put_bytes(data)
    pdf_obj = services.store.put_bytes(pdf)
    body = {
        "type": record["type"],
        "tender": record["tender"],
        "lot": record["lot"],
        "ceremony": c.id,
        "record_sm3": json_obj.sm3,
        "pdf_sm3": pdf_obj.sm3,
    }
    keys = services.keys
    statement = sign_statement("opening_record", body, key=keys.sign_key, cert=keys.sign_cert, now=now)
    if final:
        c.final_record_sm3, c.final_record_statement = json_obj.sm3, statement.to_json().decode()
    else:
        c.record, c.record_sm3, c.record_statement = record, json_obj.sm3, statement.to_json().decode()
    record_event(session, SYSTEM, "ceremony.record", c, body | {"statement_sm3": sm3_hex(statement.statement)})


def record_files(c: Ceremony, *, final: bool) -> tuple[str, str] | None:
    """(JSON key, PDF key) of a published record, from its signed statement."""
    raw = c.final_record_statement if final else c.record_statement
    if raw is None:
        return None
    body = SignedStatement.from_json(raw.encode()).body
    return key_for(body["record_sm3"]), key_for(body["pdf_sm3"])
