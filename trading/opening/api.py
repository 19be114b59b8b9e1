"""The ceremony's JSON API and its live event stream (Server-Sent Events); the joint opening's
routes (``/tenders/<code>/opening…``) are in ``joint_api``."""

from __future__ import annotations

import base64
import json

from flask import Blueprint, Response, current_app, jsonify, request

from archive import clock
from signing.statements import ceremony_key_statement, sign_statement
from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.core.apispec import documented
from trading.core.errors import InvalidInput, NotFound
from trading.core.services import services
from trading.opening import bidders, ceremonies, controls, failures, stages
from trading.opening import display as ops
from trading.opening.event_responses import events_response
from trading.opening.lifecycle import next_stages
from trading.opening.models import Ceremony
from trading.opening.record import record_files
from trading.opening.room_state import ceremony_json
from trading.opening.schemas import (
    AnswerIn,
    CeremoniesOut,
    CeremonyKeyOut,
    CeremonyOut,
    CreatedOut,
    DeadlineCommitmentOut,
    DecryptIn,
    DecryptionQueuedOut,
    ExtendIn,
    ReasonIn,
    ServerTimeOut,
    SignatureIn,
    TextIn,
)
from trading.opening.stage_routes import deprecated, refuse_unless_next, stage_named
from trading.pki.trust import trust
from trading.tenders.loading import load
from trading.tenders.shapes import iso

api = Blueprint("opening_api", __name__, url_prefix="/api/v1")


def current(ceremony_id: int, *, for_update: bool = False) -> Ceremony:
    """The ceremony, brought up to now (the deadline and windows are enforced on every request).

    The catch-up is committed on its own, so a refused action does not undo a window that has
    closed. That commit ends the transaction: what the caller reads next must come from the
    database again (the session does not expire on commit), and a writer must take the
    ceremony's lock again, or a window could close between its check and its commit (a key
    released after the price reading, say)."""
    db = web.db()
    c = ceremonies.get_ceremony(db, ceremony_id, for_update=for_update)
    tender = ceremonies.tender_of(db, c)
    load(tender.code)  # the same visibility rule as the tender
    stages.ensure_current(db, c, services(current_app))
    web.commit_and_reread()
    if for_update:
        c = ceremonies.get_ceremony(db, ceremony_id, for_update=True)
        stages.ensure_current(db, c, services(current_app))
    return c


@api.get("/time")
@requires(Permission.PUBLIC)
@documented("服务器时间", ok=ServerTimeOut)
def server_time() -> Response:
    return jsonify({"server_time": iso(clock.now())})


@api.get("/tenders/<code>/ceremonies")
@requires(Permission.PUBLIC)
@documented("项目各标段的开标室", ok=CeremoniesOut)
def list_for_tender(code: str) -> Response:
    tender = load(code)
    db = web.db()
    items = []
    for c in ceremonies.ceremonies_of(db, tender):
        stages.ensure_current(db, c, services(current_app))
        items.append(ceremony_json(c, web.current_user()))
    web.commit()
    return jsonify({"items": items})


@api.get("/tenders/<code>/deadline-commitment")
@requires(Permission.PUBLIC)
@documented("投标截止时的检查点与各投标的承诺", ok=DeadlineCommitmentOut)
def deadline_commitment(code: str) -> Response:
    """The checkpoint signed at the bid deadline over every accepted bid's commitment."""
    tender = load(code)
    web.commit()
    found = ops.deadline_commitment(web.db(), tender)
    if found is None:
        raise NotFound("投标截止时的检查点尚未生成")
    return jsonify(found)


@api.get("/ceremonies/<int:ceremony_id>")
@requires(Permission.PUBLIC)
@documented("开标室（当前阶段、可以进入的下一阶段等）", ok=CeremonyOut)
def show(ceremony_id: int) -> Response:
    return jsonify(ceremony_json(current(ceremony_id), web.current_user()))


@api.get("/ceremonies/<int:ceremony_id>/key")
@requires(Permission.PUBLIC)
@documented("开标室的公钥（平台签名）", ok=CeremonyKeyOut)
def ceremony_key(ceremony_id: int) -> Response:
    """The ceremony's public key, signed by the platform: bidders re-wrap their keys only to it."""
    c = current(ceremony_id)
    db = web.db()
    if c.key_statement is None:  # signed once, so that every bidder sees the same statement
        tender, lot = ceremonies.tender_of(db, c), ceremonies.lot_of(db, c)
        body = json.loads(ceremony_key_statement(c.id, tender.code, lot.number, c.public_key.hex()))
        keys = services(current_app).keys
        st = sign_statement("ceremony_key", body, key=keys.sign_key, cert=keys.sign_cert, now=clock.now())
        c.key_statement = st.to_json().decode()
        web.commit()
    return jsonify({"public_key": c.public_key.hex(), "statement": c.key_statement})


def _done(c: Ceremony) -> Response:
    web.commit()
    return jsonify(ceremony_json(c, web.current_user()))


@api.post("/ceremonies/<int:ceremony_id>/sign-in")
@requires(Permission.TENDER_PARTICIPATE)
@documented(
    "开标签到（SM2 签名）",
    body=SignatureIn,
    ok=CeremonyOut,
    errors=("signed_in", "wrong_stage", "not_a_bidder", "certificate_missing", "invalid_signature"),
)
def sign_in(ceremony_id: int) -> Response:
    """签到: the bidder signs the sign-in statement with its signing key (the stage ``sign_in``)."""
    data = web.json_body(SignatureIn)
    c = current(ceremony_id, for_update=True)
    bidders.sign_in(web.db(), web.require_user(), c, data.signature, trust())
    return _done(c)


@api.post("/ceremonies/<int:ceremony_id>/signin")
@requires(Permission.TENDER_PARTICIPATE)
@documented(
    "开标签到（旧路径，请改用 sign-in）",
    body=SignatureIn,
    ok=CeremonyOut,
    deprecated=True,
    errors=("signed_in", "wrong_stage", "not_a_bidder", "certificate_missing", "invalid_signature"),
)
def signin(ceremony_id: int) -> Response:
    """Deprecated alias of ``POST /ceremonies/{id}/sign-in`` (removed in the next version)."""
    deprecated(f"/api/v1/ceremonies/{ceremony_id}/sign-in")
    return sign_in(ceremony_id)


@api.post("/ceremonies/<int:ceremony_id>/decrypt")
@requires(Permission.TENDER_PARTICIPATE)
@documented(
    "提交解密密钥（开标室公钥加密，SM2 签名）",
    body=DecryptIn,
    ok=DecryptionQueuedOut,
    status=202,
    errors=(
        "wrong_stage",
        "not_a_bidder",
        "not_signed_in",
        "already_decrypted",
        "decryption_running",
        "decryption_set_aside",
        "bad_wrapped_key",
        "certificate_missing",
        "invalid_signature",
    ),
)
def decrypt(ceremony_id: int) -> tuple[Response, int]:
    data = web.json_body(DecryptIn)
    try:
        wrapped = base64.b64decode(data.wrapped_key, validate=True)
    except ValueError:
        raise InvalidInput("wrapped_key 不是有效的 base64", fields={"wrapped_key": "格式错误"}) from None
    c = current(ceremony_id, for_update=True)
    job = bidders.submit_decryption(web.db(), web.require_user(), c, wrapped, data.signature, trust())
    web.commit()
    return jsonify({"job": job.id, "state": job.state.value}), 202


@api.post("/ceremonies/<int:ceremony_id>/confirm")
@requires(Permission.TENDER_PARTICIPATE)
@documented(
    "确认开标记录（SM2 签名）",
    body=SignatureIn,
    ok=CeremonyOut,
    errors=(
        "wrong_stage",
        "not_a_bidder",
        "not_opened",
        "already_confirmed",
        "certificate_missing",
        "invalid_signature",
    ),
)
def confirm(ceremony_id: int) -> Response:
    data = web.json_body(SignatureIn)
    c = current(ceremony_id, for_update=True)
    bidders.confirm_record(web.db(), web.require_user(), c, data.signature, trust())
    return _done(c)


@api.post("/ceremonies/<int:ceremony_id>/objections")
@requires(Permission.TENDER_PARTICIPATE)
@documented("对开标提出异议", body=TextIn, ok=CreatedOut, status=201, errors=("wrong_stage", "not_a_bidder"))
def object_(ceremony_id: int) -> tuple[Response, int]:
    data = web.json_body(TextIn)
    c = current(ceremony_id, for_update=True)
    o = bidders.raise_objection(web.db(), web.require_user(), c, data.text)
    web.commit()
    return jsonify({"id": o.id}), 201


@api.post("/ceremonies/<int:ceremony_id>/objections/<int:objection_id>/answer")
@requires(Permission.CEREMONY_HOST)
@documented("主持人答复异议", body=AnswerIn, ok=CeremonyOut, errors=("already_answered", "wrong_stage"))
def answer(ceremony_id: int, objection_id: int) -> Response:
    data = web.json_body(AnswerIn)
    c = current(ceremony_id, for_update=True)
    bidders.answer_objection(web.db(), web.require_user(), c, objection_id, data.answer)
    return _done(c)


@api.post("/ceremonies/<int:ceremony_id>/messages")
@requires(Permission.AUTHENTICATED)
@documented("给主持人发消息", body=TextIn, ok=CreatedOut, status=201, errors=("wrong_stage", "not_a_bidder"))
def message(ceremony_id: int) -> tuple[Response, int]:
    data = web.json_body(TextIn)
    c = current(ceremony_id, for_update=True)
    ev = bidders.post_message(web.db(), web.require_user(), c, data.text)
    web.commit()
    return jsonify({"id": ev.id}), 201


def _end_window(c: Ceremony) -> Response:
    try:
        controls.advance(web.db(), web.require_user(), c, services(current_app))
    except failures.AdvanceFailed:
        web.commit()  # the step itself was undone; its failure's audit event stays
        raise
    return _done(c)


@api.post("/ceremonies/<int:ceremony_id>/stages/<stage>")
@requires(Permission.CEREMONY_HOST)
@documented(
    "进入指定的下一阶段（结束当前阶段）",
    ok=CeremonyOut,
    errors=(
        "stage_not_next",
        "unknown_stage",
        "wrong_stage",
        "stage_not_done",
        "paused",
        "joint_opening",
        "advance_failed",
        "ceremony_transition",
    ),
)
def enter_stage(ceremony_id: int, stage: str) -> Response:
    """Staff end the current window early and enter ``stage``, which must be the next one
    (409 ``stage_not_next`` names the current stage and the allowed next ones; a request repeated
    after it succeeded is refused the same way, never a second move). The response is the room,
    with the stage reached and ``next_stages``."""
    wanted = stage_named(stage)
    c = current(ceremony_id, for_update=True)
    refuse_unless_next("开标室", c.stage.value, c.stage.label, wanted.value, next_stages(c.stage))
    return _end_window(c)


@api.post("/ceremonies/<int:ceremony_id>/advance")
@requires(Permission.CEREMONY_HOST)
@documented(
    "进入下一阶段（旧路径，请改用 stages/{stage}）",
    ok=CeremonyOut,
    deprecated=True,
    errors=("wrong_stage", "stage_not_done", "paused", "joint_opening", "advance_failed", "ceremony_transition"),
)
def advance(ceremony_id: int) -> Response:
    """Deprecated alias: enter whatever stage comes next (``POST /ceremonies/{id}/stages/{stage}``)."""
    c = current(ceremony_id, for_update=True)
    after = next_stages(c.stage)
    deprecated(f"/api/v1/ceremonies/{ceremony_id}/stages/{after[0] if after else '{stage}'}")
    return _end_window(c)


@api.post("/ceremonies/<int:ceremony_id>/pause")
@requires(Permission.CEREMONY_HOST)
@documented("暂停开标", body=ReasonIn, ok=CeremonyOut, errors=("wrong_stage", "paused", "joint_opening"))
def pause(ceremony_id: int) -> Response:
    data = web.json_body(ReasonIn)
    c = current(ceremony_id, for_update=True)
    controls.pause(web.db(), web.require_user(), c, data.reason)
    return _done(c)


@api.post("/ceremonies/<int:ceremony_id>/resume")
@requires(Permission.CEREMONY_HOST)
@documented("继续开标", ok=CeremonyOut, errors=("wrong_stage", "not_paused", "joint_opening"))
def resume(ceremony_id: int) -> Response:
    c = current(ceremony_id, for_update=True)
    controls.resume(web.db(), web.require_user(), c)
    return _done(c)


@api.post("/ceremonies/<int:ceremony_id>/extend")
@requires(Permission.CEREMONY_HOST)
@documented("延长当前阶段", body=ExtendIn, ok=CeremonyOut, errors=("wrong_stage", "joint_opening"))
def extend(ceremony_id: int) -> Response:
    data = web.json_body(ExtendIn)
    c = current(ceremony_id, for_update=True)
    controls.extend(web.db(), web.require_user(), c, data.minutes, data.reason)
    return _done(c)


@api.post("/ceremonies/<int:ceremony_id>/set-aside/<credit_code>/lift")
@requires(Permission.CEREMONY_HOST)
@documented(
    "准许被搁置的投标人再次提交密钥",
    body=ReasonIn,
    ok=CeremonyOut,
    errors=("wrong_stage", "not_set_aside", "no_such_seat"),
)
def lift_set_aside(ceremony_id: int, credit_code: str) -> Response:
    """After two releases of one bidder's key were set aside (``decryption_set_aside``), staff who
    have found the cause let it release once more in the window that is left, with a reason."""
    data = web.json_body(ReasonIn)
    c = current(ceremony_id, for_update=True)
    bidders.lift_set_aside(web.db(), web.require_user(), c, credit_code, data.reason)
    return _done(c)


def record_file(ceremony_id: int, fmt: str) -> Response:
    """The opening record (published on the platform, EB) as ``fmt``: json, pdf, or sig, the
    platform's signed statement naming both files' SM3. ``?final=1``: the final record."""
    c = current(ceremony_id)
    final = request.args.get("final") == "1"
    files = record_files(c, final=final)
    if files is None:
        raise NotFound("开标记录尚未生成")
    name = f"opening-record-{c.id}{'-final' if final else ''}.{fmt}"
    if fmt == "sig":
        # a detached signature is verified byte for byte: served as the bytes signed, never re-encoded
        statement = c.final_record_statement if final else c.record_statement
        assert statement is not None  # record_files found it
        data, mimetype = statement.encode(), "application/octet-stream"
    else:
        data = services(current_app).store.read_bytes(files[0] if fmt == "json" else files[1])
        mimetype = "application/json" if fmt == "json" else "application/pdf"
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@api.get("/ceremonies/<int:ceremony_id>/record.json")
@requires(Permission.PUBLIC)
@documented("开标记录（JSON；?final=1 为最终开标记录）", ok="application/json")
def record_json(ceremony_id: int) -> Response:
    """The record's JSON file, byte for byte as signed (its SM3 is ``record_sm3``)."""
    return record_file(ceremony_id, "json")


@api.get("/ceremonies/<int:ceremony_id>/record.pdf")
@requires(Permission.PUBLIC)
@documented("开标记录（PDF；?final=1 为最终开标记录）", ok="application/pdf")
def record_pdf(ceremony_id: int) -> Response:
    return record_file(ceremony_id, "pdf")


@api.get("/ceremonies/<int:ceremony_id>/record.sig")
@requires(Permission.PUBLIC)
@documented("开标记录的平台签名文件（按字节原样核验；?final=1 为最终开标记录的）", ok="application/octet-stream")
def record_sig(ceremony_id: int) -> Response:
    """Canonical JSON: ``statement`` (the signed bytes, base64: type opening_record, signed_at, body
    with record_sm3 and pdf_sm3), ``signature`` (SM2 over SM3, DER, base64), ``signer_cert`` (DER,
    base64). docs/api.md verifies it with openssl."""
    return record_file(ceremony_id, "sig")


@api.get("/ceremonies/<int:ceremony_id>/events")
@requires(Permission.PUBLIC)
@documented("开标室的事件流（SSE；?once=1 返回 JSON）", ok="text/event-stream")
def events(ceremony_id: int) -> Response:
    """Server-Sent Events; ``Last-Event-ID`` (or ``?after=``) resumes. ``?once=1`` answers JSON."""
    c = current(ceremony_id)
    return events_response({c.id: ceremonies.viewer_scope(web.db(), c, web.current_user())}, cursor=False)
