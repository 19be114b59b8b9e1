"""The revocation list: public to read (a CRL is public), staff to add to."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from pydantic import Field
from sqlalchemy import select

from signing.certs import Certificate
from signing.errors import SigningError
from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.core.errors import DomainError, InvalidInput
from trading.core.schemas import Schema
from trading.pki.models import RevokedCertificate
from trading.pki.operations import revoke_certificate

pages = Blueprint("pki", __name__)
api = Blueprint("pki_api", __name__, url_prefix="/api/v1/certificates")


class RevokeIn(Schema):
    certificate_pem: str = Field(min_length=50, max_length=20_000)
    reason: str = Field(min_length=2, max_length=200)


def _revoke(data: RevokeIn) -> RevokedCertificate:
    try:
        cert = Certificate.load(data.certificate_pem.encode())
    except SigningError:
        raise InvalidInput("证书无法读取", fields={"certificate_pem": "不是有效的 PEM 证书"}) from None
    return revoke_certificate(web.db(), web.require_user(), cert, data.reason)


def revoked_json(r: RevokedCertificate) -> dict[str, Any]:
    return {
        "issuer_serial": r.issuer_serial,
        "fingerprint": r.fingerprint,
        "subject": r.subject,
        "reason": r.reason,
        "revoked_at": r.revoked_at.isoformat(),
    }


def _rows() -> list[RevokedCertificate]:
    return list(web.db().scalars(select(RevokedCertificate).order_by(RevokedCertificate.revoked_at.desc())))


@pages.get("/certificates/revoked")
@requires(Permission.PUBLIC)
def revoked_page() -> str:
    return render_template("pki/revoked.html", rows=_rows(), error=None, fields={})


@pages.post("/certificates/revoked")
@requires(Permission.CERTIFICATE_REVOKE)
def revoke_submit() -> ResponseReturnValue:
    try:
        _revoke(web.form_body(RevokeIn))
    except DomainError as exc:
        web.db().rollback()
        return render_template("pki/revoked.html", rows=_rows(), error=exc.message, fields=exc.fields), exc.status
    web.commit()
    flash("证书已吊销")
    return redirect(url_for("pki.revoked_page"))


@api.get("/revoked")
@requires(Permission.PUBLIC)
def api_revoked() -> Response:
    return jsonify({"items": [revoked_json(r) for r in _rows()]})


@api.post("/revoked")
@requires(Permission.CERTIFICATE_REVOKE)
def api_revoke() -> tuple[Response, int]:
    row = _revoke(web.json_body(RevokeIn))
    web.commit()
    return jsonify(revoked_json(row)), 201


@pages.get("/account/certificates")
@requires(Permission.CERTIFICATE_REGISTER)
def my_certificates_page() -> str:
    return _certs_page()


def _certs_page(error: str = "") -> str:
    from signing.certs import Usage
    from trading.pki.operations import current_certificate

    user = web.require_user()
    certs = {u.value: current_certificate(web.db(), user, u) for u in (Usage.SIGN, Usage.ENCRYPT)}
    return render_template("pki/mine.html", certs=certs, error=error)


@pages.post("/account/certificates")
@requires(Permission.CERTIFICATE_REGISTER)
def my_certificates_register() -> ResponseReturnValue:
    from signing.certs import Usage
    from trading.pki.operations import register_certificate
    from trading.pki.trust import trust

    try:
        usage = Usage(request.form.get("usage", ""))
        cert = Certificate.load((request.form.get("certificate_pem") or "").encode())
        register_certificate(web.db(), web.require_user(), cert, usage, trust())
    except ValueError:
        return _certs_page("请选择证书用途"), 422
    except SigningError as exc:
        web.db().rollback()
        return _certs_page(f"证书不能登记：{exc}"), 422
    except DomainError as exc:
        web.db().rollback()
        return _certs_page(exc.message), exc.status
    web.commit()
    flash("证书已登记")
    return redirect(url_for("pki.my_certificates_page"))
