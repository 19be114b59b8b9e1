"""The reference issuer's decisions (参考保函出具机构): what ``infra/reference_issuer/issuer.py`` runs
as its own process over HTTP, and what the demo's issuer runs in-process. It sees the platform only
through the signed issuer API (``IssuerClient``).

It approves every order up to a single-guarantee limit and declines the rest, renders the
guarantee document (PDF), signs the guarantee statement and pushes it; it pays a claim whose
evidence shows the bidder withdrew after the deadline and refuses any other.
"""

from __future__ import annotations

import datetime as dt
import io
import sys
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from infra.reference_issuer.client import IssuerApiError, IssuerClient, guarantee_for, openings_for
from signing import messages
from signing.digest import sm3_hex
from signing.sm2 import PrivateKey

BEIJING = ZoneInfo("Asia/Shanghai")


def render_pdf(order: dict[str, Any], principal: dict[str, str], issuer_name: str, number: str, code: str) -> bytes:
    """The guarantee document a bidder and the tenderee read (reportlab, built-in CJK font)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4, invariant=1)
    c.setFont("STSong-Light", 18)
    c.drawString(72, 770, "电子投标保函")
    c.setFont("STSong-Light", 11)
    lines = [
        f"保函编号：{number}　　验真码：{code}",
        f"受益人（招标人）：{order['beneficiary']['name']}（{order['beneficiary']['credit_code']}）",
        f"被保证人（投标人）：{principal['name']}（{principal['credit_code']}）",
        f"项目：{order['tender_title']}（{order['tender']}）第{order['lot']}标段 {order['lot_name']}",
        f"担保金额：人民币 {order['amount']} 元",
        f"有效期：自投标截止日起至 {order['valid_until']} 后三十日",
        "被保证人在投标截止后撤销投标文件，或中标后无正当理由拒签合同的，本机构按受益人索赔承担保证责任。",
        f"出具机构：{issuer_name}",
    ]
    for i, line in enumerate(lines):
        c.drawString(72, 730 - 22 * i, line)
    c.showPage()
    c.save()
    return out.getvalue()


class ReferenceIssuer:
    def __init__(self, client: IssuerClient, enc_key: PrivateKey, credit_code: str, name: str, limit: Decimal) -> None:
        self.client, self.enc_key, self.credit_code, self.name, self.limit = client, enc_key, credit_code, name, limit

    def _derived(self, what: str) -> str:
        """Values this issuer can recompute at the reveal without keeping state: salts and codes
        derived from its own signing key (secret), the order and the field."""
        return sm3_hex(self.client.sign_key.to_der() + what.encode())

    def _document(self, order: dict[str, Any]) -> tuple[str, str, bytes, dict[str, str]]:
        principal = messages.open_field(order["principal"], self.enc_key)
        # numbered by the Beijing day of the application, as the tender's papers are dated
        day = dt.datetime.fromisoformat(order["created_at"]).astimezone(BEIJING).date()
        number = f"REF-{day:%Y%m%d}-{order['order']:06d}"
        code = self._derived(f"code:{order['order']}")[:10].upper()
        pdf = render_pdf(order, principal, self.name, number, code)  # deterministic (invariant PDF)
        return number, code, pdf, principal

    def _salts(self, order: dict[str, Any]) -> dict[str, str]:
        return {f: self._derived(f"salt:{order['order']}:{f}") for f in ("tender", "lot", "beneficiary")}

    def decide(self, order: dict[str, Any]) -> str:
        if Decimal(order["amount"]) > self.limit:
            self.client.reject(order["order"], f"超过本机构单笔担保限额 {self.limit} 元")
            return "rejected"
        number, code, pdf, principal = self._document(order)
        body = guarantee_for(
            order,
            issuer=self.credit_code,
            principal=principal["credit_code"],
            number=number,
            verification_code=code,
            document=pdf,
            document_name=f"电子投标保函-{number}.pdf",
            sign_key=self.client.sign_key,
            sign_cert=self.client.sign_cert,
            salts=self._salts(order),
        )
        self.client.push(order["order"], body)
        return "issued"

    def reveal(self, item: dict[str, Any]) -> str:
        """保函加密: at the opening, open the commitments and hand over the document."""
        order = item["order_facts"]
        _, _, pdf, _ = self._document(order)
        self.client.reveal(item["id"], openings_for(order, self._salts(order)), pdf)
        return "revealed"

    def answer(self, claim: dict[str, Any]) -> str:
        evidence = claim.get("evidence") or {}
        withdrew = claim["ground"] == "withdrew_after_deadline" and evidence.get("outcome") == "revoked"
        refused = claim["ground"] == "refused_contract" and evidence.get("contract_signed") is False
        if withdrew or refused:
            ref = f"PAY-{dt.datetime.now(BEIJING):%Y%m%d}-{claim['id']:06d}"
            self.client.answer(
                claim["id"], pay=True, answer="经核实开标记录，同意赔付。", amount=claim["amount"], reference=ref
            )
            return "paid"
        self.client.answer(claim["id"], pay=False, answer="索赔依据不足，不予赔付。")
        return "refused"

    def poll(self) -> dict[str, int]:
        done = {"issued": 0, "rejected": 0, "revealed": 0, "paid": 0, "refused": 0, "failed": 0}
        for order in self.client.orders():
            try:
                done[self.decide(order)] += 1
            except IssuerApiError as exc:  # the platform refused it: say why, go on with the others
                print(f"order {order['order']}: {exc}", file=sys.stderr)
                done["failed"] += 1
        for item in self.client.reveals():
            try:
                done[self.reveal(item)] += 1
            except IssuerApiError as exc:
                print(f"guarantee {item['id']}: {exc}", file=sys.stderr)
                done["failed"] += 1
        for claim in self.client.claims():
            done[self.answer(claim)] += 1
        done["released"] = len(self.client.released())  # bonds the platform has let go of (its exposure ends)
        return done
