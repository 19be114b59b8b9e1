"""Login by SM2 challenge-response with the registered signing key, as a UKey login works."""

from __future__ import annotations

import base64
import datetime as dt

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from archive import clock
from signing.sm2 import PrivateKey
from tests.factories import make_bidder_with_keys
from trading.pki.operations import revoke_certificate


def sign(key: PrivateKey, statement: str) -> str:
    return base64.b64encode(key.sign(statement.encode())).decode()


def test_challenge_login(client: FlaskClient, session: Session, app: Flask) -> None:
    b = make_bidder_with_keys(session, app)
    session.commit()
    ch = client.post("/api/v1/auth/challenge", json={"username": b.user.username}).get_json()
    assert b.user.username in ch["statement"] and "ggzy-login/1" in ch["statement"]
    r = client.post(
        "/api/v1/auth/sm2", json={"challenge_id": ch["challenge_id"], "signature": sign(b.sign_key, ch["statement"])}
    )
    assert r.status_code == 201
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {r.get_json()['token']}"}).get_json()
    assert me["username"] == b.user.username
    # a challenge works once
    r = client.post(
        "/api/v1/auth/sm2", json={"challenge_id": ch["challenge_id"], "signature": sign(b.sign_key, ch["statement"])}
    )
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "bad_challenge"


def test_wrong_key_expired_revoked_and_unknown(client: FlaskClient, session: Session, app: Flask) -> None:
    b = make_bidder_with_keys(session, app)
    session.commit()

    def attempt(username: str, key: PrivateKey) -> int:
        ch = client.post("/api/v1/auth/challenge", json={"username": username}).get_json()
        return client.post(
            "/api/v1/auth/sm2", json={"challenge_id": ch["challenge_id"], "signature": sign(key, ch["statement"])}
        ).status_code

    assert attempt(b.user.username, b.enc_key) == 401  # the encryption key is not the signing key
    assert attempt(b.user.username, PrivateKey.generate()) == 401
    assert attempt("no-such-user", PrivateKey.generate()) == 401  # unknown names get challenges too
    ch = client.post("/api/v1/auth/challenge", json={"username": b.user.username}).get_json()
    with clock.frozen(clock.now() + dt.timedelta(minutes=3)):
        r = client.post(
            "/api/v1/auth/sm2",
            json={"challenge_id": ch["challenge_id"], "signature": sign(b.sign_key, ch["statement"])},
        )
        assert r.status_code == 401 and r.get_json()["error"]["code"] == "bad_challenge"
    revoke_certificate(session, b.user, b.sign_cert, "UKey 遗失")
    session.commit()
    assert attempt(b.user.username, b.sign_key) == 401
    assert client.post("/api/v1/auth/sm2", json={"challenge_id": "x" * 32, "signature": "A" * 40}).status_code == 401
    assert client.post("/api/v1/auth/sm2", json={"challenge_id": "short"}).status_code == 422
