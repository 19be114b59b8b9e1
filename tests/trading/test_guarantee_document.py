"""The bidder's copy of its issued guarantee (issue 20): ``GET /api/v1/guarantees/orders/{id}/document``
serves the stored bytes to the order's own organisation only, with its SM3 and its Chinese name
(RFC 6266 ``filename*``); nothing before it is issued, nor a sealed lot's before the reveal."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from infra.reference_issuer.client import openings_for
from signing.digest import sm3_hex
from tests.bidding.test_guarantees import DOC, _issued, credit, issuer_of, push_body
from tests.trading.opening.test_ceremony import open_tender
from trading.guarantees.models import Guarantee

URL = "/api/v1/guarantees/orders/{}/document"


def test_only_the_orders_organisation_downloads_the_issued_document(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    t = open_tender(client, session, app, 3)
    _, _, orders = _issued(client, session, app, t)
    H = t["headers"]
    r = client.get(URL.format(orders[0]["order"]), headers=H[0])
    assert r.status_code == 200 and r.get_data() == DOC and r.mimetype == "application/octet-stream"
    assert r.headers["X-Document-SM3"] == sm3_hex(DOC)
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="guarantee-') and ".pdf" in disposition
    assert f"filename*=UTF-8''{quote('电子投标保函.pdf')}" in disposition
    for who, order in ((H[1], orders[0]), (t["outsider"], orders[1]), (t["tenderee"], orders[0])):
        r = client.get(URL.format(order["order"]), headers=who)
        assert r.status_code in (403, 404) and r.get_json()["error"]["code"] in ("no_such_order", "forbidden")
    assert client.get(URL.format(orders[0]["order"]), headers=H[1]).get_json()["error"]["code"] == "no_such_order"
    assert client.get(URL.format(orders[0]["order"])).status_code == 401  # anonymous
    r = client.get(URL.format(orders[2]["order"]), headers=H[2])  # rejected: never issued
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "no_document"
    assert client.get(URL.format(987654), headers=H[0]).get_json()["error"]["code"] == "no_such_order"
    assert client.get("/api/v1/guarantees/orders/x/document", headers=H[0]).status_code == 404


def test_a_sealed_lots_document_comes_with_the_reveal(client: FlaskClient, session: Session, app: Flask) -> None:
    t = open_tender(client, session, app, 3, guarantee_sealed=True)
    ic, issuer = issuer_of(client, session, app)
    body = {"tender": t["code"], "lot": 1, "issuer": credit(issuer)}
    assert client.post("/api/v1/guarantees", json=body, headers=t["headers"][0]).status_code == 201
    (order,) = ic.orders()
    salts = {f: "ab" * 16 for f in ("tender", "lot", "beneficiary")}
    ic.push(order["order"], push_body(order, issuer, "BH-S-0009", salts=salts))
    r = client.get(URL.format(order["order"]), headers=t["headers"][0])
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "no_document"
    g = session.scalars(select(Guarantee)).one()
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        client.get(f"/api/v1/ceremonies/{t['cid']}")
        ic.reveal(g.id, openings_for(order, salts), DOC)
        r = client.get(URL.format(order["order"]), headers=t["headers"][0])
        assert r.status_code == 200 and r.get_data() == DOC and r.headers["X-Document-SM3"] == sm3_hex(DOC)


def test_a_document_damaged_in_storage_is_refused_by_name(client: FlaskClient, session: Session, app: Flask) -> None:
    """The bytes the store gives back no longer hash to the SM3 the platform verified at issue
    (here: the record says other bytes): 503 ``document_damaged``, never those bytes."""
    t = open_tender(client, session, app, 3)
    _, _, orders = _issued(client, session, app, t)
    g = session.scalars(select(Guarantee).where(Guarantee.document_sm3 == sm3_hex(DOC))).first()
    assert g is not None
    g.document_sm3 = sm3_hex(DOC + b"x")
    session.commit()
    served = [client.get(URL.format(o["order"]), headers=t["headers"][i]) for i, o in enumerate(orders[:2])]
    damaged = [r for r in served if r.status_code == 503]
    assert len(damaged) == 1 and damaged[0].get_json()["error"]["code"] == "document_damaged"
    assert DOC not in damaged[0].get_data()
