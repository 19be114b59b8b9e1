"""``Lot.status`` has one writer, ``trading.tenders.lifecycle.move_lot``: read every module of our
packages (ast) and fail on any other assignment to a lot's ``status``."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("signing", "archive", "trading", "bidding", "infra")
OWNER = Path("trading/tenders/lifecycle.py")


def _targets(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        out: list[ast.expr] = []
        for t in node.targets:
            out.extend(t.elts if isinstance(t, ast.Tuple | ast.List) else [t])
        return out
    if isinstance(node, ast.AugAssign | ast.AnnAssign):
        return [node.target]
    return []


def _mentions_lot_state(node: ast.AST | None) -> bool:
    return node is not None and any(
        (isinstance(n, ast.Name) and n.id == "LotState") or (isinstance(n, ast.Attribute) and n.attr == "LotState")
        for n in ast.walk(node)
    )


def _named_lot(node: ast.expr) -> bool:
    """The object whose ``status`` is set: a name, attribute or call that says "lot"."""
    text = ast.unparse(node).lower()
    return "lot" in text and "slot" not in text


def lot_status_writes(source: str) -> list[int]:
    """Lines that assign ``X.status`` where X reads as a lot or the value is a ``LotState``;
    also ``setattr(x, "status", LotState…)``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        value = getattr(node, "value", None)
        for t in _targets(node):
            if (
                isinstance(t, ast.Attribute)
                and t.attr == "status"
                and (_named_lot(t.value) or _mentions_lot_state(value))
            ):
                lines.append(node.lineno)  # type: ignore[attr-defined]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
            and len(node.args) == 3
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value == "status"
            and (_named_lot(node.args[0]) or _mentions_lot_state(node.args[2]))
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
    assert lot_status_writes(src) == [2, 3, 4, 5, 6, 7]


def test_only_the_lifecycle_writes_lot_status() -> None:
    found = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel == OWNER:
                continue
            found += [f"{rel}:{n}" for n in lot_status_writes(path.read_text(encoding="utf-8"))]
    assert found == [], "Lot.status is written only by trading.tenders.lifecycle.move_lot"
    assert lot_status_writes((ROOT / OWNER).read_text(encoding="utf-8")), "the owner itself writes it"
