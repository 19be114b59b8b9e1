"""Certificate pages: one's own registered certificates, and the revocation list (public to read,
as a CRL is public; staff to add to)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from signing.certs import Certificate, Usage
from signing.errors import SigningError
from trading.accounts import web
from trading.accounts.form_errors import field_lines
from trading.accounts.permissions import Permission, requires
from trading.core.errors import DomainError
from trading.pki.operations import (
    current_certificate,
    list_revoked,
    read_certificate_pem,
    register_certificate,
    revoke_certificate,
)
from trading.pki.schemas import RevokeIn
from trading.pki.trust import trust

pages = Blueprint("pki", __name__, template_folder="templates")


@pages.get("/certificates/revoked")
@requires(Permission.PUBLIC)
def revoked_page() -> str:
    return render_template("pki/revoked.html", rows=list_revoked(web.db()), error=None, fields={}, lines=[])


@pages.post("/certificates/revoked")
@requires(Permission.CERTIFICATE_REVOKE)
def revoke_submit() -> ResponseReturnValue:
    try:
        data = web.form_body(RevokeIn)
        cert = read_certificate_pem(data.certificate_pem)
        revoke_certificate(web.db(), web.require_user(), cert, data.reason)
    except DomainError as exc:
        web.db().rollback()
        rows = list_revoked(web.db())
        page = render_template(
            "pki/revoked.html", rows=rows, error=exc.message, fields=exc.fields, lines=field_lines(exc)
        )
        return page, exc.status
    web.commit()
    flash("证书已吊销")
    return redirect(url_for("pki.revoked_page"))


@pages.get("/account/certificates")
@requires(Permission.CERTIFICATE_REGISTER)
def my_certificates_page() -> str:
    return _certs_page()


def _certs_page(error: str = "") -> str:
    user = web.require_user()
    certs = {u.value: current_certificate(web.db(), user, u) for u in (Usage.SIGN, Usage.ENCRYPT)}
    return render_template("pki/mine.html", certs=certs, error=error)


@pages.post("/account/certificates")
@requires(Permission.CERTIFICATE_REGISTER)
def my_certificates_register() -> ResponseReturnValue:
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
