"""Credit list files for the tests: rows in the import format, as CSV and as JSON."""

from __future__ import annotations

import json
from typing import Any

from tests.factories import valid_code
from trading.credit.formats import COLUMNS, FORMAT


def row(**over: Any) -> dict[str, str]:
    base = {
        "subject_kind": "organisation",
        "subject_id": valid_code(),
        "subject_name": "福州某建设有限公司",
        "list": "dishonest_debtors",
        "measure": "bar_bidding",
        "region": "000000",
        "category": "",
        "starts_on": "2026-01-01",
        "ends_on": "",
        "authority": "福州市中级人民法院",
        "document_no": "（2026）闽01执123号",
        "facts": "有履行能力而拒不履行生效法律文书确定的义务",
        "source_ref": f"SX-{valid_code()[8:17]}",
    }
    return {**base, **over}


def as_csv(rows: list[dict[str, str]], *, bom: bool = False) -> bytes:
    def cell(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\n') else v

    lines = [",".join(COLUMNS)] + [",".join(cell(r[c]) for c in COLUMNS) for r in rows]
    return (("\ufeff" if bom else "") + "\r\n".join(lines) + "\r\n").encode()


def as_json(rows: list[dict[str, Any]]) -> bytes:
    return json.dumps({"format": FORMAT, "entries": rows}, ensure_ascii=False).encode()
