"""The platform's signed statements about one lot that its archive package carries beside the
facts: credit checks (``credit/checks/<id>.json``, ``ggzy-credit-check/1``) and the lot's collusion
signals (``signals/signals.json``). Each must verify against the pinned platform certificate, be in
its canonical form, and name this package's tender (and lot): a changed or foreign one is a finding."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archive.package_findings import (
    CREDIT_CHECK_FOREIGN,
    CREDIT_CHECK_INVALID,
    SIGNALS_FOREIGN,
    SIGNALS_INVALID,
    Report,
    describe,
)
from archive.package_reader import OpenedPackage
from signing.certs import Certificate
from signing.errors import StatementError
from signing.statements import SignedStatement


@dataclass(frozen=True)
class StatementKind:
    label: str  # what the report calls one
    english: str
    invalid: str  # the finding when it does not verify
    foreign: str  # the finding when it is about another tender or lot
    #: the (tender, lot) the body is about; lot None: any lot of the tender
    scope: Callable[[dict[str, Any]], tuple[str, int | None]]
    summary: Callable[[dict[str, Any]], str]


def _credit_scope(body: dict[str, Any]) -> tuple[str, int | None]:
    scope = body["scope"]
    return str(scope["tender"]), (int(scope["lot"]) if body["purpose"] == "evaluation" else None)


PURPOSES = {"registration": "报名时查询", "evaluation": "评标时查询", "draw": "专家抽取时查询"}
RESULTS = {"clean": "未发现信用记录", "found": "有信用提示", "barred": "限制投标"}

#: by the kind its manifest entry names, which is also the statement's type
KINDS: dict[str, StatementKind] = {
    "credit_check": StatementKind(
        "信用查询快照",
        "credit check",
        CREDIT_CHECK_INVALID,
        CREDIT_CHECK_FOREIGN,
        _credit_scope,
        lambda b: (
            f"{PURPOSES.get(b['purpose'], b['purpose'])} {b['subject']['id']}：{RESULTS.get(b['result'], b['result'])}"
        ),
    ),
    "collusion_signals": StatementKind(
        "串标迹象",
        "collusion signals",
        SIGNALS_INVALID,
        SIGNALS_FOREIGN,
        lambda b: (str(b["tender"]), int(b["lot"])),
        lambda b: f"{b['bids']} 份投标，{len(b['signals'])} 条迹象",
    ),
}


def verify_statements(
    pack: OpenedPackage,
    listed: dict[str, dict[str, Any]],
    platform: Certificate,
    report: Report,
    manifest: dict[str, Any],
) -> None:
    """Each listed statement of a kind in ``KINDS``, present in the package, checked and reported."""
    present = set(pack.infos) - pack.duplicates
    for f in listed.values():
        kind = KINDS.get(f["kind"])
        if kind is None or f["path"] not in present:
            continue
        what = f"{kind.label} {f['path']} ({kind.english})"
        try:
            raw = pack.read(f["path"])
            st = SignedStatement.from_json(raw)
            if st.to_json() != raw:
                raise StatementError("签名文件不是规范形式 (signature file not canonical)")
            body = st.verify(trusted=platform, expected_type=f["kind"])["body"]
            tender, lot = kind.scope(body)
            summary = kind.summary(body)
        except Exception as exc:
            report.add(what, False, describe(exc), kind.invalid)
            continue
        if tender != manifest.get("tender") or (lot is not None and lot != manifest.get("lot")):
            report.add(what, False, f"是 {tender} 第 {lot} 标段的，不是本包的", kind.foreign)
            continue
        report.add(what, True, summary)
