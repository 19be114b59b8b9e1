"""Detached signed statements served as the exact bytes signed (issue 20): the bid receipt and the
award notice's ``notice.sig``, both ``application/octet-stream``, verified here as an outsider would
with the platform certificate it publishes (and the receipt against the root certificate too)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from archive import clock
from signing.certs import Certificate, TrustStore
from signing.digest import sm3_hex
from signing.statements import SignedStatement
from tests.bidding.test_bids import PRICE_SHEET, tender  # noqa: F401  (the fixture)
from tests.factories import page_login, seal_bid, upload_bid
from tests.trading.opening.test_ceremony import open_tender
from tests.trading.test_draw import run_opening
from tests.trading.test_evaluation import evaluate_to_publicity, finish_award


def platform_certificate(client: FlaskClient) -> Certificate:
    pem = client.get("/api/v1/platform/certificates").get_json()["signing_certificate"]
    return Certificate.from_pem(pem.encode())


def test_the_bid_receipt_is_served_byte_for_byte(
    client: FlaskClient,
    session: Session,
    app: Flask,
    tender: dict[str, Any],  # noqa: F811
) -> None:
    t = tender
    bid = upload_bid(client, t["h1"], seal_bid(t["b1"], t["code"], PRICE_SHEET), t["code"]).get_json()
    url = f"/my/bids/{bid['ciphertext_sm3']}/receipt.json"
    page = app.test_client()
    page_login(page, t["b1"].user.username)
    r = page.get(url)
    assert r.status_code == 200 and r.mimetype == "application/octet-stream"
    assert r.headers["Content-Disposition"] == f'attachment; filename="receipt-{bid["ciphertext_sm3"][:16]}.json"'
    assert r.data == bid["receipt"].encode()  # what the upload answered, byte for byte
    signed = SignedStatement.from_json(r.data)
    body = signed.verify(trusted=platform_certificate(client), expected_type="bid_receipt")["body"]
    assert bid["ciphertext_sm3"] in str(body)
    root = Certificate.from_pem(app.test_client().get("/bidder/tool/root.pem").data)
    assert signed.verify(trust=TrustStore((root,)), expected_type="bid_receipt")["body"] == body
    other = app.test_client()
    page_login(other, t["b2"].user.username)
    assert other.get(url).status_code == 404  # another organisation's bid
    assert page.get(f"/my/bids/{'0' * 64}/receipt.json").status_code == 404
    assert app.test_client().get(url).status_code in (302, 401)  # anonymous: to the login page


def test_the_award_notice_signature_is_served_byte_for_byte(client: FlaskClient, session: Session, app: Flask) -> None:
    t = open_tender(client, session, app, 3)
    run_opening(client, app, t)
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)) as moment:
        got = evaluate_to_publicity(client, session, app, t)
        r = client.get(f"{got['url']}/notice.sig")
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"  # not awarded yet
        finish_award(client, t, got, moment)
        r = client.get(f"{got['url']}/notice.sig")  # anonymous, as the notice PDF
        assert r.status_code == 200 and r.mimetype == "application/octet-stream"
        assert r.headers["Content-Disposition"] == f'attachment; filename="award-notice-{got["id"]}.sig"'
        assert r.data == client.get(f"{got['url']}/publicity").get_json()["notice_statement"].encode()
        content = SignedStatement.from_json(r.data).verify(
            trusted=platform_certificate(client), expected_type="award_notice"
        )
        assert content["body"]["pdf_sm3"] == sm3_hex(client.get(f"{got['url']}/notice.pdf").data)
        assert content["body"]["tender"] == t["code"]
        tampered = r.data.replace(b'"signature":"', b'"signature":"AA', 1)
        try:
            SignedStatement.from_json(tampered).verify(trusted=platform_certificate(client))
        except Exception as exc:
            assert "签名" in str(exc)
        else:
            raise AssertionError("a tampered signature verified")
        assert client.get("/api/v1/evaluations/987654/notice.sig").status_code == 404
