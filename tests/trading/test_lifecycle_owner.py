"""``Lot.status`` and ``Tender.status`` have one writer each, ``trading.tenders.lifecycle``'s
``move_lot`` and ``move_tender``: read every module of our packages (ast) and fail on any other
assignment to a lot's or a tender's ``status``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("signing", "archive", "trading", "bidding", "infra")
OWNER = Path("trading/tenders/lifecycle.py")


def assigned_targets(node: ast.AST) -> list[ast.expr]:
    """What an assignment writes: each target, tuples unpacked."""
    if isinstance(node, ast.Assign):
        out: list[ast.expr] = []
        for t in node.targets:
            out.extend(t.elts if isinstance(t, ast.Tuple | ast.List) else [t])
        return out
    if isinstance(node, ast.AugAssign | ast.AnnAssign):
        return [node.target]
    return []


def _mentions_state(node: ast.AST | None, enum: str) -> bool:
    return node is not None and any(
        (isinstance(n, ast.Name) and n.id == enum) or (isinstance(n, ast.Attribute) and n.attr == enum)
        for n in ast.walk(node)
    )


def _named(node: ast.expr, word: str) -> bool:
    """The object whose ``status`` is set: a name, attribute or call that says ``word``."""
    text = ast.unparse(node).lower()
    return word in text and f"s{word}" not in text  # not a "slot"


def status_writes(source: str, word: str = "lot", enum: str = "LotState", attr: str = "status") -> list[int]:
    """Lines that assign ``X.status`` (or the column ``attr``) where X reads as ``word`` or the
    value is an ``enum``; also ``setattr(x, "status", …)``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        value = getattr(node, "value", None)
        for t in assigned_targets(node):
            if (
                isinstance(t, ast.Attribute)
                and t.attr == attr
                and (_named(t.value, word) or _mentions_state(value, enum))
            ):
                lines.append(node.lineno)  # type: ignore[attr-defined]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
            and len(node.args) == 3
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value == attr
            and (_named(node.args[0], word) or _mentions_state(node.args[2], enum))
        ):
            lines.append(node.lineno)
    return sorted(lines)


def test_the_checker_sees_each_way_of_writing_it() -> None:
    src = """
lot.status = LotState.FAILED
lot_of(session, c).status = LotState.EVALUATING
x.status = models.LotState.AWARDED
a.status, b = LotState.TERMINATED, 1
self.lot.status = new
setattr(thing, "status", LotState.FAILED)
tender.status = TenderState.TERMINATED
ev.status = "x"
"""
    assert status_writes(src) == [2, 3, 4, 5, 6, 7]
    assert status_writes(src, "tender", "TenderState") == [8]


@pytest.mark.parametrize(("word", "enum"), [("lot", "LotState"), ("tender", "TenderState")])
def test_only_the_lifecycle_writes_the_status(word: str, enum: str) -> None:
    found = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel == OWNER:
                continue
            found += [f"{rel}:{n}" for n in status_writes(path.read_text(encoding="utf-8"), word, enum)]
    assert found == [], f"{enum} is written only by trading.tenders.lifecycle"
    assert status_writes((ROOT / OWNER).read_text(encoding="utf-8"), word, enum), "the owner itself writes it"


#: Every module that may write a ``status``/``state``/``stage`` attribute, and why. The lifecycle
#: owners write theirs; the rest are work states that are not a lifecycle of their own (each
#: written where its one operation lives). Anything not listed fails, whatever its variable is called.
STATE_WRITERS = {
    "trading/tenders/lifecycle.py": "Tender.status, Lot.status",
    "trading/bids/lifecycle.py": "Bid.status, BidUpload.state",
    "trading/guarantees/lifecycle.py": "GuaranteeOrder.state, Guarantee.state, GuaranteeClaim.state",
    "trading/opening/lifecycle.py": "Ceremony.stage",
    "trading/evaluation/lifecycle.py": "Evaluation.state",
    "trading/exchange/lifecycle.py": "ExchangeRecord.state",
    "trading/supervision/complaints.py": "Complaint.state",
    "trading/credit/proposals.py": "CreditProposal.state (move_proposal)",
    "trading/auctions/lifecycle.py": "Auction.state (move_auction)",
    "trading/auctions/registrations.py": "Registration.state (move_registration)",
    # not yet owned by a transition function (named in docs/architecture.md as work to do)
    "trading/tenders/publication.py": "Announcement.status: submitted, returned",
    "trading/tenders/amendments.py": "Announcement.status: a change notice returned",
    "trading/tenders/publishing.py": "Announcement.status: sealed as published",
    "trading/evaluation/draws.py": "Draw.state, DrawMember.state",
    "trading/evaluation/committee.py": "DrawMember.state: a seat's recusal",
    "trading/opening/decryption.py": "DecryptionJob.state",
}


def any_state_writes(source: str) -> list[int]:
    """Lines that assign ``x.status``/``x.state``/``x.stage`` (tuples unpacked), set them with
    ``setattr``, or in bulk through ``.values(status=…)``, whatever the variable is called."""
    names = {"status", "state", "stage"}
    lines = []
    for node in ast.walk(ast.parse(source)):
        if any(isinstance(t, ast.Attribute) and t.attr in names for t in assigned_targets(node)):
            lines.append(node.lineno)  # type: ignore[attr-defined]
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "values" and any(k.arg in names for k in node.keywords):
                lines.append(node.lineno)
            if (
                isinstance(func, ast.Name)
                and func.id == "setattr"
                and len(node.args) == 3
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value in names
            ):
                lines.append(node.lineno)
    return lines


def test_state_columns_are_written_only_where_listed() -> None:
    assert any_state_writes("t.status = to\nfor l in x: l.stage, y = s, 1\nq.values(state='x')\n") == [1, 2, 3]
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted((ROOT / "trading").rglob("*.py"))
        if str(path.relative_to(ROOT)) not in STATE_WRITERS
        for line in any_state_writes(path.read_text(encoding="utf-8"))
    ]
    assert not found, "call the owner's move_* function (docs/architecture.md): " + ", ".join(found)
