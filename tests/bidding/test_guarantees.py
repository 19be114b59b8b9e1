"""Electronic guarantees through the real API, on SQLite and PostgreSQL: application, the issuer's
signed API (orders, forged and wrong guarantees refused by name with nothing changed, replays and
stale messages refused, answers signed), the bond column at the opening, a claim against a bidder
who withdrew after the deadline and its payment, and release when a lot fails."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import AuditEvent
from infra.reference_issuer.client import IssuerApiError, IssuerClient, flask_transport, guarantee_for
from signing import messages
from signing.certs import Certificate
from signing.sm2 import PrivateKey
from tests.factories import (
    BidderKeys,
    api_token,
    apply_for_guarantees,
    make_bidder_with_keys,
    make_user,
    page_login,
)
from tests.trading.opening.test_ceremony import open_tender, release, signin_sig
from trading.accounts.models import Role
from trading.core.services import services
from trading.guarantees.models import Guarantee, GuaranteeOrder
from trading.opening.decryption import run_pending

DOC = b"%PDF-1.4 \xe7\x94\xb5\xe5\xad\x90\xe6\x8a\x95\xe6\xa0\x87\xe4\xbf\x9d\xe5\x87\xbd"


def issuer_of(client: FlaskClient, session: Session, app: Flask) -> tuple[IssuerClient, BidderKeys]:
    keys = make_bidder_with_keys(session, app, Role.ISSUER)
    session.commit()
    platform = Certificate.from_pem(
        client.get("/api/v1/platform/certificates").get_json()["signing_certificate"].encode()
    )
    ic = IssuerClient(flask_transport(client), keys.user.username, keys.sign_key, keys.sign_cert, platform)
    return ic, keys


def credit(b: BidderKeys) -> str:
    assert b.user.organisation is not None
    return b.user.organisation.credit_code


def push_body(received: dict[str, Any], issuer: BidderKeys, number: str, /, **over: Any) -> dict[str, str]:
    principal = over.pop("principal", None) or messages.open_field(received["principal"], issuer.enc_key)["credit_code"]
    return guarantee_for(
        received,
        issuer=credit(issuer),
        principal=principal,
        number=number,
        verification_code="VC-8842",
        document=over.pop("document", DOC),
        document_name="电子投标保函.pdf",
        sign_key=over.pop("sign_key", issuer.sign_key),
        sign_cert=over.pop("sign_cert", issuer.sign_cert),
        **over,
    )


def _issued(
    client: FlaskClient, session: Session, app: Flask, t: dict[str, Any]
) -> tuple[IssuerClient, BidderKeys, list[dict[str, Any]]]:
    """Each of ``t``'s three bidders applied (operation ``apply``); the issuer, through its signed
    API, issues BH-0001 to bidder 0 and BH-0002 to bidder 1 and rejects bidder 2. Its client,
    keys and the orders in bidder order."""
    ic, issuer = issuer_of(client, session, app)
    apply_for_guarantees(session, app, t, credit(issuer), [0, 1, 2])
    orders = {messages.open_field(o["principal"], issuer.enc_key)["credit_code"]: o for o in ic.orders()}
    o0, o1, o2 = (orders[credit(b)] for b in t["bidders"])
    ic.push(o0["order"], push_body(o0, issuer, "BH-0001"))
    ic.push(o1["order"], push_body(o1, issuer, "BH-0002"))
    ic.reject(o2["order"], "被保证人资信不足")
    return ic, issuer, [o0, o1, o2]


def _open_but_bidder_1_withdraws(client: FlaskClient, app: Flask, t: dict[str, Any]) -> None:
    """The opening, up to the price reading: all sign in, bidder 1 never releases its key (撤销
    after the deadline). Leaves the clock at the reading (the caller freezes it)."""
    cid, code = t["cid"], t["code"]
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        for i, b in enumerate(t["bidders"]):
            body = {"signature": signin_sig(b, cid, code)}
            client.post(f"/api/v1/ceremonies/{cid}/signin", json=body, headers=t["headers"][i])
        client.post(f"/api/v1/ceremonies/{cid}/advance", headers=t["staff"])
        client.post(f"/api/v1/ceremonies/{cid}/advance", headers=t["staff"])
        for i in (0, 2):
            assert release(client, t, i).status_code == 202
        run_pending(app.extensions["ggzy.db"], services(app))


CLAIM = {"ground": "withdrew_after_deadline", "statement": "该投标人在投标截止后未解密投标文件，视为撤销投标文件。"}


def test_guarantees_from_application_to_claim(client: FlaskClient, session: Session, app: Flask) -> None:
    """The one path over the API: application, the issuer's signed API, the bond column at the
    opening, a claim against a bidder who withdrew and its payment, the pages. The refusals on the
    way have their own tests below."""
    t = open_tender(client, session, app, 3)
    code, H, bidders = t["code"], t["headers"], t["bidders"]
    ic, issuer = issuer_of(client, session, app)
    issuers = client.get("/api/v1/guarantees/issuers", headers=H[0]).get_json()["items"]
    assert issuers == [{"credit_code": credit(issuer), "name": issuer.user.organisation.name}]  # type: ignore[union-attr]
    apply = {"tender": code, "lot": 1, "issuer": credit(issuer)}
    for i in range(3):
        assert client.post("/api/v1/guarantees", json=apply, headers=H[i]).status_code == 201

    # the issuer's signed API: orders, with the principal sealed to the issuer
    orders = {messages.open_field(o["principal"], issuer.enc_key)["credit_code"]: o for o in ic.orders()}
    assert set(orders) == {credit(b) for b in bidders}
    assert all(credit(b) not in str(o["principal"]) for b in bidders for o in orders.values())
    o0, o1, o2 = (orders[credit(b)] for b in bidders)
    g0 = ic.push(o0["order"], push_body(o0, issuer, "BH-0001"))
    assert g0["state"] == "valid" and g0["number"] == "BH-0001"
    assert ic.push(o1["order"], push_body(o1, issuer, "BH-0002"))["state"] == "valid"
    ic.reject(o2["order"], "被保证人资信不足")

    _open_but_bidder_1_withdraws(client, app, t)
    with clock.frozen(t["deadline"] + dt.timedelta(hours=2)):
        st = client.get(f"/api/v1/ceremonies/{t['cid']}").get_json()
        assert st["stage"] == "reading"
        bonds = {r["credit_code"]: r["bond"] for r in st["table"]}
        assert "BH-0001" in bonds[credit(bidders[0])] and issuer.user.organisation.name in bonds[credit(bidders[0])]  # type: ignore[union-attr]
        assert "BH-0002" in bonds[credit(bidders[1])]
        assert bonds[credit(bidders[2])] == "未提交电子保函"
        listed = client.get(f"/api/v1/tenders/{code}/lots/1/guarantees", headers=t["staff"]).get_json()["items"]
        assert [g["number"] for g in listed] == ["BH-0001", "BH-0002"]
        # the tenderee's claim, its grounds proven by the opening record; the issuer pays
        ids = {g["number"]: g["id"] for g in listed}
        r = client.post(f"/api/v1/guarantees/{ids['BH-0002']}/claims", json=CLAIM, headers=t["tenderee"])
        assert r.status_code == 201 and r.get_json()["evidence"]["outcome"] == "revoked"
        (c,) = ic.claims()
        assert c["ground"] == "withdrew_after_deadline" and c["guarantee"]["number"] == "BH-0002"
        assert (
            ic.answer(c["id"], pay=True, answer="经核实，同意赔付", amount="200000.00", reference="PAY-20261202-1")[
                "state"
            ]
            == "paid"
        )
        listed = client.get(f"/api/v1/tenders/{code}/lots/1/guarantees", headers=t["tenderee"]).get_json()["items"]
        paid = next(g for g in listed if g["number"] == "BH-0002")
        assert paid["state"] == "paid" and paid["claims"][0]["paid_amount"] == "200000.00"

    # the pages: the bidder's, the issuer's console, the lot's list for the tenderee
    page = app.test_client()
    page_login(page, bidders[0].user.username)
    assert "BH-0001" in page.get("/guarantees").get_data(as_text=True)
    assert page.get("/issuer").status_code == 403
    page_login(page, issuer.user.username)
    html = page.get("/issuer").get_data(as_text=True)
    assert ("BH-0002" in html and "被保证人资信不足" not in html) or "出具机构已拒绝" in html


def test_an_application_is_refused_by_name_and_recorded_sealed(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    t = open_tender(client, session, app, 3)
    H, bidders = t["headers"], t["bidders"]
    _, issuer = issuer_of(client, session, app)
    apply_for_guarantees(session, app, t, credit(issuer), [0, 1, 2])
    apply = {"tender": t["code"], "lot": 1, "issuer": credit(issuer)}
    r = client.post("/api/v1/guarantees", json=apply, headers=H[0])
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "duplicate_order"
    r = client.post("/api/v1/guarantees", json=apply, headers=t["outsider"])
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_registered"
    r = client.post("/api/v1/guarantees", json={**apply, "issuer": credit(bidders[1])}, headers=H[0])
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "unknown_issuer"
    assert client.post("/api/v1/guarantees", json={**apply, "lot": 9}, headers=H[0]).status_code == 404
    assert client.post("/api/v1/guarantees", json=apply, headers=t["tenderee"]).status_code == 403
    # the audit trail says an application happened, not for which tender or by whom
    applied = session.scalars(select(AuditEvent).where(AuditEvent.action == "guarantee.apply")).all()
    assert len(applied) == 3 and all(t["code"] not in e.payload and e.actor_id == "sealed" for e in applied)


def test_the_issuer_api_refuses_a_wrong_guarantee_by_name_changing_nothing(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    t = open_tender(client, session, app, 3)
    H, bidders = t["headers"], t["bidders"]
    ic, issuer = issuer_of(client, session, app)
    apply_for_guarantees(session, app, t, credit(issuer), [0, 1, 2])
    orders = {messages.open_field(o["principal"], issuer.enc_key)["credit_code"]: o for o in ic.orders()}
    o0, o1, o2 = (orders[credit(b)] for b in bidders)

    count = lambda: session.scalar(select(func.count()).select_from(Guarantee))  # noqa: E731
    other = PrivateKey.generate()
    stranger = make_bidder_with_keys(session, app, Role.ISSUER)
    session.commit()
    bad = {
        "signature_invalid": push_body(o0, issuer, "BH-0001", sign_key=other),  # forged: not the issuer's key
        "signer_not_registered": push_body(
            o0, issuer, "BH-0001", sign_key=stranger.sign_key, sign_cert=stranger.sign_cert
        ),
        "wrong_beneficiary": push_body(o0, issuer, "BH-0001", beneficiary=credit(bidders[2])),
        "wrong_lot": push_body(o0, issuer, "BH-0001", lot=2),
        "wrong_principal": push_body(o0, issuer, "BH-0001", principal=credit(bidders[1])),
        "amount_below_bond": push_body(o0, issuer, "BH-0001", amount="199999.99"),
        "expires_too_early": push_body(
            o0, issuer, "BH-0001", ends_on=dt.date.fromisoformat(o0["valid_until"]) - dt.timedelta(days=1)
        ),
        "wrong_order": push_body(o0, issuer, "BH-0001", order=o1["order"]),
    }
    tampered = push_body(o0, issuer, "BH-0001")
    tampered["document"] = base64.b64encode(DOC + b"!").decode()
    bad["document_hash_mismatch"] = tampered
    for reason, body in bad.items():
        with pytest.raises(IssuerApiError) as exc:
            ic.push(o0["order"], body)
        assert (exc.value.status, exc.value.code) == (422, reason), exc.value
        assert count() == 0
        mine = client.get("/api/v1/guarantees/mine", headers=H[0]).get_json()["items"][0]
        assert mine["state"] == "applied" and mine["last_refusal"]["code"] == reason  # shown to the bidder

    g0 = ic.push(o0["order"], push_body(o0, issuer, "BH-0001"))
    assert g0["state"] == "valid" and g0["number"] == "BH-0001"
    with pytest.raises(IssuerApiError) as exc:
        ic.push(o1["order"], push_body(o1, issuer, "BH-0001"))
    assert exc.value.code == "duplicate_number"
    with pytest.raises(IssuerApiError) as exc:
        ic.push(o0["order"], push_body(o0, issuer, "BH-0009"))
    assert exc.value.code == "wrong_state"  # already issued
    assert ic.push(o1["order"], push_body(o1, issuer, "BH-0002"))["state"] == "valid"
    with pytest.raises(IssuerApiError):
        ic.reject(o2["order"], "不")
    ic.reject(o2["order"], "被保证人资信不足")
    assert count() == 2


def test_signed_messages_refuse_replays_stale_and_unknown_clients(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    """Replays, stale or unsigned requests and unknown clients are refused; every answer is signed
    by the platform and bound to its request."""
    t = open_tender(client, session, app, 3)
    ic, issuer, (_, _, o2) = _issued(client, session, app, t)
    body = b'{"reason": "\\u91cd\\u590d"}'
    signed = messages.sign_request(
        issuer.sign_key, ic.username, "POST", f"/api/v1/issuer/orders/{o2['order']}/reject", body, clock.now()
    )
    headers = {**signed.headers(), "Content-Type": "application/json"}
    first = client.post(f"/api/v1/issuer/orders/{o2['order']}/reject", data=body, headers=headers)
    assert first.status_code == 409  # already rejected: refused, but the nonce is spent
    again = client.post(f"/api/v1/issuer/orders/{o2['order']}/reject", data=body, headers=headers)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "message_replayed"
    with clock.frozen(clock.now() - dt.timedelta(minutes=6)):
        stale = messages.sign_request(issuer.sign_key, ic.username, "GET", "/api/v1/issuer/orders", b"", clock.now())
    r = client.get("/api/v1/issuer/orders", headers=stale.headers())
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "message_stale"
    assert client.get("/api/v1/issuer/orders").status_code == 401
    H = t["headers"]
    assert client.get("/api/v1/issuer/orders", headers=H[0]).status_code == 401  # a bearer token is not a signature
    other = PrivateKey.generate()
    nobody = messages.sign_request(other, "nobody", "GET", "/api/v1/issuer/orders", b"", clock.now())
    assert client.get("/api/v1/issuer/orders", headers=nobody.headers()).get_json()["error"]["code"] == "unknown_client"
    ok = messages.sign_request(issuer.sign_key, ic.username, "GET", "/api/v1/issuer/orders", b"", clock.now())
    r = client.get("/api/v1/issuer/orders", headers=ok.headers())
    answer = messages.Signed.from_headers({h: r.headers[h] for h in messages.HEADERS})
    kw: dict[str, Any] = {
        "direction": "response",
        "method": "GET",
        "path": "/api/v1/issuer/orders",
        "now": clock.now(),
        "status": 200,
    }
    messages.verify(answer, ic.platform_cert.public_key, body=r.get_data(), in_reply_to=ok.nonce, **kw)
    with pytest.raises(messages.MessageSignatureInvalid):
        messages.verify(answer, ic.platform_cert.public_key, body=r.get_data(), in_reply_to=signed.nonce, **kw)


def test_a_claim_needs_grounds_proven_by_the_record(client: FlaskClient, session: Session, app: Flask) -> None:
    t = open_tender(client, session, app, 3)
    code, H = t["code"], t["headers"]
    ic, _, _ = _issued(client, session, app, t)
    # nobody but the bidder sees a guarantee before the opening
    r = client.get(f"/api/v1/tenders/{code}/lots/1/guarantees", headers=t["staff"])
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "before_opening"
    _open_but_bidder_1_withdraws(client, app, t)
    with clock.frozen(t["deadline"] + dt.timedelta(hours=2)):
        assert client.get(f"/api/v1/ceremonies/{t['cid']}").get_json()["stage"] == "reading"  # a read moves it
        listed = client.get(f"/api/v1/tenders/{code}/lots/1/guarantees", headers=t["staff"]).get_json()["items"]
        assert client.get(f"/api/v1/tenders/{code}/lots/1/guarantees", headers=H[0]).status_code == 403
        ids = {g["number"]: g["id"] for g in listed}
        claim, ht = CLAIM, t["tenderee"]
        r = client.post(f"/api/v1/guarantees/{ids['BH-0001']}/claims", json=claim, headers=ht)
        assert r.status_code == 422 and r.get_json()["error"]["code"] == "no_grounds"  # bidder 0 decrypted
        r = client.post(
            f"/api/v1/guarantees/{ids['BH-0002']}/claims", json={**claim, "ground": "refused_contract"}, headers=ht
        )
        assert r.status_code == 422 and r.get_json()["error"]["code"] == "no_grounds"  # no award yet
        r = client.post(f"/api/v1/guarantees/{ids['BH-0002']}/claims", json={**claim, "statement": "短"}, headers=ht)
        assert r.status_code == 422
        assert (
            client.post(f"/api/v1/guarantees/{ids['BH-0002']}/claims", json=claim, headers=t["staff"]).status_code
            == 403
        )
        r = client.post(f"/api/v1/guarantees/{ids['BH-0002']}/claims", json=claim, headers=ht)
        assert r.status_code == 201 and r.get_json()["evidence"]["outcome"] == "revoked", r.get_json()
        r = client.post(f"/api/v1/guarantees/{ids['BH-0002']}/claims", json=claim, headers=ht)
        assert r.status_code == 409  # one claim at a time
        (c,) = ic.claims()
        with pytest.raises(IssuerApiError):
            ic.answer(c["id"], pay=True, answer="同意赔付", amount="999999.00", reference="PAY-1")


def test_guarantees_are_released_when_the_lot_fails(client: FlaskClient, session: Session, app: Flask) -> None:
    t = open_tender(client, session, app, 2)  # fewer than the procedure's three: the lot fails
    ic, issuer = issuer_of(client, session, app)
    for i in range(2):
        body = {"tender": t["code"], "lot": 1, "issuer": credit(issuer)}
        assert client.post("/api/v1/guarantees", json=body, headers=t["headers"][i]).status_code == 201
    orders = ic.orders()
    ic.push(orders[0]["order"], push_body(orders[0], issuer, "BH-1001"))  # the second stays undecided
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        assert client.get(f"/api/v1/ceremonies/{t['cid']}").get_json()["stage"] == "failed"
        from trading.awards.release import release_due

        assert release_due(session, clock.now()) == 2
        session.commit()
        assert release_due(session, clock.now()) == 0  # idempotent
        released = ic.released()
        assert [g["number"] for g in released] == ["BH-1001"] and released[0]["release_reason"] == "标段流标，保函释放"
        states = sorted(o.state.value for o in session.scalars(select(GuaranteeOrder)))
        assert states == ["cancelled", "issued"]
        with pytest.raises(IssuerApiError) as exc:
            ic.push(orders[1]["order"], push_body(orders[1], issuer, "BH-1002"))
        assert exc.value.code == "wrong_state"


def test_guarantees_are_released_after_the_award_and_the_contract(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    """Losers' bonds once the lot is awarded; a refused-contract claim has grounds against the
    winner until its contract is recorded; then the winner's bond is released too (Reg 57)."""
    from tests.trading.test_draw import run_opening
    from tests.trading.test_evaluation import evaluate_and_award
    from trading.awards.claims import evidence_for
    from trading.awards.release import release_due
    from trading.guarantees.models import ClaimGround
    from trading.opening.models import CeremonyBidder

    t = open_tender(client, session, app, 3)
    ic, issuer = issuer_of(client, session, app)
    for i in range(3):
        body = {"tender": t["code"], "lot": 1, "issuer": credit(issuer)}
        assert client.post("/api/v1/guarantees", json=body, headers=t["headers"][i]).status_code == 201
    for n, order in enumerate(ic.orders()):
        ic.push(order["order"], push_body(order, issuer, f"BH-30{n}"))
    run_opening(client, app, t)
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)) as moment:
        assert release_due(session, clock.now()) == 0  # evaluating: every bond still stands
        got = evaluate_and_award(client, session, app, t, moment)
        session.expire_all()
        winner_org = session.get(CeremonyBidder, got["winner"]["bidder_id"]).org_id  # type: ignore[union-attr]
        assert release_due(session, clock.now()) == 2
        session.commit()
        released = ic.released()
        assert len(released) == 2 and {g["release_reason"] for g in released} == {"已定标，未中标人的保函释放"}
        bonds = {g.org_id: g for g in session.scalars(select(Guarantee))}
        won = bonds[winner_org]
        assert won.state.value == "valid"
        assert evidence_for(session, won, ClaimGround.REFUSED_CONTRACT)["contract_signed"] is False
        ht, url = got["tenderee"], got["url"]
        claim = {"ground": "refused_contract", "statement": "中标人收到中标通知书后拒绝签订合同。"}
        loser = next(g for org, g in bonds.items() if org != winner_org)
        r = client.post(f"/api/v1/guarantees/{loser.id}/claims", json=claim, headers=ht)
        assert r.get_json()["error"]["code"] == "wrong_state"  # released: nothing to claim against
        assert client.post(f"{url}/contract", headers=t["headers"][0]).status_code == 403
        assert client.post(f"{url}/contract", headers=ht).status_code == 200
        r = client.post(f"/api/v1/guarantees/{won.id}/claims", json=claim, headers=ht)
        assert r.get_json()["error"]["code"] == "no_grounds"  # the contract is on record
        assert release_due(session, clock.now()) == 1
        session.commit()
        assert release_due(session, clock.now()) == 0
        session.refresh(won)
        assert won.state.value == "released" and won.release_reason == "中标人已签订合同，保函释放"


def test_an_issuer_without_certificates_is_not_offered(client: FlaskClient, session: Session, app: Flask) -> None:
    t = open_tender(client, session, app, 3)
    bare = make_user(session, Role.ISSUER)
    session.commit()
    assert client.get("/api/v1/guarantees/issuers", headers=t["headers"][0]).get_json()["items"] == []
    code = bare.organisation.credit_code  # type: ignore[union-attr]
    r = client.post("/api/v1/guarantees", json={"tender": t["code"], "lot": 1, "issuer": code}, headers=t["headers"][0])
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "issuer_not_connected"
    assert api_token(client, bare.username)  # it can still log in; it just has no API client


def test_sealed_guarantees_are_revealed_at_the_opening(client: FlaskClient, session: Session, app: Flask) -> None:
    """保函加密: before the opening the platform holds commitments for project, lot and beneficiary and
    no document; at the opening the issuer opens them and hands over the document."""
    from infra.reference_issuer.decisions import ReferenceIssuer

    t = open_tender(client, session, app, 3, guarantee_sealed=True)
    code, H = t["code"], t["headers"]
    ic, issuer = issuer_of(client, session, app)
    for h in H:
        assert (
            client.post(
                "/api/v1/guarantees", json={"tender": code, "lot": 1, "issuer": credit(issuer)}, headers=h
            ).status_code
            == 201
        )
    orders = ic.orders()
    assert all(o["sealed"] for o in orders)
    o0, o1 = orders[0], orders[1]
    # an unsealed guarantee, or one carrying its document, is refused for a sealed lot
    unsealed = push_body({**o0, "sealed": False}, issuer, "BH-S-0001")
    with pytest.raises(IssuerApiError) as exc:
        ic.push(o0["order"], {**unsealed, "document": ""})
    assert exc.value.code == "not_sealed"
    salts = {f: "ab" * 16 for f in ("tender", "lot", "beneficiary")}
    with_doc = push_body(o0, issuer, "BH-S-0001", salts=salts)
    with_doc["document"] = base64.b64encode(DOC).decode()
    with pytest.raises(IssuerApiError) as exc:
        ic.push(o0["order"], with_doc)
    assert exc.value.code == "document_before_opening"
    # order 1 is sealed honestly but for another beneficiary: only the reveal can tell
    wrong = {**o1, "beneficiary": {"credit_code": credit(t["bidders"][2]), "name": "别人"}}
    ic.push(o1["order"], push_body(wrong, issuer, "BH-S-0002", salts=salts))
    me = ic.whoami()
    ref = ReferenceIssuer(ic, issuer.enc_key, me["credit_code"], me["name"], limit=__import__("decimal").Decimal("1e7"))
    assert ref.poll()["issued"] == 2  # orders 0 and 2, sealed, through the reference issuer
    stored = session.scalars(select(Guarantee).order_by(Guarantee.id)).all()
    assert {g.state.value for g in stored} == {"sealed"} and all(g.document_key is None for g in stored)
    assert all(code not in g.content for g in stored)  # the project is not named before the opening
    assert ic.reveals() == []
    g1 = next(g for g in stored if g.number == "BH-S-0002")
    with pytest.raises(IssuerApiError) as exc:
        ic.reveal(g1.id, {}, DOC)
    assert exc.value.code == "before_opening"

    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        client.get(f"/api/v1/ceremonies/{t['cid']}")
        assert len(ic.reveals()) == 3
        from infra.reference_issuer.client import openings_for

        bad = openings_for(wrong, {**salts, "lot": "cd" * 16})
        with pytest.raises(IssuerApiError) as exc:
            ic.reveal(g1.id, bad, DOC)
        assert exc.value.code == "opening_mismatch"
        with pytest.raises(IssuerApiError) as exc:  # the commitments open, but to the wrong beneficiary
            ic.reveal(g1.id, openings_for(wrong, salts), DOC)
        assert exc.value.code == "wrong_beneficiary"
        assert ref.poll()["revealed"] == 2
        session.expire_all()
        states = {g.number: g.state.value for g in session.scalars(select(Guarantee))}
        assert states["BH-S-0002"] == "invalid" and sorted(states.values()) == ["invalid", "valid", "valid"]
        from trading.guarantees.bonds import bond_status

        labels = {credit(b): bond_status(session, g1.lot_id, b.user.organisation_id)["label"] for b in t["bidders"]}  # type: ignore[arg-type]
        assert labels[credit(t["bidders"][1])] == "保函无效：保函受益人不是本项目招标人"
        assert all(v.startswith("电子保函 REF-") for k, v in labels.items() if k != credit(t["bidders"][1]))


def test_guarantee_pages(client: FlaskClient, session: Session, app: Flask) -> None:
    from tests.factories import csrf_from

    t = open_tender(client, session, app, 3)
    _, issuer = issuer_of(client, session, app)
    page = app.test_client()
    page_login(page, t["bidders"][0].user.username)
    html = page.get("/guarantees").get_data(as_text=True)
    assert issuer.user.organisation.name in html  # type: ignore[union-attr]
    token = csrf_from(html)
    form = {"csrf_token": token, "tender": t["code"], "lot": "1", "issuer": credit(issuer)}
    r = page.post("/guarantees", data={**form, "issuer": "91350100MA00000000"}, follow_redirects=True)
    assert r.status_code == 200 and "未提交" in r.get_data(as_text=True)
    r = page.post("/guarantees", data={**form, "lot": "x"}, follow_redirects=True)
    assert r.status_code == 200 and "未提交" in r.get_data(as_text=True)
    assert page.post("/guarantees", data={k: v for k, v in form.items() if k != "csrf_token"}).status_code == 400
    r = page.post("/guarantees", data=form, follow_redirects=True)
    assert "保函申请已提交出具机构" in r.get_data(as_text=True) and "待出具机构审核" in r.get_data(as_text=True)
    order = session.scalars(select(GuaranteeOrder)).one()
    r = page.post(f"/guarantees/orders/{order.id}/cancel", data={"csrf_token": token}, follow_redirects=True)
    assert "保函申请已取消" in r.get_data(as_text=True)
    # the lot's list is closed before the opening, to staff too, and never open to bidders
    staff_page = app.test_client()
    page_login(staff_page, t["staff_username"])
    assert staff_page.get(f"/tenders/{t['code']}/lots/1/guarantees").status_code == 403
    assert page.get(f"/tenders/{t['code']}/lots/1/guarantees").status_code == 403
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):  # a fresh login: sessions expire meanwhile
        page_login(staff_page, t["staff_username"])
        page_login(page, t["bidders"][0].user.username)
        assert "第1标段的电子保函" in staff_page.get(f"/tenders/{t['code']}/lots/1/guarantees").get_data(as_text=True)
        assert page.get(f"/tenders/{t['code']}/lots/1/guarantees").status_code == 403


def test_a_claim_right_after_the_window_sees_the_withdrawal(client: FlaskClient, session: Session, app: Flask) -> None:
    """Nobody has read the room since its decryption window closed, so the opening has not yet
    classified bidder 1's bid as withdrawn (撤销): filing the claim brings the opening up to now
    first, instead of refusing it as unproven."""
    t = open_tender(client, session, app, 3)
    _issued(client, session, app, t)
    _open_but_bidder_1_withdraws(client, app, t)
    with clock.frozen(t["deadline"] + dt.timedelta(hours=2)):
        listed = client.get(f"/api/v1/tenders/{t['code']}/lots/1/guarantees", headers=t["staff"]).get_json()["items"]
        ids = {g["number"]: g["id"] for g in listed}
        r = client.post(f"/api/v1/guarantees/{ids['BH-0002']}/claims", json=CLAIM, headers=t["tenderee"])
        assert r.status_code == 201, r.get_json()
        assert client.get(f"/api/v1/ceremonies/{t['cid']}").get_json()["stage"] == "reading"
