"""The platform's revocation list and trusted roots feed certificate checks."""

import datetime as dt
import pathlib

import pytest
from sqlalchemy.orm import Session

from archive import clock
from signing.certs import CertificateAuthority, Usage, verify_chain
from signing.errors import CertificateRevoked
from signing.sm2 import PrivateKey
from tests.factories import TEST_ACTOR
from trading.core.config import load_settings
from trading.core.errors import Conflict, InvalidInput
from trading.core.platform_keys import ensure_platform_keys, issue_certificate, load_platform_keys
from trading.pki.operations import revoke_certificate, trust_store


def test_revocation_list(session: Session, tmp_path: pathlib.Path) -> None:
    keys = ensure_platform_keys(load_settings({"GGZY_INSTANCE": str(tmp_path), "GGZY_ENV": "test"}))
    assert load_platform_keys(load_settings({"GGZY_INSTANCE": str(tmp_path), "GGZY_ENV": "test"})).ca.cert.der == (
        keys.ca.cert.der
    )
    cert = issue_certificate(keys, PrivateKey.generate().public_key.to_pem(), common_name="投标人甲", usage=Usage.SIGN)
    now = clock.now()
    verify_chain(cert, trust_store(session, keys), at=now, usage=Usage.SIGN)
    with pytest.raises(InvalidInput):
        revoke_certificate(session, TEST_ACTOR, cert, "")
    revoke_certificate(session, TEST_ACTOR, cert, "UKey 遗失")
    with pytest.raises(CertificateRevoked):
        verify_chain(cert, trust_store(session, keys), at=now, usage=Usage.SIGN)
    with pytest.raises(Conflict):
        revoke_certificate(session, TEST_ACTOR, cert, "again")


def test_extra_roots_for_ukey_cas(session: Session, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = ensure_platform_keys(load_settings({"GGZY_INSTANCE": str(tmp_path / "i"), "GGZY_ENV": "test"}))
    now = dt.datetime.now(dt.UTC)
    ukey_ca = CertificateAuthority.create("某数字认证中心", now=now)
    leaf = ukey_ca.issue(PrivateKey.generate().public_key, common_name="投标人乙", usage=Usage.SIGN, now=now)
    (tmp_path / "roots").mkdir()
    (tmp_path / "roots" / "ca.pem").write_bytes(ukey_ca.cert.to_pem())
    monkeypatch.setenv("TRUSTED_ROOTS_DIR", str(tmp_path / "roots"))
    assert len(verify_chain(leaf, trust_store(session, keys), at=now, usage=Usage.SIGN)) == 2


def test_revocation_api_and_page(client, session: Session, tmp_path: pathlib.Path) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import api_token, csrf_from, make_user, page_login
    from trading.accounts.models import Role

    staff = make_user(session, Role.STAFF)
    bidder = make_user(session, Role.BIDDER)
    session.commit()
    now = clock.now()
    ca = CertificateAuthority.create("t", now=now)
    pem = ca.issue(PrivateKey.generate().public_key, common_name="丙公司", usage=Usage.SIGN, now=now).to_pem().decode()
    body = {"certificate_pem": pem, "reason": "私钥泄露"}
    assert (
        client.post("/api/v1/certificates/revoked", json=body, headers=api_token(client, bidder.username)).status_code
        == 403
    )
    h = api_token(client, staff.username)
    r = client.post("/api/v1/certificates/revoked", json=body | {"certificate_pem": "x" * 60}, headers=h)
    assert r.status_code == 422 and r.get_json()["error"]["fields"]["certificate_pem"] == "不是有效的证书文本"
    assert client.post("/api/v1/certificates/revoked", json=body, headers=h).status_code == 201
    assert client.post("/api/v1/certificates/revoked", json=body, headers=h).status_code == 409
    listing = client.get("/api/v1/certificates/revoked").get_json()["items"]  # public, like a CRL
    assert any(i["reason"] == "私钥泄露" for i in listing)
    page_login(client, staff.username)
    html = client.get("/certificates/revoked").get_data(as_text=True)
    assert "丙公司" in html
    r = client.post(
        "/certificates/revoked", data={"certificate_pem": "bad" * 30, "reason": "遗失", "csrf_token": csrf_from(html)}
    )
    assert r.status_code == 422 and "证书无法读取" in r.get_data(as_text=True)
