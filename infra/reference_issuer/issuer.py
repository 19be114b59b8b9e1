#!/usr/bin/env python3
"""A reference e-guarantee issuer (参考保函出具机构): its own process, talking to the platform only
through the public, signed issuer API, as a bank's or insurer's system would.

Each poll it decides every open order (approves up to a single-guarantee limit, else declines),
renders the guarantee document (PDF), signs the guarantee statement with its signing key and pushes
it; and it answers claims: pays a claim whose evidence shows the bidder withdrew after the deadline,
refuses any other. Used by the end-to-end tests; run it against a demo with

    GGZY_KEY_PASSWORD=... python infra/reference_issuer/issuer.py --server http://127.0.0.1:5000 \
        --username issuer --keys 密钥文件夹 [--once] [--limit 5000000]

The key folder is laid out as ``ggzy-bid keygen`` leaves it (sign.key, sign.crt, enc.key, enc.crt),
with the certificates registered for the issuer's user on the platform. The platform's signing
certificate is pinned with --platform-cert, or fetched once at start.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import pathlib
import sys
import time
import urllib.request
from decimal import Decimal
from typing import Any

from bidding.guarantees.issuer_client import IssuerApiError, IssuerClient, guarantee_for, http_transport
from signing import messages
from signing.certs import Certificate
from signing.sm2 import PrivateKey


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

    def decide(self, order: dict[str, Any]) -> str:
        principal = messages.open_field(order["principal"], self.enc_key)
        if Decimal(order["amount"]) > self.limit:
            self.client.reject(order["order"], f"超过本机构单笔担保限额 {self.limit} 元")
            return "rejected"
        number = f"REF-{dt.date.today():%Y%m%d}-{order['order']:06d}"
        code = f"{order['order']:04d}{os.urandom(3).hex().upper()}"
        pdf = render_pdf(order, principal, self.name, number, code)
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
        )
        self.client.push(order["order"], body)
        return "issued"

    def answer(self, claim: dict[str, Any]) -> str:
        evidence = claim.get("evidence") or {}
        if claim["ground"] == "withdrew_after_deadline" and evidence.get("outcome") == "revoked":
            ref = f"PAY-{dt.date.today():%Y%m%d}-{claim['id']:06d}"
            self.client.answer(
                claim["id"], pay=True, answer="经核实开标记录，同意赔付。", amount=claim["amount"], reference=ref
            )
            return "paid"
        self.client.answer(claim["id"], pay=False, answer="索赔依据不足，不予赔付。")
        return "refused"

    def poll(self) -> dict[str, int]:
        done = {"issued": 0, "rejected": 0, "paid": 0, "refused": 0, "failed": 0}
        for order in self.client.orders():
            try:
                done[self.decide(order)] += 1
            except IssuerApiError as exc:  # the platform refused it: say why, go on with the others
                print(f"order {order['order']}: {exc}", file=sys.stderr)
                done["failed"] += 1
        for claim in self.client.claims():
            done[self.answer(claim)] += 1
        return done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--username", required=True, help="the issuer's API user on the platform")
    ap.add_argument("--keys", type=pathlib.Path, required=True)
    ap.add_argument("--platform-cert", type=pathlib.Path, help="the platform's signing certificate (PEM)")
    ap.add_argument("--limit", type=Decimal, default=Decimal("5000000.00"), help="largest single guarantee (yuan)")
    ap.add_argument("--once", action="store_true", help="poll once and exit")
    ap.add_argument("--interval", type=float, default=5.0)
    args = ap.parse_args(argv)
    password = os.environ.get("GGZY_KEY_PASSWORD", "").encode() or None
    sign_key = PrivateKey.from_pem((args.keys / "sign.key").read_bytes(), password)
    enc_key = PrivateKey.from_pem((args.keys / "enc.key").read_bytes(), password)
    sign_cert = Certificate.load((args.keys / "sign.crt").read_bytes())
    server = args.server.rstrip("/")
    if args.platform_cert:
        platform = Certificate.load(args.platform_cert.read_bytes())
    else:
        with urllib.request.urlopen(f"{server}/api/v1/platform/certificates", timeout=30) as r:
            platform = Certificate.from_pem(json.load(r)["signing_certificate"].encode())
    client = IssuerClient(http_transport(server), args.username, sign_key, sign_cert, platform)
    me = client.whoami()  # the issuer organisation the platform knows this client by
    issuer = ReferenceIssuer(client, enc_key, me["credit_code"], me["name"], args.limit)
    while True:
        print(json.dumps(issuer.poll(), ensure_ascii=False), flush=True)
        if args.once:
            return 0
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
