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
    allowed = {ROOT / "trading" / "permissions.py"}
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in modules()
        if path not in allowed
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if {"STAFF", "SUPERVISOR"} <= role_names(node)
    ]
    assert found == [], f"ask permissions.has(user, Permission...) instead of a role set: {found}"
