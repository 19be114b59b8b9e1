"""The credit list format (信用名单导入格式), CSV or JSON, read into entries: plain functions over
bytes, no database.

CSV: UTF-8 (a byte-order mark is allowed), a header row with exactly the names in ``COLUMNS`` (in
any order), one entry per row. JSON: ``{"format": "ggzy-credit-list/1", "entries": [{...}, ...]}``,
each entry an object with the same names (strings; ``null`` for an empty one). Every row is checked
whole and every problem named by row, field and reason, so a list's keeper can correct the file in
one pass; the import itself (``trading.credit.imports``) writes nothing unless every row is good.
Row numbers: in a CSV the header is row 1 and the first entry row 2 (as a spreadsheet numbers
them); in JSON the first entry is row 1. Row 0 is the file as a whole. docs/formats.md documents
the format with a sample of each.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from trading.accounts.credit_code import credit_code_problem, normalise
from trading.core.schemas import BLOCK_REFUSED, LINE_REFUSED, one_line, text_block
from trading.credit import rules
from trading.credit.entries import NewEntry
from trading.credit.models import CreditList, Measure, SubjectKind

E = TypeVar("E", SubjectKind, CreditList, Measure)
FORMAT = "ggzy-credit-list/1"
COLUMNS = (
    "subject_kind",
    "subject_id",
    "subject_name",
    "list",
    "measure",
    "region",
    "category",
    "starts_on",
    "ends_on",
    "authority",
    "document_no",
    "facts",
    "source_ref",
)
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
#: the longest each text may be (the columns' own sizes; ``facts`` is bounded by the format)
LONGEST = {"subject_name": 200, "authority": 200, "document_no": 100, "facts": 2000, "source_ref": 100}
#: lists a file or a push may bring: the platform's own entries come only from confirmed proposals
IMPORTABLE = tuple(k for k in CreditList if k is not CreditList.PLATFORM)
#: what a row's field is called on a page
TITLES = {
    "subject_kind": "主体类型",
    "subject_id": "主体代码",
    "subject_name": "主体名称",
    "list": "名单",
    "measure": "惩戒措施",
    "region": "地区",
    "category": "交易类别",
    "starts_on": "开始日期",
    "ends_on": "结束日期",
    "authority": "决定机关",
    "document_no": "决定文书号",
    "facts": "失信行为",
    "source_ref": "名单记录编号",
    "file": "文件",
    "format": "格式标识",
    "entries": "记录",
}


@dataclass(frozen=True)
class RowProblem:
    row: int
    field: str
    message: str

    def as_json(self) -> dict[str, object]:
        return {"row": self.row, "field": self.field, "message": self.message}


@dataclass
class Parsed:
    """The good rows (with their numbers) and every problem found; ``duplicates`` counts rows that
    repeat an earlier row of the same file word for word (they add nothing)."""

    rows: list[tuple[int, NewEntry]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    duplicates: int = 0
    total: int = 0


# ---------------------------------------------------------------- one row
def _text(raw: Mapping[str, object], name: str, row: int, problems: list[RowProblem]) -> str:
    value = raw.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.append(RowProblem(row, name, "应为文字"))
        return ""
    value = value.strip()
    try:
        value = text_block(value) if name == "facts" else one_line(value)
    except ValueError:
        problems.append(RowProblem(row, name, BLOCK_REFUSED if name == "facts" else LINE_REFUSED))
        return ""
    if "\x00" in value:
        problems.append(RowProblem(row, name, "不能包含空字符"))
        return ""
    longest = LONGEST.get(name)
    if longest is not None and len(value) > longest:
        problems.append(RowProblem(row, name, f"不能超过 {longest} 个字符"))
        return ""
    return value


def _choice(value: str, allowed: tuple[E, ...], name: str, row: int, problems: list[RowProblem]) -> E | None:
    found = next((m for m in allowed if m.value == value), None)
    if found is None:
        choices = "、".join(f"{m.value}（{m.label}）" for m in allowed)
        problems.append(RowProblem(row, name, f"应为以下之一：{choices}" if value else "必填"))
    return found


def _date(value: str, name: str, row: int, problems: list[RowProblem]) -> dt.date | None:
    if not value:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        problems.append(RowProblem(row, name, "日期格式不正确，例如 2026-12-20"))
        return None


def _required(values: Mapping[str, str], row: int, problems: list[RowProblem], *names: str) -> None:
    named = {p.field for p in problems if p.row == row}
    problems.extend(RowProblem(row, n, "必填") for n in names if not values[n] and n not in named)


def check_row(row: int, raw: Mapping[str, object]) -> tuple[NewEntry | None, list[RowProblem]]:
    """One row as an entry, or every problem it has."""
    problems: list[RowProblem] = []
    values = {name: _text(raw, name, row, problems) for name in COLUMNS}
    _required(values, row, problems, "subject_id", "subject_name", "authority", "document_no", "source_ref")
    _required(values, row, problems, "region", "starts_on")
    kind = _choice(values["subject_kind"], tuple(SubjectKind), "subject_kind", row, problems)
    list_kind = _choice(values["list"], IMPORTABLE, "list", row, problems)
    measures = tuple(m for m in Measure if kind is None or m in rules.measures_for(kind))
    measure = _choice(values["measure"], measures, "measure", row, problems)
    subject_id = values["subject_id"]
    if kind is SubjectKind.ORGANISATION and subject_id:
        subject_id = normalise(subject_id)
        problem = credit_code_problem(subject_id)
        if problem is not None:
            problems.append(RowProblem(row, "subject_id", problem))
    elif kind is SubjectKind.EXPERT and subject_id and not rules.EXPERT_NUMBER.match(subject_id):
        problems.append(RowProblem(row, "subject_id", "评标专家应以平台专家编号（1–18 位数字）表示"))
    region = values["region"]
    if region and not rules.REGION_CODE.match(region):
        problems.append(RowProblem(row, "region", "应为 6 位行政区划代码（全国为 000000）"))
    category = values["category"] or None
    if category is not None and category not in rules.CATEGORIES:
        problems.append(RowProblem(row, "category", f"应为空（全部类别）或以下之一：{'、'.join(rules.CATEGORIES)}"))
    starts_on = _date(values["starts_on"], "starts_on", row, problems)
    ends_on = _date(values["ends_on"], "ends_on", row, problems)
    if starts_on is not None:
        period = rules.period_error(starts_on, ends_on)
        if period is not None:
            problems.append(RowProblem(row, "ends_on", period))
    if problems or kind is None or list_kind is None or measure is None or starts_on is None:
        return None, problems
    return (
        NewEntry(
            subject_kind=kind,
            subject_id=subject_id,
            subject_name=values["subject_name"],
            list_kind=list_kind,
            measure=measure,
            region=region,
            category=category,
            starts_on=starts_on,
            ends_on=ends_on,
            authority=values["authority"],
            document_no=values["document_no"],
            facts=values["facts"],
            source=list_kind.value,
            source_ref=values["source_ref"],
        ),
        [],
    )


# ---------------------------------------------------------------- whole files
def _file_problem(message: str, name: str = "file") -> Parsed:
    return Parsed(problems=[RowProblem(0, name, message)])


def _decoded(data: bytes) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def _rows(records: list[tuple[int, Mapping[str, object]]]) -> Parsed:
    out = Parsed(total=len(records))
    seen: dict[tuple[str, str], tuple[int, NewEntry]] = {}
    for row, raw in records:
        entry, problems = check_row(row, raw)
        out.problems.extend(problems)
        if entry is None:
            continue
        key = (entry.source, entry.source_ref)
        earlier = seen.get(key)
        if earlier is None:
            seen[key] = (row, entry)
            out.rows.append((row, entry))
        elif earlier[1] == entry:
            out.duplicates += 1
        else:
            message = f"与第 {earlier[0]} 行的名单记录编号相同但内容不同"
            out.problems.append(RowProblem(row, "source_ref", message))
    return out


def parse_csv(data: bytes) -> Parsed:
    text = _decoded(data)
    if text is None:
        return _file_problem("文件应为 UTF-8 编码的 CSV")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            return _file_problem("文件是空的")
        names = [h.strip() for h in header]
        missing = [c for c in COLUMNS if c not in names]
        extra = [h for h in names if h not in COLUMNS]
        if missing or extra or len(set(names)) != len(names):
            told = "；".join(
                part
                for part in (
                    f"缺少列：{'、'.join(missing)}" if missing else "",
                    f"多余或重复的列：{'、'.join(extra) or '重复'}" if extra or len(set(names)) != len(names) else "",
                )
                if part
            )
            return _file_problem(f"表头应为 {','.join(COLUMNS)}（{told}）", "header")
        records: list[tuple[int, Mapping[str, object]]] = []
        problems: list[RowProblem] = []
        count = 0
        for row, cells in enumerate(reader, start=2):  # a record with a quoted line break is still one row
            if not any(c.strip() for c in cells):
                continue
            count += 1
            if count > MAX_ROWS:
                return _file_problem(f"记录不能超过 {MAX_ROWS} 条：请分成几个文件导入")
            if len(cells) != len(names):
                problems.append(RowProblem(row, "row", f"应有 {len(names)} 列，本行 {len(cells)} 列"))
                continue
            records.append((row, dict(zip(names, cells, strict=True))))
    except csv.Error as exc:
        return _file_problem(f"CSV 格式错误：{exc}")
    if not records and not problems:
        return _file_problem("文件中没有记录")
    return _merged(_rows(records) if records else Parsed(), problems, count)


def _merged(out: Parsed, problems: list[RowProblem], total: int) -> Parsed:
    """The rows' own problems with those found while reading them, in row order."""
    if out.problems and out.problems[0].row == 0:
        return out
    out.problems = sorted([*problems, *out.problems], key=lambda p: p.row)
    out.total = total
    return out


def parse_json(data: bytes) -> Parsed:
    text = _decoded(data)
    if text is None:
        return _file_problem("文件应为 UTF-8 编码的 JSON")
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        return _file_problem("不是有效的 JSON")
    if not isinstance(body, dict):
        return _file_problem(f'应为 JSON 对象 {{"format": "{FORMAT}", "entries": [...]}}')
    unknown = sorted(k for k in body if k not in ("format", "entries"))
    if unknown:
        return _file_problem(f"不认识的字段：{'、'.join(unknown)}")
    if body.get("format") != FORMAT:
        return _file_problem(f"格式标识应为 {FORMAT}", "format")
    entries = body.get("entries")
    if not isinstance(entries, list):
        return _file_problem("entries 应为记录的数组", "entries")
    if not entries:
        return _file_problem("没有记录", "entries")
    if len(entries) > MAX_ROWS:
        return _file_problem(f"记录不能超过 {MAX_ROWS} 条（本次 {len(entries)} 条）：请分成几次导入", "entries")
    records: list[tuple[int, Mapping[str, object]]] = []
    problems: list[RowProblem] = []
    for i, item in enumerate(entries, start=1):
        if not isinstance(item, dict):
            problems.append(RowProblem(i, "row", "每条记录应为 JSON 对象"))
            continue
        problems.extend(RowProblem(i, str(k)[:40], "不是可填写的字段") for k in sorted(item) if k not in COLUMNS)
        records.append((i, item))
    return _merged(_rows(records) if records else Parsed(), problems, len(entries))


def is_json(name: str, data: bytes) -> bool:
    """A ``.json`` file, or (any other name) content that starts as a JSON object does."""
    lowered = name.lower()
    if lowered.endswith(".json"):
        return True
    if lowered.endswith(".csv"):
        return False
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def parse_file(name: str, data: bytes) -> Parsed:
    """A list file (CSV or JSON by its extension, else by its content), bounded in size and rows."""
    if len(data) > MAX_BYTES:
        return _file_problem(f"文件不能超过 {MAX_BYTES // (1024 * 1024)} MiB（本文件 {len(data)} 字节）")
    if not data.strip():
        return _file_problem("文件是空的")
    return parse_json(data) if is_json(name, data) else parse_csv(data)
