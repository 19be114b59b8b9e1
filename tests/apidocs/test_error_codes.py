"""The error catalogue (trading/core/error_codes.py) names every code the source can answer with."""

from __future__ import annotations

import ast
import pathlib

from trading.core.error_codes import ERROR_CODES

REPO = pathlib.Path(__file__).resolve().parents[2]
#: where the codes an API answer can carry are written: the server, and the libraries whose
#: errors it passes on with their own code (``code=exc.code``)
SOURCES = ("trading", "signing", "archive")
#: helpers that take the code as their first argument (``refuse("wrong_lot", "…")``)
CODE_FIRST = frozenset({"refuse", "_refuse"})


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def codes_in(tree: ast.AST) -> set[str]:
    """The codes in one module: ``code="…"`` in a call, ``code = "…"`` in a class body,
    ``{"code": "…", "message": …}`` in an error body, and the first argument of a ``refuse`` helper."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            found |= {v for k in node.keywords if k.arg == "code" and (v := _literal(k.value))}
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name in CODE_FIRST and node.args and (v := _literal(node.args[0])):
                found.add(v)
        elif isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if (
                    isinstance(stmt, ast.Assign)
                    and [getattr(t, "id", None) for t in stmt.targets] == ["code"]
                    and (v := _literal(stmt.value))
                ):
                    found.add(v)
        elif isinstance(node, ast.Dict) and "message" in {_literal(k) for k in node.keys}:
            found |= {
                v
                for k, val in zip(node.keys, node.values, strict=True)
                if _literal(k) == "code" and (v := _literal(val))
            }
    return found


def source_codes() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for top in SOURCES:
        for path in sorted((REPO / top).rglob("*.py")):
            for code in codes_in(ast.parse(path.read_text(encoding="utf-8"))):
                out.setdefault(code, set()).add(str(path.relative_to(REPO)))
    return out


def test_every_code_the_source_raises_is_in_the_catalogue() -> None:
    missing = {c: sorted(p) for c, p in source_codes().items() if c not in ERROR_CODES}
    assert not missing, f"add these codes with their meaning to trading/core/error_codes.py: {missing}"


def test_the_scan_finds_each_kind_of_code() -> None:
    """The scan is not blind: it finds a code written each way the source writes one."""
    tree = ast.parse(
        "raise Conflict('x', code='a1')\n"
        "class E(Exception):\n    code = 'a2'\n"
        "body = {'error': {'code': 'a3', 'message': 'm'}}\n"
        "refuse('a4', 'm')\n"
    )
    assert codes_in(tree) == {"a1", "a2", "a3", "a4"}


def test_every_code_has_a_status_and_a_meaning_in_chinese() -> None:
    for code, entry in ERROR_CODES.items():
        assert entry.statuses and all(400 <= s < 600 for s in entry.statuses), code
        assert any("\u4e00" <= ch <= "\u9fff" for ch in entry.meaning), code
