"""The layout by stage, checked by reading every module's imports (ast).

``trading/`` is the platform in stage order: a stage package imports only ``signing``,
``archive`` and the stages before it. ``bidding/`` is the bidder's own software and never
imports ``trading``. No module imports one of our packages inside a function, except the
composition roots (which wire every stage together) and the short list below.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = ("signing", "archive", "trading", "bidding", "infra")

#: trading's stages, earliest first (docs/architecture.md). A stage may import the ones before it.
STAGES = (
    "core",
    "accounts",
    "audit",
    "pki",
    "procedures",
    "credit",
    "tenders",
    "bids",
    "guarantees",
    "auctions",
    "opening",
    "evaluation",
    "awards",
    "signals",
    "supervision",
    "archives",
    "portal",
    "opendata",
    "exchange",
    "apidocs",
)
#: The modules that wire every stage together; no stage module may import them.
COMPOSITION_ROOTS = ("trading.app", "trading.models", "trading.cli", "trading.demo", "bidding.cli")
#: What each top-level package may import, besides itself and the standard library.
PACKAGE_DEPENDS = {
    "signing": set(),
    "archive": {"signing"},
    "bidding": {"signing", "archive"},
    "infra": {"signing", "archive"},
    "trading": {"signing", "archive"},
}
#: Function-local imports of our own packages outside the composition roots, each with its reason.
LOCAL_IMPORTS_ALLOWED = {
    # the S3 store needs the minio SDK: a deployment on the local store never imports it
    ("archive.objectstore.factory", "archive.objectstore.s3"),
    ("archive.objectstore.factory", "archive.objectstore.local"),
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module (or package)
    line: int
    local: bool  # inside a function or class body


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> Iterator[Import]:
    yield from imports_in(module_name(path), path.read_text(encoding="utf-8"), package=path.name == "__init__.py")


def imports_in(name: str, source: str, *, package: bool = False) -> Iterator[Import]:
    """Every import of our packages in ``source``, the text of module ``name``."""
    tree = ast.parse(source)
    parent = name if package else name.rpartition(".")[0]

    def targets(node: ast.Import | ast.ImportFrom) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        base = node.module or ""
        if node.level:
            anchor = parent.split(".")[: len(parent.split(".")) - node.level + 1]
            base = ".".join([*anchor, *([node.module] if node.module else [])])
        # ``from trading.opening import ceremonies`` imports the module trading.opening.ceremonies
        folder = ROOT.joinpath(*base.split("."))
        return [
            f"{base}.{a.name}" if (folder / a.name).is_dir() or (folder / f"{a.name}.py").exists() else base
            for a in node.names
        ]

    def walk(node: ast.AST, local: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                for target in targets(child):
                    if target.split(".")[0] in OURS:
                        yield Import(name, target, child.lineno, local)
            inner = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda)
            yield from walk(child, inner)

    yield from walk(tree, False)


def all_imports() -> list[Import]:
    found: list[Import] = []
    for package in OURS:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "vendor" not in path.parts:
                found.extend(imports_of(path))
    return found


def plays_the_bidder(imp: Import) -> bool:
    """The demo acts as bidders and an issuer with their own software (``ggzy-bid``'s client, the
    reference issuer); nothing else in ``trading`` may import ``bidding`` or ``infra``."""
    return imp.module.startswith("trading.demo") and imp.target.split(".")[0] in {"bidding", "infra"}


def is_composition_root(module: str) -> bool:
    return any(module == r or module.startswith(r + ".") for r in COMPOSITION_ROOTS)


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "trading" and len(parts) > 1 and parts[1] in STAGES else None


def violations(imports: list[Import]) -> list[str]:
    out = []
    for imp in imports:
        top, target_top = imp.module.split(".")[0], imp.target.split(".")[0]
        where = f"{imp.module}:{imp.line} imports {imp.target}"
        if target_top != top and target_top not in PACKAGE_DEPENDS[top] and not plays_the_bidder(imp):
            out.append(f"{where}: {top} may not import {target_top}")
            continue
        if imp.local and not is_composition_root(imp.module) and (imp.module, imp.target) not in LOCAL_IMPORTS_ALLOWED:
            out.append(
                f"{where} inside a function: import it at the top (a cycle means a piece is in the wrong module)"
            )
        if top != "trading" or is_composition_root(imp.module) or target_top != "trading":
            continue
        if is_composition_root(imp.target) or imp.target == "trading":
            out.append(f"{where}: only the composition roots name {imp.target}")
            continue
        mine, theirs = stage_of(imp.module), stage_of(imp.target)
        if mine is None or theirs is None:
            out.append(f"{where}: move {imp.module if mine is None else imp.target} into a stage package")
        elif STAGES.index(theirs) > STAGES.index(mine):
            out.append(
                f"{where}: {mine} comes before {theirs} and may not import it (react through a hook that"
                " trading.app.connect_stages wires, or a sweep in the later stage: docs/architecture.md)"
            )
    return out


def test_imports_follow_the_stage_order() -> None:
    found = sorted(set(violations(all_imports())))
    assert not found, "\n".join(found)


def test_every_trading_module_belongs_to_a_stage_or_is_a_root() -> None:
    stray = [
        module_name(p)
        for p in sorted((ROOT / "trading").rglob("*.py"))
        if module_name(p) != "trading" and stage_of(module_name(p)) is None and not is_composition_root(module_name(p))
    ]
    assert not stray, f"move into a stage package (docs/architecture.md) or make a composition root: {stray}"


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("trading.tenders.operations", "from trading.opening import ceremonies\n", "comes before opening"),
        ("trading.tenders.operations", "def f():\n    from trading.core import db\n", "inside a function"),
        ("bidding.client", "import trading.core.web\n", "bidding may not import trading"),
        ("trading.opening.api", "from trading.app import create_app\n", "only the composition roots"),
        ("trading.tenders.pages", "from bidding import client\n", "trading may not import bidding"),
        ("signing.sm2", "from archive import clock\n", "signing may not import archive"),
        ("bidding.cli.bids", "from trading.tenders import models\n", "bidding may not import trading"),
        ("trading.tenders.pages", "from ..opening import ceremonies\n", "comes before opening"),
    ],
)
def test_the_check_finds_each_kind_of_violation(module: str, source: str, expected: str) -> None:
    """The checker itself: each rule fails on a module that breaks it, read as the real ones are."""
    assert ROOT.joinpath(*module.split(".")).with_suffix(".py").exists()
    found = violations(list(imports_in(module, source)))
    assert found and expected in found[0], found


def test_composition_roots_are_few() -> None:
    """The roots are the app factory, the model registry, the CLIs and the demo; nothing else."""
    roots = sorted({module_name(p) for p in (ROOT / "trading").rglob("*.py") if is_composition_root(module_name(p))})
    assert all(r.split(".")[1] in {"app", "models", "cli", "demo"} for r in roots), roots
    assert len(COMPOSITION_ROOTS) == 5


def test_every_module_with_jobs_is_named_by_the_composition_root() -> None:
    """A sweep registers itself when its module is imported; a module the root does not name would
    never run in a deployment, and nothing else would fail."""
    with_jobs = {
        module_name(p)
        for p in (ROOT / "trading").rglob("*.py")
        if any(
            isinstance(d, ast.Call) and isinstance(d.func, ast.Name) and d.func.id == "job"
            for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
            if isinstance(node, ast.FunctionDef)
            for d in node.decorator_list
        )
    }
    app = ast.parse((ROOT / "trading" / "app.py").read_text(encoding="utf-8"))
    named = {
        a.name
        for fn in ast.walk(app)
        if isinstance(fn, ast.FunctionDef) and fn.name == "import_job_modules"
        for node in ast.walk(fn)
        if isinstance(node, ast.Import)
        for a in node.names
    }
    assert with_jobs and with_jobs <= named, sorted(with_jobs - named)


def private_names_used_across_modules(path: Path) -> list[str]:
    """``from x import _name`` and ``x._name`` where ``x`` is another of our modules. A package's
    own private module (``signing._tongsuo``, used inside ``signing``) is its business."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module_name(path).split(".")[0]
    aliases: dict[str, str] = {}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in OURS:
            for a in node.names:
                aliases[a.asname or a.name] = node.module
                private = a.name.startswith("_") and not a.name.startswith("__")
                if private and not (node.module == here and (ROOT / here / f"{a.name}.py").exists()):
                    found.append(f"{module_name(path)}:{node.lineno} imports {node.module}.{a.name}")
        elif isinstance(node, ast.Import):
            aliases.update({a.asname or a.name: a.name for a in node.names if a.name.split(".")[0] in OURS})
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            found.append(f"{module_name(path)}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    return found


def test_no_private_name_is_used_across_modules() -> None:
    found = [
        f
        for package in OURS
        for p in sorted((ROOT / package).rglob("*.py"))
        for f in private_names_used_across_modules(p)
    ]
    assert not found, "make the name public (and say what it is for) or move its user: " + "\n".join(found)


def dynamic_imports(source: str) -> list[int]:
    """Lines that import by name at run time (``importlib``, ``__import__``, ``runpy``,
    ``sys.modules``): the import check above cannot see where those lead."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(n.split(".")[0] in {"importlib", "runpy"} for n in names):
                lines.append(node.lineno)
        elif (isinstance(node, ast.Name) and node.id == "__import__") or (
            isinstance(node, ast.Attribute) and node.attr == "modules" and ast.unparse(node.value) == "sys"
        ):
            lines.append(node.lineno)
    return lines


def test_no_module_imports_by_name_at_run_time() -> None:
    assert dynamic_imports("import importlib\nx = __import__('trading.opening')\nimport sys\nsys.modules['x']\n") == [
        1,
        2,
        4,
    ]
    found = [
        f"{module_name(p)}:{line}"
        for package in OURS
        for p in sorted((ROOT / package).rglob("*.py"))
        if "vendor" not in p.parts
        for line in dynamic_imports(p.read_text(encoding="utf-8"))
    ]
    assert not found, "import at the top, so that the stage order can be checked: " + ", ".join(found)


def test_the_decryption_worker_loads_no_web_framework() -> None:
    """``ggzy workers`` decrypt bids under a memory bound (test_hostile_packages): what they import
    is their baseline, so the modules they load keep Flask out (``trading.core.services`` names it
    for typing only)."""
    import subprocess
    import sys

    code = "import sys, trading.opening.decryption; print('flask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
