"""The demo's bidders and issuer as their own software works: bids built, sealed and uploaded as
``ggzy-bid`` does, guarantees decided by the reference issuer."""

from __future__ import annotations

import base64
import datetime as dt
import io
import pathlib
import zipfile
from decimal import Decimal
from typing import Any

from flask import Flask
from pypdf import PdfWriter

from archive import clock
from bidding.client import head_length
from bidding.part_digests import seal_file
from infra.reference_issuer.client import IssuerClient, flask_transport
from infra.reference_issuer.decisions import ReferenceIssuer
from signing.certs import Certificate
from signing.digest import SM3
from signing.price_sheet import FILENAME as PRICE_SHEET
from signing.price_sheet import build_price_sheet
from signing.sm2 import PrivateKey
from trading.demo.actors import Actor, key_file, make_keys


def upload_sealed(actor: Actor, sealed: pathlib.Path, code: str, lot: int = 1, address: str | None = None) -> None:
    """init → parts (with the prefix SM3) → complete: the upload API that `ggzy-bid upload` drives;
    the platform's signed receipt is kept beside the sealed file, where ``ggzy-bid upload`` keeps it
    (``ggzy-bid receipt verify`` reads it)."""
    data = sealed.read_bytes()
    head = data[: head_length(sealed)]
    origin: dict[str, Any] = {"environ_overrides": {"REMOTE_ADDR": address}} if address else {}
    up = actor.call(
        "POST",
        "/api/v1/bids/uploads",
        expect=201,
        json={"tender": code, "lot": lot, "size": len(data), "head": base64.b64encode(head).decode()},
        **origin,
    )
    h = SM3()
    for n, start in enumerate(range(0, len(data), up["part_size"]), start=1):
        part = data[start : start + up["part_size"]]
        h.update(part)
        actor.call(
            "PUT",
            f"/api/v1/bids/uploads/{up['upload_id']}/parts/{n}",
            data=part,
            headers={"X-Prefix-SM3": h.hexdigest(), "Content-Type": "application/octet-stream"},
            **origin,
        )
    bid = actor.call("POST", f"/api/v1/bids/uploads/{up['upload_id']}/complete", expect=201, **origin)
    sealed.with_name(sealed.name + ".receipt.json").write_text(bid["receipt"], encoding="utf-8")


def seal_and_upload(
    b: Actor,
    keys_dir: pathlib.Path,
    code: str,
    lot: int,
    price: str,
    days: int,
    extra: dict[str, bytes] | None = None,
    address: str | None = None,
) -> tuple[PrivateKey, PrivateKey, pathlib.Path]:
    """A demo bidder builds, seals and uploads its bid for one lot, as ``ggzy-bid build | seal | upload``
    do; the sealed file stays in ``demo-bids/`` for whoever plays the bidder afterwards. ``extra``
    files go into the package too; ``address`` is where the upload comes from, if not the bidder's own."""
    declared = [{"name": "duration_days", "label": "工期（日历天）", "kind": "integer"}]
    bids = keys_dir.parent / "demo-bids"
    bids.mkdir(parents=True, exist_ok=True)
    folder = keys_dir / b.username
    sign = key_file(folder / "sign.key")
    enc = key_file(folder / "enc.key")
    credit = b.call("GET", "/api/v1/me")["organisation"]["credit_code"]
    name = f"{b.username}-{code}" + (f"-lot{lot}" if lot != 1 else "")
    pkg = bids / f"{name}.zip"
    with zipfile.ZipFile(pkg, "w") as z:
        z.writestr(PRICE_SHEET, build_price_sheet(code, lot, price, {"duration_days": str(days)}, declared))
        z.writestr("技术标/施工组织设计.txt", f"{b.username} 的施工组织设计（演示）".encode())
        for name_in_package, data in (extra or {}).items():
            z.writestr(name_in_package, data)
    sealed = bids / f"{name}.sealed"
    seal_file(
        pkg,
        sealed,
        tender_id=code,
        lot_id=str(lot),
        bidder_id=credit,
        signing_key=sign,
        signing_cert=Certificate.load((folder / "sign.crt").read_bytes()),
        recipient_cert=Certificate.load((folder / "enc.crt").read_bytes()),
        now=clock.now(),
    )
    upload_sealed(b, sealed, code, lot, address)
    return sign, enc, sealed


def credentials_pdf(author: str, created: dt.datetime, company: str) -> bytes:
    """A one-page PDF of a bidder's 业绩证明 with the document properties an office tool writes."""
    out = io.BytesIO()
    w = PdfWriter()
    w.add_blank_page(width=595, height=842)
    stamp = clock.local(created).strftime("D:%Y%m%d%H%M%S+08'00'")
    # the producer too, as the office tool writes it (pypdf would name itself)
    meta = {"/Author": author, "/Creator": "WPS 文字", "/Producer": "WPS 文字", "/CreationDate": stamp}
    w.add_metadata({**meta, "/Title": f"{company} 类似工程业绩"})
    w.write(out)
    return out.getvalue()


def encryption_cert(keys_dir: pathlib.Path, b: Actor) -> Certificate:
    """The demo bidder's encryption certificate, which ``release_key`` checks the header names."""
    return Certificate.load((keys_dir / b.username / "enc.crt").read_bytes())


def demo_issuer(app: Flask, actor: Actor, keys_dir: pathlib.Path) -> ReferenceIssuer:
    """The demo's guarantee issuer: the reference issuer's decisions, its API client the demo's
    ``issuer`` account with keys of its own, talking to the signed issuer API in-process."""
    make_keys(app, actor, keys_dir / "issuer", "演示担保有限公司")
    folder = keys_dir / "issuer"
    sign = key_file(folder / "sign.key")
    enc = key_file(folder / "enc.key")
    platform = Certificate.from_pem(actor.call("GET", "/api/v1/platform/certificates")["signing_certificate"].encode())
    client = IssuerClient(
        flask_transport(actor.client),
        actor.username,
        sign,
        Certificate.load((folder / "sign.crt").read_bytes()),
        platform,
    )
    me = client.whoami()
    return ReferenceIssuer(client, enc, me["credit_code"], me["name"], Decimal("5000000.00"))
