"""Rules written once: a role set standing for "the platform's observers" and a deadline
comparison have one home each; a copy elsewhere drifts (one copy let admins in, others not)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("trading", "bidding", "archive", "signing")


def modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def role_names(node: ast.AST) -> set[str]:
    elts = node.elts if isinstance(node, ast.Set | ast.Tuple | ast.List) else []
    return {
        e.attr for e in elts if isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name) and e.value.id == "Role"
    }


def test_observer_role_sets_only_in_the_permission_table() -> None:
    allowed = {ROOT / "trading" / "accounts" / "permissions.py"}
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in modules()
        if path not in allowed
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if {"STAFF", "SUPERVISOR"} <= role_names(node)
    ]
    assert found == [], f"ask permissions.has(user, Permission...) instead of a role set: {found}"


def mentions_now(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id == "now"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr == "now"
    return False


def test_deadline_compared_with_the_clock_only_in_the_tender_model() -> None:
    allowed = {ROOT / "trading" / "tenders" / "models.py"}
    found = []
    for path in modules():
        if path in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Compare):
                continue
            operands = [node.left, *node.comparators]
            on_deadline = any(isinstance(o, ast.Attribute) and o.attr == "bid_deadline" for o in operands)
            if on_deadline and any(mentions_now(o) for o in operands):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == [], f"use Tender.deadline_passed / deadline_passed_by instead: {found}"
