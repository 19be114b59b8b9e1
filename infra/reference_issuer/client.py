"""The issuer's side of the signed API, as an issuer's system would run it: sign each request,
check the platform's signature on each answer (bound to the request's nonce), open the sealed
principal, and build and sign a guarantee. The reference issuer (``infra/reference_issuer``), the
demo and the tests all use it; only the transport differs (HTTP, or the demo's in-process client).
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from archive import clock
from signing import messages
from signing.certs import Certificate
from signing.digest import sm3_hex
from signing.sm2 import PrivateKey
from signing.statements import guarantee_commitment, guarantee_statement

#: (method, path, body, headers) → (status, headers, body)
Transport = Callable[[str, str, bytes, dict[str, str]], tuple[int, dict[str, str], bytes]]


class IssuerApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{message} [{code}, HTTP {status}]")
        self.status, self.code, self.message = status, code, message


def http_transport(server: str, timeout: float = 60) -> Transport:
    u = urlsplit(server)

    def send(method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
        conn = cls(u.hostname or "127.0.0.1", u.port, timeout=timeout)
        try:
            conn.request(method, path, body=body or None, headers=headers)
            resp = conn.getresponse()
            return resp.status, {k: v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    return send


@dataclass
class IssuerClient:
    send: Transport
    username: str  # the issuer's API client (an issuer-role user)
    sign_key: PrivateKey
    sign_cert: Certificate
    platform_cert: Certificate  # pinned: answers must be signed by it

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        signed = messages.sign_request(self.sign_key, self.username, method, path, data, clock.now())
        headers = signed.headers()
        if data:
            headers["Content-Type"] = "application/json"
        status, resp_headers, resp_body = self.send(method, path, data, headers)
        answer = messages.Signed.from_headers({h: _header(resp_headers, h) for h in messages.HEADERS})
        messages.verify(
            answer,
            self.platform_cert.public_key,
            direction="response",
            method=method,
            path=path,
            body=resp_body,
            now=clock.now(),
            status=status,
            in_reply_to=signed.nonce,
        )
        payload = json.loads(resp_body or b"null")
        if status >= 400:
            err = (payload or {}).get("error", {})
            raise IssuerApiError(status, err.get("code", "error"), err.get("message", resp_body.decode()[:200]))
        return payload

    def whoami(self) -> dict[str, Any]:
        return dict(self.request("GET", "/api/v1/issuer/me"))

    def orders(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/api/v1/issuer/orders")["items"])

    def reject(self, order: int, reason: str) -> Any:
        return self.request("POST", f"/api/v1/issuer/orders/{order}/reject", {"reason": reason})

    def push(self, order: int, payload: dict[str, str]) -> Any:
        return self.request("POST", f"/api/v1/issuer/orders/{order}/guarantee", payload)

    def claims(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/api/v1/issuer/claims")["items"])

    def answer(
        self, claim: int, *, pay: bool, answer: str, amount: str | None = None, reference: str | None = None
    ) -> Any:
        body = {"pay": pay, "answer": answer, "paid_amount": amount, "payment_reference": reference}
        return self.request("POST", f"/api/v1/issuer/claims/{claim}/answer", body)

    def reveals(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/api/v1/issuer/reveals")["items"])

    def reveal(self, guarantee: int, openings: dict[str, Any], document: bytes) -> Any:
        body = {"openings": openings, "document": base64.b64encode(document).decode()}
        return self.request("POST", f"/api/v1/issuer/guarantees/{guarantee}/reveal", body)

    def released(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/api/v1/issuer/guarantees?state=released")["items"])


def _header(headers: dict[str, str], name: str) -> str:
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return ""


def guarantee_for(
    order: dict[str, Any],
    /,
    *,
    issuer: str,
    principal: str,
    number: str,
    verification_code: str,
    document: bytes,
    document_name: str,
    sign_key: PrivateKey,
    sign_cert: Certificate,
    amount: str | None = None,
    ends_on: dt.date | None = None,
    salts: dict[str, str] | None = None,
    **override: Any,
) -> dict[str, str]:
    """The body of a guarantee push for an order as received: the issuer signs the statement.
    For a sealed lot (``order["sealed"]``) tender, lot and beneficiary are commitments with the
    given ``salts`` and the document is held back for the reveal (``openings_for``).
    ``override`` replaces fields after they are filled in (the tests forge with it)."""
    fields: dict[str, Any] = {
        "order": order["order"],
        "number": number,
        "issuer": issuer,
        "beneficiary": order["beneficiary"]["credit_code"],
        "principal": principal,
        "tender": order["tender"],
        "lot": order["lot"],
        "amount": amount or order["amount"],
        "currency": "CNY",
        "starts_on": min(clock.local(clock.now()).date(), dt.date.fromisoformat(order["deadline_date"])).isoformat(),
        "ends_on": (ends_on or dt.date.fromisoformat(order["valid_until"]) + dt.timedelta(days=30)).isoformat(),
        "verification_code": verification_code,
        "document_name": document_name,
        "document_sm3": sm3_hex(document),
    }
    fields.update(override)
    if order.get("sealed"):
        if salts is None:
            raise ValueError("a sealed lot's guarantee needs salts for its commitments")
        for name, opening in openings_for(order, salts).items():
            fields[name] = {"sm3": guarantee_commitment(opening["value"], opening["salt"])}
    content = guarantee_statement(fields).decode()
    return {
        "content": content,
        "signature": base64.b64encode(sign_key.sign(content.encode())).decode(),
        "signer_cert": base64.b64encode(sign_cert.der).decode(),
        "document": "" if order.get("sealed") else base64.b64encode(document).decode(),
    }


def openings_for(order: dict[str, Any], salts: dict[str, str]) -> dict[str, dict[str, Any]]:
    """What a sealed guarantee's commitments hide, with their salts: revealed at the opening."""
    values = {"tender": order["tender"], "lot": order["lot"], "beneficiary": order["beneficiary"]["credit_code"]}
    return {name: {"value": v, "salt": salts[name]} for name, v in values.items()}


def flask_transport(client: Any) -> Transport:
    """The same requests through a Flask test client (the tests, and the demo's in-process actors)."""

    def send(method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        r = client.open(path, method=method, data=body or None, headers=headers)
        return r.status_code, dict(r.headers), r.get_data()

    return send
