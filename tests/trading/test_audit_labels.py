"""Every audit action the platform writes has a label (trading/audit/labels.py).

The codes are found in the source: every string constant shaped like an action (``tender.publish``)
in a namespace the table knows, and every f-string that makes one, expanded here from the enum it
reads. A new action without a label, or a new enum member an f-string turns into one, fails here;
so does a new f-string action until its expansion is added below. A finished demo's whole trail
is checked too (``tests/trading/test_cli.py``).
"""

from __future__ import annotations

import ast
import pathlib
import re
from collections.abc import Iterable

from trading.audit.labels import ACTION_LABELS, OBJECT_LABELS, action_label, namespaces

ROOT = pathlib.Path(__file__).resolve().parents[2]
ACTION = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$")
#: calls whose string argument names something else (a route, a column, a template)
NOT_ACTIONS = {
    "url_for",
    "redirect",
    "ForeignKey",
    "endpoint_rule",
    "render_template",
    "getLogger",
    "Index",
    "Hook",
    "Task",
    "NavLink",
}


def expansions() -> dict[str, list[str]]:
    """The f-strings that make actions, by their shape, with the codes they can make."""
    from trading.accounts.models import SessionKind
    from trading.credit.models import ProposalState
    from trading.evaluation.models import MemberState
    from trading.guarantees.lifecycle import CLAIM_MOVES
    from trading.opening.models import Stage

    joint = re.findall(r'_record\(\s*session,\s*\w+,\s*\w+,\s*"(\w+)"', (ROOT / "trading/opening/joint.py").read_text())
    return {
        "session.open.{}": [f"session.open.{k.value}" for k in SessionKind],
        "ceremony.{}": [f"ceremony.{s.value}" for s in Stage],
        "draw.{}": [f"draw.{s.value}" for s in MemberState],
        "guarantee.claim_{}": sorted({f"guarantee.claim_{to.value}" for moves in CLAIM_MOVES.values() for to in moves}),
        "opening.joint_{}": [f"opening.joint_{a}" for a in joint],
        "credit.proposal_{}": [f"credit.proposal_{s.value}" for s in ProposalState if s is not ProposalState.PROPOSED],
    }


def modules() -> Iterable[tuple[pathlib.Path, ast.Module]]:
    """Every module of the platform but the label table itself (whose keys would vouch for themselves)."""
    table = ROOT / "trading/audit/labels.py"
    for path in sorted((ROOT / "trading").rglob("*.py")):
        if path != table:
            yield path, ast.parse(path.read_text(), str(path))


def written_codes() -> tuple[set[str], set[str]]:
    """(constants shaped like an action, f-string shapes) in a namespace the table knows."""
    known = set(namespaces())
    constants: set[str] = set()
    shapes: set[str] = set()
    for _, tree in modules():
        skip: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                skip.update(id(v) for v in node.values)
                shape = "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)
                if re.match(r"^[a-z_]+\.[a-z_.{}]*$", shape) and shape.split(".", 1)[0] in known:
                    shapes.add(shape)
            elif isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                if name in NOT_ACTIONS:
                    skip.update(id(a) for a in node.args)
                skip.update(id(k.value) for k in node.keywords if k.arg == "endpoint")
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                text = node.value
                if ACTION.match(text) and text.split(".", 1)[0] in known and not text.endswith(".id"):
                    constants.add(text)
    return constants, shapes


def test_every_action_written_in_the_source_has_a_label() -> None:
    constants, shapes = written_codes()
    assert len(constants) > 80  # the scan sees the platform's actions
    blueprints = {
        "evaluation.draws_page",
        "evaluation.expert_page",
        "opening.hall",
        "opening.room",
        "exchange.list_page",
    }
    missing = sorted(c for c in constants - blueprints if c not in ACTION_LABELS)
    assert missing == [], f"audit actions without a label in trading/audit/labels.py: {missing}"
    table = expansions()
    unknown = sorted(shapes - set(table))
    assert unknown == [], f"an f-string makes audit actions: add its expansion to this test: {unknown}"
    made = sorted(code for shape in shapes for code in table[shape] if code not in ACTION_LABELS)
    assert made == [], f"audit actions made from an enum without a label: {made}"


def test_labels_are_chinese_and_distinct() -> None:
    for code, label in ACTION_LABELS.items():
        assert ACTION.match(code), code
        assert not re.search(r"[A-Za-z]", label), (code, label)
    assert len(set(ACTION_LABELS.values())) == len(ACTION_LABELS)
    assert not any(re.search(r"[A-Za-z]", label) for label in OBJECT_LABELS.values())
    assert action_label("announcement.publish") == "发布公告"
    assert action_label("session.open.web") == "网页登录"
    assert action_label("no.such") == "no.such"


def test_every_namespace_has_a_label() -> None:
    from trading.audit.labels import NAMESPACE_LABELS

    assert set(namespaces()) <= set(NAMESPACE_LABELS)
    assert not any(re.search(r"[A-Za-z]", label) for label in NAMESPACE_LABELS.values())
