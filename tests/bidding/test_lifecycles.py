"""The bid's, the upload's, the order's, the guarantee's and the claim's states have one writer each:
``trading.bids.lifecycle`` (``move_bid``, ``move_upload``) and ``trading.guarantees.lifecycle``
(``move_order``, ``move_guarantee``, ``move_claim``). Read every module of our packages (ast) and
fail on any other assignment; every move a table leaves out is refused with a named Conflict (409)
that changes nothing."""

from __future__ import annotations

import ast
import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest

from tests.trading.test_lifecycle_owner import PACKAGES, ROOT, status_writes
from trading.bids.lifecycle import BID_MOVES, UPLOAD_MOVES, move_bid, move_upload
from trading.bids.models import Bid, BidState, BidUpload, UploadState
from trading.core.errors import Conflict
from trading.guarantees.lifecycle import (
    CLAIM_ANSWERS,
    CLAIM_MOVES,
    GUARANTEE_ACTIONS,
    GUARANTEE_MOVES,
    ORDER_MOVES,
    RELEASABLE,
    move_claim,
    move_guarantee,
    move_order,
)
from trading.guarantees.models import ClaimState, Guarantee, GuaranteeClaim, GuaranteeOrder, GuaranteeState, OrderState

BIDS = Path("trading/bids/lifecycle.py")
GUARANTEES = Path("trading/guarantees/lifecycle.py")

# (what the checker looks for: the object's word, the enum, the column) and its one writer
COLUMNS = [
    ("bid", "BidState", "status", BIDS),
    ("upload", "UploadState", "state", BIDS),
    ("order", "OrderState", "state", GUARANTEES),
    ("guarantee", "GuaranteeState", "state", GUARANTEES),
    ("claim", "ClaimState", "state", GUARANTEES),
]

#: the names a guarantee goes by in our code, which the word "guarantee" does not catch
GUARANTEE_NAMES = ("g", "gu")

NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
untouched: Any = None  # refused before the session is used: nothing is written, nothing recorded


def test_the_checker_sees_each_way_of_writing_these_states() -> None:
    src = """
bid.status = BidState.WITHDRAWN
previous.status = BidState.SUPERSEDED
upload.state, upload.updated_at = UploadState.ABANDONED, now
order.state = OrderState.CANCELLED
g.state = GuaranteeState.PAID
claim.state = ClaimState.REFUSED
setattr(self.order, "state", to)
bidder.outcome = Outcome.REVOKED
"""
    assert status_writes(src, "bid", "BidState") == [2, 3]
    assert status_writes(src, "upload", "UploadState", attr="state") == [4]
    assert status_writes(src, "order", "OrderState", attr="state") == [5, 8]
    assert status_writes(src, "guarantee", "GuaranteeState", attr="state") == [6]
    assert status_writes(src, "claim", "ClaimState", attr="state") == [7]


@pytest.mark.parametrize(("word", "enum", "attr", "owner"), COLUMNS, ids=[c[1] for c in COLUMNS])
def test_only_the_lifecycle_writes_the_state(word: str, enum: str, attr: str, owner: Path) -> None:
    found = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel != owner:
                found += [f"{rel}:{n}" for n in status_writes(path.read_text(encoding="utf-8"), word, enum, attr)]
    assert found == [], f"{enum} is written only by {owner}"
    assert status_writes((ROOT / owner).read_text(encoding="utf-8"), word, enum, attr), "the owner itself writes it"


def short_name_writes(source: str) -> list[int]:
    """Lines that assign ``g.state`` or ``gu.state``, whatever the value."""
    return sorted(
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Assign)
        for t in node.targets
        for e in (t.elts if isinstance(t, ast.Tuple | ast.List) else [t])
        if isinstance(e, ast.Attribute)
        and e.attr == "state"
        and isinstance(e.value, ast.Name)
        and e.value.id in GUARANTEE_NAMES
    )


def test_nothing_writes_the_state_of_a_guarantee_by_its_short_name() -> None:
    assert short_name_writes("g.state = to\ngu.state, x = GuaranteeState.PAID, 1\nga.state = 1\n") == [1, 2]
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for pkg in PACKAGES
        for path in sorted((ROOT / pkg).rglob("*.py"))
        for n in short_name_writes(path.read_text(encoding="utf-8"))
    ]
    assert found == [], "GuaranteeState is written only by trading.guarantees.lifecycle (move_guarantee)"


@pytest.mark.parametrize(
    ("table", "enum"),
    [
        (BID_MOVES, BidState),
        (UPLOAD_MOVES, UploadState),
        (ORDER_MOVES, OrderState),
        (GUARANTEE_MOVES, GuaranteeState),
        (CLAIM_MOVES, ClaimState),
    ],
)
def test_every_state_has_its_row(table: dict[Any, frozenset[Any]], enum: type[StrEnum]) -> None:
    assert set(table) == set(enum)
    assert all(to in enum for moves in table.values() for to in moves)


def test_the_tables() -> None:
    assert BID_MOVES[BidState.ACCEPTED] == {BidState.SUPERSEDED, BidState.WITHDRAWN}
    assert not BID_MOVES[BidState.SUPERSEDED] and not BID_MOVES[BidState.WITHDRAWN]  # both ends are final
    assert UPLOAD_MOVES[UploadState.OPEN] == {UploadState.COMPLETED, UploadState.ABANDONED}
    assert ORDER_MOVES[OrderState.APPLIED] == {OrderState.REJECTED, OrderState.ISSUED, OrderState.CANCELLED}
    assert all(not ORDER_MOVES[s] for s in OrderState if s is not OrderState.APPLIED)  # decided once
    G = GuaranteeState
    assert not GUARANTEE_MOVES[G.RELEASED] and not GUARANTEE_MOVES[G.PAID]
    assert set(RELEASABLE) == {G.SEALED, G.VALID, G.INVALID}  # a claimed one waits for the issuer's answer
    assert G.SEALED not in {to for moves in GUARANTEE_MOVES.values() for to in moves}  # sealed only when issued
    assert {frm for frm, _ in GUARANTEE_ACTIONS} == set(GUARANTEE_MOVES) - {G.CLAIMED, G.RELEASED, G.PAID}
    assert all(to in GUARANTEE_MOVES[frm] for frm, to in GUARANTEE_ACTIONS)
    assert all(to in GUARANTEE_MOVES[G.CLAIMED] for to in CLAIM_ANSWERS.values())


def _refused(table: dict[Any, frozenset[Any]], enum: type[StrEnum]) -> list[tuple[Any, Any]]:
    return [(frm, to) for frm in enum for to in enum if to not in table[frm]]


BID_REFUSED = _refused(BID_MOVES, BidState)


@pytest.mark.parametrize(("frm", "to"), BID_REFUSED, ids=[f"{f.value}->{t.value}" for f, t in BID_REFUSED])
def test_a_bid_move_the_table_leaves_out_is_refused_by_name(frm: BidState, to: BidState) -> None:
    bid = Bid(status=frm)
    with pytest.raises(Conflict) as exc:
        move_bid(untouched, bid, to, now=NOW, withdrawal=("sig", "c" * 64))
    assert (exc.value.status, exc.value.code) == (409, "bid_transition")
    assert bid.status is frm and bid.withdrawn_at is None


def test_a_withdrawal_is_signed() -> None:
    bid = Bid(status=BidState.ACCEPTED)
    with pytest.raises(ValueError):
        move_bid(untouched, bid, BidState.WITHDRAWN, now=NOW)
    assert bid.status is BidState.ACCEPTED


UPLOAD_REFUSED = _refused(UPLOAD_MOVES, UploadState)


@pytest.mark.parametrize(("frm", "to"), UPLOAD_REFUSED, ids=[f"{f.value}->{t.value}" for f, t in UPLOAD_REFUSED])
def test_an_upload_move_the_table_leaves_out_is_refused_by_name(frm: UploadState, to: UploadState) -> None:
    upload = BidUpload(state=frm)
    with pytest.raises(Conflict) as exc:
        move_upload(untouched, upload, to, now=NOW)
    assert (exc.value.status, exc.value.code) == (409, "upload_transition")
    assert upload.state is frm and upload.updated_at is None


ORDER_REFUSED = _refused(ORDER_MOVES, OrderState)


@pytest.mark.parametrize(("frm", "to"), ORDER_REFUSED, ids=[f"{f.value}->{t.value}" for f, t in ORDER_REFUSED])
def test_an_order_move_the_table_leaves_out_is_refused_by_name(frm: OrderState, to: OrderState) -> None:
    order = GuaranteeOrder(state=frm)
    with pytest.raises(Conflict) as exc:
        move_order(untouched, untouched, order, to, now=NOW)
    assert (exc.value.status, exc.value.code) == (409, "order_transition")
    assert order.state is frm and order.decided_at is None


# out of CLAIMED the claim's answer moves the guarantee (move_claim), never move_guarantee alone
GUARANTEE_REFUSED = _refused(GUARANTEE_MOVES, GuaranteeState) + [
    (GuaranteeState.CLAIMED, to) for to in sorted(GUARANTEE_MOVES[GuaranteeState.CLAIMED])
]


@pytest.mark.parametrize(("frm", "to"), GUARANTEE_REFUSED, ids=[f"{f.value}->{t.value}" for f, t in GUARANTEE_REFUSED])
def test_a_guarantee_move_the_table_leaves_out_is_refused_by_name(frm: GuaranteeState, to: GuaranteeState) -> None:
    g = Guarantee(state=frm)
    with pytest.raises(Conflict) as exc:
        move_guarantee(untouched, untouched, g, to)
    assert (exc.value.status, exc.value.code) == (409, "guarantee_transition")
    assert g.state is frm


CLAIM_REFUSED = _refused(CLAIM_MOVES, ClaimState)


@pytest.mark.parametrize(("frm", "to"), CLAIM_REFUSED, ids=[f"{f.value}->{t.value}" for f, t in CLAIM_REFUSED])
def test_a_claim_move_the_table_leaves_out_is_refused_by_name(frm: ClaimState, to: ClaimState) -> None:
    claim, g = GuaranteeClaim(state=frm), Guarantee(state=GuaranteeState.CLAIMED)
    with pytest.raises(Conflict) as exc:
        move_claim(untouched, untouched, claim, g, to)
    assert (exc.value.status, exc.value.code) == (409, "claim_transition")
    assert claim.state is frm and g.state is GuaranteeState.CLAIMED


@pytest.mark.parametrize("to", [ClaimState.PAID, ClaimState.REFUSED])
def test_an_answer_to_a_claim_on_a_guarantee_not_claimed_is_refused(to: ClaimState) -> None:
    claim, g = GuaranteeClaim(state=ClaimState.FILED), Guarantee(state=GuaranteeState.RELEASED)
    with pytest.raises(Conflict) as exc:
        move_claim(untouched, untouched, claim, g, to)
    assert (exc.value.status, exc.value.code) == (409, "guarantee_transition")
    assert claim.state is ClaimState.FILED and g.state is GuaranteeState.RELEASED
