"""``Ceremony.stage`` has one writer, ``trading.opening.lifecycle.move_ceremony``, driven by the table
``STAGE_MOVES``: read every module of our packages (ast) and fail on any other write; the table's
refusal is a named Conflict (409) that changes nothing."""

from __future__ import annotations

import ast
import datetime as dt
import itertools
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, AuditEvent
from tests.trading.opening.test_ceremony import open_tender
from tests.trading.test_lifecycle_owner import assigned_targets
from trading.core.errors import Conflict
from trading.opening.ceremonies import get_ceremony
from trading.opening.lifecycle import NEXT, STAGE_MOVES, may_move, move_ceremony
from trading.opening.models import FINAL_STAGES, Stage

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("signing", "archive", "trading", "bidding", "infra")
OWNER = Path("trading/opening/lifecycle.py")


def _is_scheduled(node: ast.expr) -> bool:
    return ast.unparse(node) in ("Stage.SCHEDULED", "models.Stage.SCHEDULED")


def stage_writes(source: str) -> list[int]:
    """Lines that write a ceremony's stage: an assignment to any ``X.stage`` (no other table has
    the column), ``setattr(x, "stage", …)``, a bulk ``.values(stage=…)`` or ``.values({"stage": …})``,
    and a ``Ceremony(stage=…)`` born anywhere but in ``Stage.SCHEDULED``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if any(isinstance(t, ast.Attribute) and t.attr == "stage" for t in assigned_targets(node)):
            lines.append(node.lineno)  # type: ignore[attr-defined]
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        if (
            (
                name == "setattr"
                and len(node.args) == 3
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value == "stage"
            )
            or (
                name == "values"
                and (
                    "stage" in keywords
                    or any(
                        isinstance(a, ast.Dict)
                        and any(isinstance(k, ast.Constant) and k.value == "stage" for k in a.keys)
                        for a in node.args
                    )
                )
            )
            or (name == "Ceremony" and "stage" in keywords and not _is_scheduled(keywords["stage"]))
        ):
            lines.append(node.lineno)
    return sorted(lines)


def test_the_checker_sees_each_way_of_writing_it() -> None:
    src = """
c.stage = Stage.CLOSED
c.stage, c.stage_started_at = to, now
self.ceremony.stage = to
setattr(room, "stage", Stage.FAILED)
session.execute(update(Ceremony).values(stage=Stage.CANCELLED))
session.execute(update(Ceremony).values({"stage": "closed"}))
Ceremony(lot_id=1, stage=Stage.SIGN_IN)
Ceremony(lot_id=1, stage=Stage.SCHEDULED)
failures(session, "x", ref, at, stage=c.stage.value)
if c.stage is Stage.CLOSED: pass
"""
    assert stage_writes(src) == [2, 3, 4, 5, 6, 7, 8]


def test_only_the_lifecycle_writes_the_stage() -> None:
    found = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel != OWNER:
                found += [f"{rel}:{n}" for n in stage_writes(path.read_text(encoding="utf-8"))]
    assert found == [], "Ceremony.stage is written only by trading.opening.lifecycle.move_ceremony"
    assert stage_writes((ROOT / OWNER).read_text(encoding="utf-8")), "the owner itself writes it"


def test_the_transition_table() -> None:
    assert set(STAGE_MOVES) == set(Stage)  # every stage has its row
    assert STAGE_MOVES[Stage.SCHEDULED] == {Stage.SIGN_IN, Stage.FAILED, Stage.CANCELLED}
    order = [Stage.SIGN_IN, Stage.BIDDERS, Stage.DECRYPTING, Stage.READING, Stage.CONFIRMING, Stage.CLOSED]
    for frm, to in itertools.pairwise(order):  # only forward, one window at a time
        assert STAGE_MOVES[frm] == {to} and NEXT[frm] is to
    assert all(not STAGE_MOVES[s] for s in FINAL_STAGES)  # the ends are final
    assert not may_move(Stage.SIGN_IN, Stage.CANCELLED)  # an open room is not cancelled
    assert not may_move(Stage.READING, Stage.DECRYPTING)  # prices read cannot be unread


def _events(session: Session, action: str) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)) or 0


def test_a_move_the_table_forbids_is_refused_and_changes_nothing(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    t = open_tender(client, session, app, 3)
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        assert client.get(f"/api/v1/ceremonies/{t['cid']}").get_json()["stage"] == "sign_in"
        session.expire_all()
        c = get_ceremony(session, t["cid"])
        started, ends = c.stage_started_at, c.stage_ends_at
        before = _events(session, "ceremony.closed")
        with pytest.raises(Conflict) as e:  # skipping the windows: no record, no decryption
            move_ceremony(session, SYSTEM, c, Stage.CLOSED, now=clock.now())
        assert e.value.code == "ceremony_transition" and e.value.status == 409
        assert "签到" in e.value.message and "开标结束" in e.value.message
        assert (c.stage, c.stage_started_at, c.stage_ends_at) == (Stage.SIGN_IN, started, ends)
        assert _events(session, "ceremony.closed") == before  # nothing was written
        session.rollback()


def test_an_ended_ceremony_does_not_move_again(client: FlaskClient, session: Session, app: Flask) -> None:
    t = open_tender(client, session, app, 2)  # fewer than the procedure's three: 流标 at the deadline
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        assert client.get(f"/api/v1/ceremonies/{t['cid']}").get_json()["stage"] == "failed"
        session.expire_all()
        c = get_ceremony(session, t["cid"])
        with pytest.raises(Conflict) as e:
            move_ceremony(session, SYSTEM, c, Stage.SIGN_IN, now=clock.now())
        assert e.value.code == "ceremony_transition" and c.stage is Stage.FAILED
        session.rollback()
