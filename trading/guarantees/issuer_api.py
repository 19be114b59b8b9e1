"""The issuer-facing API (``/api/v1/issuer``), signed both ways (``signing/messages.py``).

An issuer's API client is its issuer-role user; ``X-GGZY-Client`` is that user's name and every
request is signed with the user's registered signing certificate (checked against the trust
store and the revocation list on every call). No bearer token, no cookie. A nonce is recorded in
its own transaction before the request is acted on, so a replay is refused even of a request that
failed. Every answer, errors included, is signed by the platform's signing key and names the
request's nonce (``in_reply_to``).

Issuers pull: orders to decide, claims to answer, guarantees released (no callback URL to keep).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from archive import clock
from signing import messages
from trading.accounts import web
from trading.accounts.models import Organisation, Role, User
from trading.accounts.permissions import Permission, requires
from trading.core.apispec import documented
from trading.core.errors import Conflict, DomainError, InvalidInput, Unauthenticated
from trading.core.services import services
from trading.guarantees import answers, issuance
from trading.guarantees import orders as order_ops
from trading.guarantees.models import ApiNonce, ClaimState, Guarantee, GuaranteeOrder, GuaranteeState, OrderState
from trading.guarantees.rules import GuaranteeRefused
from trading.guarantees.schemas import (
    AnswerIn,
    ClaimAnsweredOut,
    GuaranteeIn,
    GuaranteeOut,
    GuaranteesOut,
    IssuerClaimsOut,
    IssuerMeOut,
    IssuerOrdersOut,
    IssuerStateQuery,
    RejectedOut,
    RejectIn,
    RevealIn,
    RevealsOut,
)
from trading.pki.operations import registered_signing_cert
from trading.pki.trust import trust

issuer_api = Blueprint("issuer_api", __name__, url_prefix="/api/v1/issuer")
PLATFORM_CLIENT = "ggzy-platform"


def signed_path() -> str:
    """What the signature covers of the URL: path and query string, exactly as sent."""
    qs = request.query_string.decode()
    return request.path + (f"?{qs}" if qs else "")


def _record_nonce(signed: messages.Signed) -> None:
    """The nonce, committed before the request is acted on (the work runs in the next transaction)."""
    db = web.db()
    if db.get(ApiNonce, (signed.client, signed.nonce)) is None:
        db.add(ApiNonce(client=signed.client, nonce=signed.nonce, seen_at=clock.now()))
        try:
            web.commit()
            return
        except IntegrityError:  # the same message arriving twice at once
            db.rollback()
    raise Conflict("消息已处理过（重放）", code=messages.MessageReplayed.code)


def issuer() -> User:
    """The issuer's API client, once its request's signature, time and nonce are verified."""
    try:
        signed = messages.Signed.from_headers({h: request.headers.get(h, "") for h in messages.HEADERS})
    except messages.MessageError as exc:
        raise Unauthenticated(str(exc), code=exc.code) from None
    g.signed_request = signed
    db, now = web.db(), clock.now()
    user = db.scalar(select(User).where(User.username == signed.client))
    if user is None or not user.is_active or Role.ISSUER not in user.roles or user.organisation_id is None:
        raise Unauthenticated("未知的接口客户端", code="unknown_client")
    try:
        cert = registered_signing_cert(db, user, trust())
    except DomainError as exc:
        raise Unauthenticated(f"接口客户端证书无效：{exc.message}", code=exc.code) from None
    try:
        messages.verify(
            signed,
            cert.public_key,
            direction="request",
            method=request.method,
            path=signed_path(),
            body=request.get_data(cache=True),
            now=now,
        )
    except messages.MessageError as exc:
        raise Unauthenticated(str(exc), code=exc.code) from None
    _record_nonce(signed)
    return user


@issuer_api.after_request
def _sign_answer(resp: Response) -> Response:
    signed = g.get("signed_request")
    if signed is None:
        return resp
    keys = services(current_app).keys
    answer = messages.sign_response(
        keys.sign_key,
        PLATFORM_CLIENT,
        signed,
        request.method,
        signed_path(),
        resp.status_code,
        resp.get_data(),
        clock.now(),
    )
    resp.headers.update(answer.headers())
    return resp


def _state(enum: Any, default: Any) -> Any:
    value = request.args.get("state") or default.value
    try:
        return enum(value)
    except ValueError:
        raise InvalidInput(f"state 应为 {', '.join(e.value for e in enum)}", fields={"state": "取值"}) from None


@issuer_api.get("/me")
@requires(Permission.ISSUER_SIGNED)
@documented("出具机构：本接口客户端", ok=IssuerMeOut)
def me() -> Response:
    user = issuer()
    org = web.db().get(Organisation, user.organisation_id)
    assert org is not None
    return jsonify({"username": user.username, "credit_code": org.credit_code, "name": org.name})


@issuer_api.get("/orders")
@requires(Permission.ISSUER_SIGNED)
@documented("出具机构：保函申请（按状态）", ok=IssuerOrdersOut, query=IssuerStateQuery, errors=("invalid_input",))
def orders() -> Response:
    user = issuer()
    db = web.db()
    items = [
        order_ops.order_json(db, o, user)
        for o in order_ops.issuer_orders(db, user, _state(OrderState, OrderState.APPLIED))
    ]
    return jsonify({"items": items})


@issuer_api.post("/orders/<int:order_id>/reject")
@requires(Permission.ISSUER_SIGNED)
@documented(
    "出具机构：拒绝申请",
    body=RejectIn,
    ok=RejectedOut,
    errors=("no_such_order", "order_transition", "wrong_state"),
    example={"reason": "申请人资信不符合本机构要求"},
)
def reject(order_id: int) -> Response:
    user = issuer()
    data = web.json_body(RejectIn)
    order = order_ops.issuer_order(web.db(), user, order_id, for_update=True)
    order_ops.reject(web.db(), user, order, data.reason)
    web.commit()
    return jsonify({"order": order.id, "state": order.state.value})


def guarantee_json(db: Any, gu: Guarantee) -> dict[str, Any]:
    issuer_org = db.get(Organisation, gu.issuer_org_id)
    return {
        "id": gu.id,
        "order": gu.order_id,
        "number": gu.number,
        "issuer": issuer_org.name if issuer_org else None,
        "amount": str(gu.amount),
        "starts_on": gu.starts_on.isoformat(),
        "ends_on": gu.ends_on.isoformat(),
        "state": gu.state.value,
        "state_label": gu.state.label,
        "document_sm3": gu.document_sm3,
        "released_at": gu.released_at.isoformat() if gu.released_at else None,
        "release_reason": gu.release_reason,
    }


def _document(b64: str) -> bytes:
    try:
        return base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("document 不是有效的 base64", fields={"document": "格式错误"}) from None


@issuer_api.post("/orders/<int:order_id>/guarantee")
@requires(Permission.ISSUER_SIGNED)
@documented(
    "出具机构：提交签名的保函",
    body=GuaranteeIn,
    ok=GuaranteeOut,
    status=201,
    errors=(
        "no_such_order",
        "wrong_state",
        "guarantee_refused",
        "malformed",
        "amount_below_bond",
        "starts_after_deadline",
        "expires_too_early",
        "not_sealed",
        "signature_invalid",
        "signer_not_registered",
        "wrong_beneficiary",
        "wrong_currency",
        "wrong_issuer",
        "wrong_lot",
        "wrong_order",
        "wrong_principal",
        "bad_certificate",
        "bad_document",
        "document_before_opening",
        "document_hash_mismatch",
        "duplicate_number",
    ),
)
def push_guarantee(order_id: int) -> tuple[Response, int]:
    user = issuer()
    data = web.json_body(GuaranteeIn)
    document = _document(data.document)
    db = web.db()
    order = order_ops.issuer_order(db, user, order_id, for_update=True)
    try:
        gu = issuance.issue(
            db,
            services(current_app).store,
            trust(),
            user,
            order,
            content=data.content,
            signature=data.signature,
            signer_cert=data.signer_cert,
            document=document,
        )
    except GuaranteeRefused:
        web.commit()  # the refusal itself is kept (on the order, and in the audit trail)
        raise
    web.commit()
    return jsonify(guarantee_json(db, gu)), 201


@issuer_api.get("/reveals")
@requires(Permission.ISSUER_SIGNED)
@documented("出具机构：开标已到、待揭示的加密保函", ok=RevealsOut)
def reveals() -> Response:
    """Sealed guarantees whose opening has come, with their orders: reveal them now."""
    user = issuer()
    db = web.db()
    items = []
    for gu in issuance.issuer_reveals(db, user):
        order = db.get(GuaranteeOrder, gu.order_id)
        assert order is not None
        items.append({**guarantee_json(db, gu), "order_facts": order_ops.order_json(db, order, user)})
    return jsonify({"items": items})


@issuer_api.post("/guarantees/<int:guarantee_id>/reveal")
@requires(Permission.ISSUER_SIGNED)
@documented(
    "出具机构：揭示加密保函",
    body=RevealIn,
    ok=GuaranteeOut,
    errors=(
        "no_such_guarantee",
        "wrong_state",
        "opening_mismatch",
        "bad_document",
        "document_hash_mismatch",
        "before_opening",
    ),
)
def reveal(guarantee_id: int) -> Response:
    user = issuer()
    data = web.json_body(RevealIn)
    document = _document(data.document)
    db = web.db()
    gu = issuance.issuer_guarantee(db, user, guarantee_id)
    try:
        issuance.reveal(db, services(current_app).store, user, gu, data.openings, document)
    except GuaranteeRefused:
        web.commit()  # an invalid guarantee stays invalid, with its reason; a bad opening changed nothing
        raise
    web.commit()
    return jsonify(guarantee_json(db, gu))


@issuer_api.get("/guarantees")
@requires(Permission.ISSUER_SIGNED)
@documented("出具机构：本机构的保函（按状态）", ok=GuaranteesOut, query=IssuerStateQuery, errors=("invalid_input",))
def guarantees() -> Response:
    user = issuer()
    db = web.db()
    state = _state(GuaranteeState, GuaranteeState.VALID)
    q = select(Guarantee).where(Guarantee.issuer_org_id == user.organisation_id, Guarantee.state == state)
    return jsonify({"items": [guarantee_json(db, gu) for gu in db.scalars(q.order_by(Guarantee.id))]})


@issuer_api.get("/claims")
@requires(Permission.ISSUER_SIGNED)
@documented("出具机构：索赔（按状态）", ok=IssuerClaimsOut, query=IssuerStateQuery, errors=("invalid_input",))
def claims() -> Response:
    user = issuer()
    db = web.db()
    items = []
    for c in answers.issuer_claims(db, user, _state(ClaimState, ClaimState.FILED)):
        gu = db.get(Guarantee, c.guarantee_id)
        assert gu is not None
        items.append(
            {
                "id": c.id,
                "guarantee": guarantee_json(db, gu),
                "ground": c.ground.value,
                "ground_label": c.ground.label,
                "evidence": c.evidence,
                "statement": c.statement,
                "amount": str(c.amount),
                "state": c.state.value,
                "filed_at": c.filed_at.isoformat(),
                "answer": c.answer,
            }
        )
    return jsonify({"items": items})


@issuer_api.post("/claims/<int:claim_id>/answer")
@requires(Permission.ISSUER_SIGNED)
@documented(
    "出具机构：答复索赔",
    body=AnswerIn,
    ok=ClaimAnsweredOut,
    errors=("no_such_claim", "claim_transition", "wrong_state"),
    example={
        "pay": True,
        "answer": "经核实，同意赔付",
        "paid_amount": "200000.00",
        "payment_reference": "PAY-20270301-001",
    },
)
def answer(claim_id: int) -> Response:
    user = issuer()
    data = web.json_body(AnswerIn)
    c = answers.answer_claim(
        web.db(),
        user,
        claim_id,
        pay=data.pay,
        answer=data.answer,
        paid_amount=data.paid_amount,
        payment_reference=data.payment_reference,
    )
    web.commit()
    return jsonify({"id": c.id, "state": c.state.value})
