"""``Evaluation.state`` has one writer, ``trading.evaluation.lifecycle.move_evaluation``, driven by
``EVALUATION_MOVES``: read every module of our packages (ast) and fail on any other assignment;
every move the table leaves out is refused with the named Conflict ``evaluation_transition``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.trading.test_lifecycle_owner import PACKAGES, ROOT, status_writes
from trading.core.errors import Conflict
from trading.evaluation.lifecycle import EVALUATION_MOVES, move_evaluation
from trading.evaluation.models import EvalState, Evaluation

OWNER = Path("trading/evaluation/lifecycle.py")


def _writes(source: str) -> list[int]:
    return status_writes(source, "ev", "EvalState", attr="state")


def test_the_checker_sees_each_way_of_writing_the_evaluation_state() -> None:
    src = """
ev.state = EvalState.SCORING
self.evaluation.state = to
x.state = models.EvalState.AWARDED
a.state, b = EvalState.REPORTED, 1
setattr(ev, "state", new)
draw.state = DrawState.DRAWN
ev.status = EvalState.SCORING
"""
    assert _writes(src) == [2, 3, 4, 5, 6]


def test_only_the_evaluation_lifecycle_writes_its_state() -> None:
    found = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel != OWNER:
                found += [f"{rel}:{n}" for n in _writes(path.read_text(encoding="utf-8"))]
    assert found == [], "Evaluation.state is written only by trading.evaluation.lifecycle"
    assert _writes((ROOT / OWNER).read_text(encoding="utf-8")), "the owner itself writes it"


def test_every_state_has_its_row_and_the_award_is_final() -> None:
    assert set(EVALUATION_MOVES) == set(EvalState)
    assert EVALUATION_MOVES[EvalState.AWARDED] == frozenset()
    reachable = {to for moves in EVALUATION_MOVES.values() for to in moves}
    assert reachable == set(EvalState) - {EvalState.SIGN_IN}  # a room opens signing in, and never returns


REFUSED = [(frm, to) for frm in EvalState for to in EvalState if to not in EVALUATION_MOVES[frm]]


@pytest.mark.parametrize(("frm", "to"), REFUSED, ids=[f"{f.value}->{t.value}" for f, t in REFUSED])
def test_a_move_the_table_leaves_out_is_refused_by_name(frm: EvalState, to: EvalState) -> None:
    ev = Evaluation(state=frm)
    untouched: Any = None  # refused before the session is used: nothing is written, nothing recorded
    with pytest.raises(Conflict) as exc:
        move_evaluation(untouched, None, ev, to)  # type: ignore[arg-type]
    assert (exc.value.status, exc.value.code) == (409, "evaluation_transition")
    assert ev.state is frm
