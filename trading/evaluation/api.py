"""The expert pool and the draw over the API (bearer tokens): staff manage the pool and draw; an
expert keeps its declarations and answers its invitations; anyone reads a draw's commitments, and
supervisors export what ``ggzy draw verify`` re-runs."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import select

from archive.db import locked
from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.core.apispec import documented
from trading.core.errors import NotFound
from trading.core.platform_keys import key_encryption_key
from trading.core.services import services
from trading.evaluation import draw as rules
from trading.evaluation import draws, experts
from trading.evaluation.models import Draw, DrawMember
from trading.evaluation.schemas import (
    DeclarationIn,
    DeclarationOut,
    DrawBundleOut,
    DrawIn,
    DrawOut,
    ExpertIn,
    ExpertOut,
    InvitationsOut,
    RespondedOut,
    RespondIn,
)
from trading.tenders.loading import load
from trading.tenders.models import Lot

api = Blueprint("evaluation_api", __name__, url_prefix="/api/v1")


def load_lot(code: str, number: int) -> Lot:
    tender = load(code)
    lot = next((lot for lot in tender.lots if lot.number == number), None)
    if lot is None:
        raise NotFound(f"第{number}标段不存在")
    return lot


def load_draw(draw_id: int, *, for_update: bool = False) -> Draw:
    q = select(Draw).where(Draw.id == draw_id)
    d = web.db().scalar(locked(q) if for_update else q)
    if d is None:
        raise NotFound("抽取记录不存在")
    return d


def draw_json(d: Draw) -> dict[str, Any]:
    """What anyone may read: commitments before, seed and result (expert ids, not names) after."""
    states: dict[str, int] = {}
    for m in web.db().scalars(select(DrawMember).where(DrawMember.draw_id == d.id)):
        states[m.state.value] = states.get(m.state.value, 0) + 1
    drawn = d.state.value == "drawn"
    return {
        "id": d.id,
        "round": d.round,
        "state": d.state.value,
        "state_label": d.state.label,
        "snapshot_sm3": d.snapshot_sm3,
        "seed_sm3": d.seed_sm3,
        "seed": d.seed.hex() if drawn else None,
        "result_size": len(d.result or []),
        "members": states,
        "created_at": d.created_at.isoformat(),
        "drawn_at": d.drawn_at.isoformat() if d.drawn_at else None,
    }


@api.post("/experts")
@requires(Permission.EXPERT_MANAGE)
@documented("专家入库", body=ExpertIn, ok=ExpertOut, status=201, errors=("duplicate_expert", "not_eligible"))
def add_expert() -> tuple[Response, int]:
    e = experts.add_expert(web.db(), web.require_user(), web.json_body(ExpertIn))
    web.commit()
    return jsonify({"id": e.id, "name": e.name, "specialties": e.specialties, "region": e.region}), 201


@api.put("/experts/me")
@requires(Permission.EXPERT_SELF)
@documented(
    "专家更新自己的申报（工作单位、任职经历、关系）", body=DeclarationIn, ok=DeclarationOut, errors=("not_an_expert",)
)
def declare() -> Response:
    e = experts.declare(web.db(), web.require_user(), web.json_body(DeclarationIn))
    web.commit()
    return jsonify({"id": e.id, "employer": e.employer, "history": e.history, "relations": e.relations})


def _kek() -> bytes:
    return key_encryption_key(services(current_app).settings)


@api.post("/tenders/<code>/lots/<int:number>/draws")
@requires(Permission.EXPERT_MANAGE)
@documented(
    "公布抽取承诺（快照与种子的 SM3）",
    body=DrawIn,
    ok=DrawOut,
    status=201,
    errors=("draw_pending", "already_drawn", "wrong_state"),
)
def commit(code: str, number: int) -> tuple[Response, int]:
    data = web.json_body(DrawIn)
    slots = [rules.Slot(s.region, s.specialty, s.count) for s in data.slots] if data.slots else None
    svc = services(current_app)
    d = draws.commit_draw(web.db(), web.require_user(), svc.store, load_lot(code, number), slots, kek=_kek())
    web.commit()
    return jsonify(draw_json(d)), 201


@api.post("/tenders/<code>/lots/<int:number>/draws/replace")
@requires(Permission.EXPERT_MANAGE)
@documented("补抽空出的席位", ok=DrawOut, status=201, errors=("not_drawn", "nothing_to_replace", "not_enough_experts"))
def replace(code: str, number: int) -> tuple[Response, int]:
    d = draws.replace_declined(
        web.db(), web.require_user(), services(current_app).store, load_lot(code, number), kek=_kek()
    )
    web.commit()
    return jsonify(draw_json(d)), 201


@api.post("/draws/<int:draw_id>/run")
@requires(Permission.EXPERT_MANAGE)
@documented("运行抽取（公开种子与结果）", ok=DrawOut, errors=("already_drawn", "not_enough_experts", "wrong_state"))
def run(draw_id: int) -> Response:
    d = load_draw(draw_id, for_update=True)
    draws.run_draw(web.db(), web.require_user(), services(current_app).store, d, kek=_kek())
    web.commit()
    return jsonify(draw_json(d))


@api.get("/draws/<int:draw_id>")
@requires(Permission.PUBLIC)
@documented("抽取记录（承诺、种子与结果人数）", ok=DrawOut)
def show(draw_id: int) -> Response:
    return jsonify(draw_json(load_draw(draw_id)))


@api.get("/draws/<int:draw_id>/bundle")
@requires(Permission.AUDIT_READ)
@documented("抽取的核验包（ggzy draw verify）", ok=DrawBundleOut, errors=("not_drawn",))
def bundle(draw_id: int) -> Response:
    """The snapshot (experts' declarations: not public), seed and result, for ``ggzy draw verify``."""
    return jsonify(draws.verification_bundle(services(current_app).store, load_draw(draw_id)))


@api.get("/me/invitations")
@requires(Permission.EXPERT_SELF)
@documented("我的评标邀请", ok=InvitationsOut, errors=("not_an_expert",))
def invitations() -> Response:
    items = [
        {
            "id": m.id,
            "draw": d.id,
            "lot_id": d.lot_id,
            "slot": m.slot,
            "state": m.state.value,
            "state_label": m.state.label,
        }
        for m, d in draws.my_invitations(web.db(), web.require_user())
    ]
    return jsonify({"items": items})


@api.post("/invitations/<int:member_id>/respond")
@requires(Permission.EXPERT_SELF)
@documented("接受或拒绝评标邀请", body=RespondIn, ok=RespondedOut, errors=("not_an_expert", "wrong_state", "too_late"))
def respond(member_id: int) -> Response:
    data = web.json_body(RespondIn)
    m = draws.respond(web.db(), web.require_user(), member_id, data.accept, data.reason)
    web.commit()
    return jsonify({"id": m.id, "state": m.state.value})
