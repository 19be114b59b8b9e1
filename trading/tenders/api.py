"""The tender JSON API: /api/v1/tenders, /api/v1/announcements/<id>, /api/v1/review, /api/v1/me/…"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from flask import Blueprint, Response, current_app, jsonify, request

from archive import clock
from signing.certs import Usage
from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.core.apispec import documented
from trading.core.errors import NotFound
from trading.core.services import object_store, services
from trading.pki.operations import current_certificate
from trading.pki.trust import trust
from trading.tenders import amendments, drafting, notifications, publication, termination
from trading.tenders import documents as docs
from trading.tenders.downloads import stream_document
from trading.tenders.loading import kek, load
from trading.tenders.models import Announcement
from trading.tenders.schemas import (
    AmendmentIn,
    AnnouncementOut,
    AnswerIn,
    InterestIn,
    MyCertificatesOut,
    MyTendersOut,
    NotificationsOut,
    NotificationsQuery,
    QuestionAnsweredOut,
    QuestionAskedOut,
    QuestionIn,
    QuestionsOut,
    ReasonIn,
    RegisteredOut,
    ResumeIn,
    ReviewQueueOut,
    TenderIn,
    TenderOut,
    UploadedDocumentOut,
)
from trading.tenders.shapes import announcement_json, iso, tender_json

api = Blueprint("tenders_api", __name__, url_prefix="/api/v1")


def _ok(body: dict[str, Any] | None = None, status: int = 200) -> tuple[Response, int]:
    web.commit()
    return jsonify(body or {"ok": True}), status


def _announcement(ann_id: int) -> Announcement:
    ann = web.db().get(Announcement, ann_id)
    if ann is None:
        raise NotFound("公告不存在")
    return ann


# ---------------------------------------------------------------- public
@api.get("/announcements/<int:ann_id>")
@requires(Permission.PUBLIC)
@documented("查看公告", ok=AnnouncementOut)
def get_announcement(ann_id: int) -> Response:
    ann = _announcement(ann_id)
    load(ann.tender.code)  # visibility of the tender
    if ann not in ann.tender.announcements or (
        ann.published_at is None
        and not web.has_permission("tender:tender:read")
        and not ann.tender.can_manage(web.current_user())
    ):
        raise NotFound("公告不存在")
    return jsonify(announcement_json(ann))


@api.get("/tenders/<code>")
@requires(Permission.PUBLIC)
@documented("查看招标项目（标段、公告、招标文件）", ok=TenderOut)
def get_tender(code: str) -> Response:
    tender = load(code)
    web.commit()  # the deadline check may have closed bidding
    return jsonify(tender_json(tender))


# ---------------------------------------------------------------- tenderee / agency
@api.get("/my/tenders")
@requires(Permission.TENDER_MANAGE)
@documented("我管理的招标项目", ok=MyTendersOut)
def my_tenders() -> Response:
    rows = drafting.managed_tenders(web.db(), web.require_user())
    return jsonify(
        {
            "items": [
                {"code": t.code, "title": t.title, "status": t.status.value, "bid_deadline": iso(t.bid_deadline)}
                for t in rows
            ]
        }
    )


@api.post("/tenders")
@requires(Permission.TENDER_MANAGE)
@documented(
    "创建招标项目（草稿）",
    body=TenderIn,
    ok=TenderOut,
    status=201,
    errors=("forbidden", "bad_deadline"),
    example={
        "title": "福州市滨海新城道路改造工程施工招标",
        "category": "construction",
        "procedure_code": "construction_open",
        "region": "350100",
        "bid_deadline": "2027-01-20T09:30:00+08:00",
        "announcement_body": "本招标项目已由福州市发展和改革委员会批准建设，现对该项目的施工进行公开招标。",
        "lots": [
            {
                "name": "一标段：土建施工",
                "estimated_price": "10000000.00",
                "bond_amount": "200000.00",
                "evaluation_method": "comprehensive",
                "criteria": {
                    "compliance": ["营业执照", "施工资质"],
                    "factors": [{"name": "施工组织设计", "weight": 50}, {"name": "项目管理机构", "weight": 10}],
                    "price": {"formula": "benchmark", "weight": 40},
                },
                "committee_size": 5,
                "specialties": [{"code": "A01", "count": 4}],
                "price_fields": [{"name": "duration_days", "label": "工期（日历天）", "kind": "integer"}],
            }
        ],
    },
)
def create_tender() -> tuple[Response, int]:
    tender = drafting.create_tender(web.db(), web.require_user(), web.json_body(TenderIn))
    return _ok(tender_json(tender), 201)


@api.put("/tenders/<code>")
@requires(Permission.TENDER_MANAGE)
@documented("修改招标项目草稿", body=TenderIn, ok=TenderOut, errors=("forbidden", "wrong_state", "bad_deadline"))
def update_tender(code: str) -> tuple[Response, int]:
    data = web.json_body(TenderIn)
    tender = drafting.update_tender(web.db(), web.require_user(), load(code, for_update=True), data)
    return _ok(tender_json(tender))


@api.post("/tenders/<code>/submit")
@requires(Permission.TENDER_MANAGE)
@documented("提交审核", errors=("forbidden", "wrong_state", "documents_missing", "tender_transition"))
def submit_tender(code: str) -> tuple[Response, int]:
    publication.submit_tender(web.db(), web.require_user(), load(code, for_update=True))
    return _ok()


@api.post("/tenders/<code>/documents")
@requires(Permission.TENDER_MANAGE)
@documented(
    "上传招标文件（原始字节流）",
    raw="application/octet-stream",
    ok=UploadedDocumentOut,
    status=201,
    errors=("forbidden", "wrong_state", "invalid_input", "invalid_signature", "bad_file_name", "http_413"),
)
def upload_document(code: str) -> tuple[Response, int]:
    """Raw body upload (streamed): headers X-Document-Name (URL-encoded) and X-Signature (base64)."""
    request.max_content_length = docs.MAX_DOCUMENT_BYTES + 1  # the store enforces the exact limit
    tender = load(code, for_update=True)
    name = unquote(request.headers.get("X-Document-Name", ""))
    amendment = None
    if request.args.get("announcement_id"):
        amendment = _announcement(web.query_int("announcement_id"))
    doc = docs.upload_document(
        web.db(),
        object_store(current_app),
        trust(),
        web.require_user(),
        tender,
        name,
        request.stream,
        request.headers.get("X-Signature", ""),
        amendment,
    )
    return _ok({"id": doc.id, "name": doc.name, "sm3": doc.sm3, "size": doc.size}, 201)


@api.post("/tenders/<code>/amendments")
@requires(Permission.TENDER_MANAGE)
@documented(
    "起草变更/澄清公告",
    body=AmendmentIn,
    ok=AnnouncementOut,
    status=201,
    errors=("forbidden", "wrong_state", "bad_deadline", "amendment_too_late"),
    example={
        "title": "关于一标段工期要求的澄清",
        "body": "一标段工期由 365 日历天调整为 300 日历天。",
        "affects_bids": True,
        "new_deadline": "2027-02-10T09:30:00+08:00",
    },
)
def draft_amendment(code: str) -> tuple[Response, int]:
    data = web.json_body(AmendmentIn)
    ann = amendments.draft_amendment(web.db(), web.require_user(), load(code, for_update=True), data)
    return _ok(announcement_json(ann), 201)


@api.post("/tenders/<code>/questions/<int:question_id>/answer")
@requires(Permission.TENDER_MANAGE)
@documented(
    "答复澄清问题",
    body=AnswerIn,
    ok=QuestionAnsweredOut,
    errors=("forbidden", "already_answered", "conflict"),
    example={"answer": "工期不可调整，以招标文件为准。"},
)
def answer_question(code: str, question_id: int) -> tuple[Response, int]:
    data = web.json_body(AnswerIn)
    q = docs.answer_question(web.db(), web.require_user(), load(code), question_id, data.answer)
    return _ok({"id": q.id, "answered_at": iso(q.answered_at)})


@api.post("/tenders/<code>/terminate")
@requires(Permission.AUTHENTICATED)
@documented(
    "终止招标",
    body=ReasonIn,
    errors=("forbidden", "wrong_state", "tender_transition"),
    example={"reason": "项目资金未落实，终止招标"},
)
def terminate(code: str) -> tuple[Response, int]:
    """Tenderee, agency or staff; the operation checks which."""
    data = web.json_body(ReasonIn)
    termination.terminate_tender(web.db(), web.require_user(), load(code, for_update=True), data.reason)
    return _ok()


# ---------------------------------------------------------------- staff review
@api.get("/review")
@requires(Permission.TENDER_REVIEW)
@documented("待审核的项目、公告和未答复的问题", ok=ReviewQueueOut)
def review_queue() -> Response:
    db = web.db()
    tenders, anns = publication.review_queue(db)
    questions = docs.unanswered(db)
    return jsonify(
        {
            "tenders": [{"code": t.code, "title": t.title, "submitted": iso(t.updated_at)} for t in tenders],
            "announcements": [announcement_json(a) | {"tender": a.tender.code} for a in anns],
            "unanswered_questions": [
                {"tender": q.tender_id, "id": q.id, "text": q.text, "asked_at": iso(q.asked_at)} for q in questions
            ],
        }
    )


@api.post("/tenders/<code>/publish")
@requires(Permission.TENDER_REVIEW)
@documented("审核通过并发布招标项目", errors=("wrong_state", "tender_transition", "bad_deadline"))
def publish_tender(code: str) -> tuple[Response, int]:
    publication.publish_tender(
        web.db(), web.require_user(), load(code, for_update=True), services(current_app).settings
    )
    return _ok()


@api.post("/tenders/<code>/return")
@requires(Permission.TENDER_REVIEW)
@documented(
    "退回招标项目",
    body=ReasonIn,
    errors=("wrong_state", "tender_transition"),
    example={"reason": "招标公告缺少资格要求，请补充后重新提交"},
)
def return_tender(code: str) -> tuple[Response, int]:
    data = web.json_body(ReasonIn)
    publication.return_tender(web.db(), web.require_user(), load(code, for_update=True), data.reason)
    return _ok()


@api.post("/tenders/<code>/suspend")
@requires(Permission.TENDER_REVIEW)
@documented(
    "暂停招标",
    body=ReasonIn,
    errors=("wrong_state", "tender_transition"),
    example={"reason": "收到投诉，暂停招标以便核查"},
)
def suspend(code: str) -> tuple[Response, int]:
    data = web.json_body(ReasonIn)
    termination.suspend_tender(web.db(), web.require_user(), load(code, for_update=True), data.reason)
    return _ok()


@api.post("/tenders/<code>/resume")
@requires(Permission.TENDER_REVIEW)
@documented(
    "恢复招标并定新的投标截止时间",
    body=ResumeIn,
    errors=("wrong_state", "tender_transition", "bad_deadline"),
    example={"new_deadline": "2027-02-20T09:30:00+08:00"},
)
def resume(code: str) -> tuple[Response, int]:
    data = web.json_body(ResumeIn)  # an instant with its zone, in UTC (schemas.instant)
    termination.resume_tender(web.db(), web.require_user(), load(code, for_update=True), data.new_deadline)
    return _ok()


@api.post("/announcements/<int:ann_id>/publish")
@requires(Permission.TENDER_REVIEW)
@documented("审核通过并发布变更公告", ok=AnnouncementOut, errors=("wrong_state",))
def publish_announcement(ann_id: int) -> tuple[Response, int]:
    ann = _announcement(ann_id)
    load(ann.tender.code, for_update=True)
    amendments.publish_announcement(web.db(), web.require_user(), ann)
    return _ok(announcement_json(ann))


@api.post("/announcements/<int:ann_id>/return")
@requires(Permission.TENDER_REVIEW)
@documented("退回变更公告", body=ReasonIn, errors=("wrong_state",), example={"reason": "变更内容与招标文件不一致"})
def return_announcement(ann_id: int) -> tuple[Response, int]:
    data = web.json_body(ReasonIn)
    amendments.return_announcement(web.db(), web.require_user(), _announcement(ann_id), data.reason)
    return _ok()


# ---------------------------------------------------------------- bidders
@api.post("/tenders/<code>/interest")
@requires(Permission.TENDER_PARTICIPATE)
@documented(
    "报名参加招标项目（报名时查询信用记录；被限制投标的单位不能报名）",
    body=InterestIn,
    ok=RegisteredOut,
    status=201,
    errors=("forbidden", "wrong_state", "credit_barred"),
    example={"contact_name": "王五", "contact_phone": "+86-591-88880000"},
)
def register_interest(code: str) -> tuple[Response, int]:
    data = web.json_body(InterestIn) if request.get_data(cache=True) else InterestIn(contact_name="", contact_phone="")
    db, user, keys = web.db(), web.require_user(), services(current_app).keys
    contact = {"contact_name": data.contact_name, "contact_phone": data.contact_phone}
    interest = docs.register_interest(db, user, load(code, for_update=True), kek=kek(), keys=keys, **contact)
    return _ok(docs.registration_json(db, interest), 201)


@api.get("/tenders/<code>/interest")
@requires(Permission.TENDER_PARTICIPATE)
@documented("本单位是否已报名", ok=RegisteredOut)
def my_interest(code: str) -> Response:
    """Only ever about the caller's own organisation."""
    return jsonify(docs.registration_json(web.db(), docs.get_interest(web.db(), load(code), web.require_user())))


@api.get("/tenders/<code>/documents/<int:document_id>")
@requires(Permission.AUTHENTICATED)
@documented("下载招标文件", ok="application/octet-stream", errors=("forbidden", "not_registered"))
def download_document(code: str, document_id: int) -> Response:
    return stream_document(load(code), document_id)


@api.post("/tenders/<code>/questions")
@requires(Permission.TENDER_PARTICIPATE)
@documented(
    "提出澄清问题",
    body=QuestionIn,
    ok=QuestionAskedOut,
    status=201,
    errors=("wrong_state", "not_registered"),
    example={"text": "工期是否可以调整？"},
)
def ask_question(code: str) -> tuple[Response, int]:
    data = web.json_body(QuestionIn)
    q = docs.ask_question(web.db(), web.require_user(), load(code), data.text, kek=kek())
    return _ok({"id": q.id, "asked_at": iso(q.asked_at)}, 201)


@api.get("/tenders/<code>/questions")
@requires(Permission.AUTHENTICATED)
@documented("澄清问题及答复", ok=QuestionsOut)
def list_questions(code: str) -> Response:
    qs = docs.questions_for(web.db(), load(code), web.current_user())
    return jsonify(
        {
            "items": [
                {
                    "id": q.id,
                    "text": q.text,
                    "asked_at": iso(q.asked_at),
                    "answer": q.answer,
                    "answered_at": iso(q.answered_at),
                }
                for q in qs
            ]
        }
    )


# ---------------------------------------------------------------- my certificates and notifications
@api.get("/me/certificates")
@requires(Permission.CERTIFICATE_REGISTER)
@documented("我登记的签名和加密证书", ok=MyCertificatesOut)
def my_certificates() -> Response:
    user = web.require_user()
    out = {}
    for usage in Usage:
        if usage is Usage.CA:
            continue
        cert = current_certificate(web.db(), user, usage)
        out[usage.value] = (
            None
            if cert is None
            else {"fingerprint": cert.fingerprint, "subject": cert.subject, "not_after": iso(cert.not_after)}
        )
    return jsonify(out)


@api.get("/me/notifications")
@requires(Permission.AUTHENTICATED)
@documented(
    "本单位的通知（?since= 取其后的，旧的在前）", ok=NotificationsOut, query=NotificationsQuery, errors=("bad_integer",)
)
def my_notifications() -> Response:
    """Without ``since``: the latest 20 (or ``limit``), newest first. With ``since``: those after
    it, oldest first, at most ``limit`` (≤ 100); ``more`` says to ask again from the last one's
    ``created_at``, so a client following them never misses one however many arrive."""
    user, db = web.require_user(), web.db()
    since = notifications.parse_since(request.args.get("since"))
    limit = web.query_int("limit", 0, minimum=1, maximum=notifications.SINCE_LIMIT) or None
    rows, more = [], False
    if user.organisation_id is not None:
        if since is None:
            rows = notifications.for_org(db, user.organisation_id, limit or 20)
        else:
            rows, more = notifications.since_for_org(
                db, user.organisation_id, since, limit or notifications.SINCE_LIMIT
            )
    codes = notifications.tender_codes(db, rows)
    items = [
        {
            "id": n.id,
            "tender": codes.get(n.tender_id) if n.tender_id is not None else None,
            "message": n.message,
            "created_at": clock.as_utc(n.created_at).isoformat(),
        }
        for n in rows
    ]
    return jsonify({"items": items, "server_time": clock.now().isoformat(), "more": more})
