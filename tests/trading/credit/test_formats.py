"""The list format read without a database: BOM, header, bounds, types, repeated rows."""

from __future__ import annotations

from tests.trading.credit.samples import as_csv, as_json, row
from trading.credit import formats


def test_bom_and_quoted_line_breaks_are_read() -> None:
    parsed = formats.parse_file("x.csv", as_csv([row(facts="第一行\n第二行"), row()], bom=True))
    assert parsed.problems == [] and len(parsed.rows) == 2 and parsed.rows[0][1].facts == "第一行\n第二行"


def test_a_row_repeated_word_for_word_adds_nothing_and_a_changed_one_is_named() -> None:
    same = row()
    parsed = formats.parse_file("x.json", as_json([same, same, {**same, "ends_on": "2030-01-01"}]))
    assert parsed.duplicates == 1 and [(p.row, p.field) for p in parsed.problems] == [(3, "source_ref")]


def test_bounds_and_shapes() -> None:
    assert formats.parse_file("x.csv", b"x" * (formats.MAX_BYTES + 1)).problems[0].row == 0
    too_many = as_csv([row(source_ref=f"R{i}") for i in range(formats.MAX_ROWS + 1)])
    assert "20000" in formats.parse_file("x.csv", too_many).problems[0].message
    assert formats.parse_file("x.csv", b"subject_kind\n").problems[0].field == "header"
    assert formats.parse_file("x", b'{"format": "ggzy-credit-list/1", "entries": [1]}').problems[0].field == "row"
    typed = formats.parse_file("x.json", as_json([{**row(), "region": 350100, "facts": "x" * 2001}]))
    assert {(p.field, p.message) for p in typed.problems} >= {("region", "应为文字"), ("facts", "不能超过 2000 个字符")}
    assert formats.parse_file("x.csv", as_csv([row()])[:-2] + b',"extra"\r\n').problems[0].field == "row"
    expert = formats.parse_file("x.csv", as_csv([row(subject_kind="expert", subject_id="12a", measure="bar_bidding")]))
    assert {p.field for p in expert.problems} == {"subject_id", "measure"}


def test_a_lone_surrogate_is_named_not_stored() -> None:
    """JSON's ``\\ud800`` is no character: stored, it would fail the database write with a 500."""
    lone = b'{"format": "ggzy-credit-list/1", "entries": [' + as_json([row()]).split(b"[", 1)[1]
    lone = lone.replace(b'"facts": "', b'"facts": "x\\ud800y', 1)
    parsed = formats.parse_file("x.json", lone)
    assert [(p.row, p.field) for p in parsed.problems] == [(1, "facts")] and parsed.rows == []
