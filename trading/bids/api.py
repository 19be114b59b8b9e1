"""The bid API: staged uploads, completion with a signed receipt, status, withdrawal."""

from __future__ import annotations

import base64
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from signing.digest import sm3_hex
from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.bids import acceptance, receipts, uploads
from trading.bids.models import Bid, BidUpload
from trading.bids.schemas import (
    BidOut,
    InitIn,
    MyBidsOut,
    MyBidsQuery,
    PlatformCertificatesOut,
    UploadOut,
    UploadsOut,
    WithdrawIn,
    WithdrawnOut,
)
from trading.bids.staging import Staging, StagingLost, discard, staging_for
from trading.bids.withdrawal import withdraw_bid
from trading.core.apispec import documented
from trading.core.errors import InvalidInput
from trading.core.platform_keys import PlatformKeys, load_platform_keys
from trading.core.services import object_store
from trading.pki.trust import trust
from trading.tenders.loading import load
from trading.tenders.models import Lot, Tender
from trading.tenders.operations import get_tender
from trading.tenders.shapes import iso

api = Blueprint("bids_api", __name__, url_prefix="/api/v1")


def staging() -> Staging:
    return staging_for(current_app.extensions["ggzy.settings"], object_store(current_app))


def limits() -> uploads.UploadLimits:
    s = current_app.extensions["ggzy.settings"]
    return uploads.UploadLimits(
        s.uploads_open_per_lot,
        s.uploads_open_per_bidder,
        s.staging_max_bytes,
        s.staging_max_bytes_per_bidder,
        s.upload_idle_seconds,
    )


def platform_keys() -> PlatformKeys:
    return load_platform_keys(current_app.extensions["ggzy.settings"])


def upload_json(u: BidUpload) -> dict[str, Any]:
    """``head_sm3`` lets ``ggzy-bid`` find its own unfinished upload of a sealed file when the side
    file that remembered it is gone; ``last_part_at`` is when a part last arrived (or it began)."""
    tender, lot = web.db().get(Tender, u.tender_id), web.db().get(Lot, u.lot_id)
    return {
        "upload_id": u.id,
        "tender": tender.code if tender else None,
        "lot": lot.number if lot else None,
        "head_sm3": sm3_hex(u.head),
        "created_at": iso(u.created_at),
        "last_part_at": iso(u.updated_at),
        "state": u.state.value,
        "state_label": u.state.label,
        "declared_size": u.declared_size,
        "part_size": u.part_size,
        "received": u.received,
        "parts": u.parts,
        "next_part": u.parts + 1,
        "prefix_sm3": u.prefix_sm3,
        "expires_at": iso(u.expires_at),
    }


def bid_json(b: Bid) -> dict[str, Any]:
    lot = web.db().get(Lot, b.lot_id)
    return {
        "ciphertext_sm3": b.ciphertext_sm3,
        "lot": lot.number if lot else None,
        "status": b.status.value,
        "status_label": b.status.label,
        "size": b.size,
        "received_at": iso(b.received_at),
        "receipt": b.receipt,
        "withdrawn_at": iso(b.withdrawn_at),
    }


@api.post("/bids/uploads")
@requires(Permission.TENDER_PARTICIPATE)
@documented(
    "开始上传加密投标文件（提交文件头）",
    body=InitIn,
    ok=UploadOut,
    status=201,
    errors=(
        "not_found",
        "not_registered",
        "deadline_passed",
        "not_an_envelope",
        "certificate_not_registered",
        "tender_mismatch",
        "recipient_mismatch",
        "header_signature_invalid",
        "too_many_open_uploads",
        "too_many_upload_bytes",
        "staging_full",
    ),
    example={"tender": "GGZY-2026-000001", "lot": 1, "size": 1048576, "head": "<数字信封的前缀与文件头，base64>"},
)
def init_upload() -> tuple[Response, int]:
    data = web.json_body(InitIn)
    try:
        head = base64.b64decode(data.head, validate=True)
    except ValueError:
        raise InvalidInput("head 不是有效的 base64", fields={"head": "格式错误"}) from None
    tender = load(data.tender, for_update=False)
    user, started_from = web.require_user(), web.client_address()
    upload = uploads.init_upload(web.db(), user, tender, data.lot, data.size, head, trust(), limits(), started_from)
    web.commit()
    return jsonify(upload_json(upload)), 201


@api.get("/bids/uploads")
@requires(Permission.TENDER_PARTICIPATE)
@documented("本单位进行中的上传", ok=UploadsOut)
def open_uploads() -> Response:
    """The caller's organisation's open uploads: to resume one, or give it up."""
    return jsonify({"items": [upload_json(u) for u in uploads.open_uploads(web.db(), web.require_user())]})


@api.delete("/bids/uploads/<upload_id>")
@requires(Permission.TENDER_PARTICIPATE)
@documented(
    "放弃上传", ok=None, status=204, errors=("not_found", "upload_closed", "upload_expired", "upload_transition")
)
def abandon_upload(upload_id: str) -> tuple[str, int]:
    upload = uploads.get_upload(web.db(), web.require_user(), upload_id, for_update=True)
    uploads.abandon_upload(web.db(), staging(), upload)
    web.commit()
    return "", 204


@api.get("/bids/uploads/<upload_id>")
@requires(Permission.TENDER_PARTICIPATE)
@documented("上传进度", ok=UploadOut)
def upload_status(upload_id: str) -> Response:
    return jsonify(upload_json(uploads.get_upload(web.db(), web.require_user(), upload_id)))


@api.put("/bids/uploads/<upload_id>/parts/<int:number>")
@requires(Permission.TENDER_PARTICIPATE)
@documented(
    "上传一片（原始字节流，头 X-Prefix-SM3）",
    raw="application/octet-stream",
    ok=UploadOut,
    errors=(
        "part_digest_missing",
        "part_digest_mismatch",
        "part_out_of_order",
        "part_size",
        "size_mismatch",
        "header_mismatch",
        "upload_closed",
        "upload_expired",
        "staging_lost",
        "staging_full",
        "deadline_passed",
        "http_413",
    ),
)
def put_part(upload_id: str, number: int) -> Response:
    # +1: under a server that terminates input, Werkzeug refuses a read *at* the limit; put_part
    # itself enforces the exact part length.
    request.max_content_length = uploads.PART_SIZE + 1
    upload = uploads.get_upload(web.db(), web.require_user(), upload_id, for_update=True)
    prefix = request.headers.get("X-Prefix-SM3", "")
    if len(prefix) != 64:
        raise InvalidInput("缺少 X-Prefix-SM3（到本片末尾为止的整个文件的 SM3）", code="part_digest_missing")
    try:
        uploads.put_part(web.db(), staging(), upload, number, request.stream, prefix, limits())
    except StagingLost:
        web.commit()  # keep the reset: the client starts again from part 1
        raise
    web.commit()
    return jsonify(upload_json(upload))


@api.post("/bids/uploads/<upload_id>/complete")
@requires(Permission.TENDER_PARTICIPATE)
@documented(
    "完成上传：校验并递交投标，返回平台签名的回执",
    ok=BidOut,
    status=201,
    errors=(
        "upload_incomplete",
        "upload_closed",
        "deadline_passed",
        "staging_lost",
        "not_an_envelope",
        "bid_transition",
    ),
)
def complete(upload_id: str) -> tuple[Response, int]:
    user = web.require_user()
    upload = uploads.get_upload(web.db(), user, upload_id, for_update=True)
    try:
        bid = acceptance.complete_upload(web.db(), object_store(current_app), platform_keys(), staging(), user, upload)
    except (acceptance.DeadlinePassed, StagingLost) as exc:
        web.commit()  # keep the upload marked abandoned, or reset to part 1
        if isinstance(exc, acceptance.DeadlinePassed):
            discard(staging(), upload_id)
        raise
    install = request.headers.get("X-GGZY-Install")
    uploads.record_origin(web.db(), upload, bid, web.client_address(), install, request.user_agent.string)
    web.commit()
    discard(staging(), upload_id)  # only now: a completion that failed before its commit can be retried
    return jsonify(bid_json(bid)), 201


@api.get("/bids")
@requires(Permission.TENDER_PARTICIPATE)
@documented("本单位的投标", ok=MyBidsOut, query=MyBidsQuery, errors=("not_found",))
def my_bids() -> Response:
    """Only ever the caller's own bids."""
    code = request.args.get("tender")
    tender = get_tender(web.db(), code) if code else None
    return jsonify(
        {"items": [bid_json(b) | {"tender": code} for b in receipts.my_bids(web.db(), web.require_user(), tender)]}
    )


@api.post("/bids/<ciphertext_sm3>/withdraw")
@requires(Permission.TENDER_PARTICIPATE)
@documented(
    "撤回投标（投标人签名）",
    body=WithdrawIn,
    ok=WithdrawnOut,
    errors=("deadline_passed", "invalid_signature", "bid_transition", "wrong_state"),
    example={"signature": "<投标人对撤回声明的 SM2 签名，base64>"},
)
def withdraw(ciphertext_sm3: str) -> Response:
    data = web.json_body(WithdrawIn)
    user = web.require_user()
    bid = receipts.get_my_bid(web.db(), user, ciphertext_sm3)  # withdraw_bid locks it, after the tender
    confirmation = withdraw_bid(web.db(), platform_keys(), user, bid, data.signature)
    web.commit()
    return jsonify({"confirmation": confirmation} | bid_json(bid))


@api.get("/platform/certificates")
@requires(Permission.PUBLIC)
@documented("平台签名证书和根证书（离线验证回执用）", ok=PlatformCertificatesOut)
def platform_certificates() -> Response:
    """The platform's signing certificate and root: all that is needed to check receipts offline."""
    keys = platform_keys()
    return jsonify({"signing_certificate": keys.sign_cert.to_pem().decode(), "root": keys.ca.cert.to_pem().decode()})
