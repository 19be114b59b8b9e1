"""The experts' score chart (``trading.evaluation.charts``): the rule (one row per bidder in order,
each expert's total, the average as the report ranks it, the scale), the names escaped in the
SVG and kept as plain text in the PDF drawing, and the room's and report's marks."""

from __future__ import annotations

import io
import re
from decimal import Decimal

from pypdf import PdfReader
from reportlab.graphics.shapes import Group, String

from trading.core import pdf
from trading.evaluation import charts, scoring
from trading.evaluation.charts import Mark

D = Decimal
HOSTILE = "<script>乙</script>&amp;'\""


def marks() -> list[Mark]:
    """Three bidders, five experts; the second bidder's totals are 41–45."""
    out = []
    for b, name in enumerate(("甲建设", HOSTILE, "丙市政")):
        for e in range(5):
            out.append(Mark(str(b), name, str(e), f"专家{e}", D(50 - 5 * b + e)))
    return out


def test_one_row_per_bidder_in_order_with_the_mean_the_report_ranks_by() -> None:
    rows = charts.rows(marks())
    assert [r.name for r in rows] == ["甲建设", HOSTILE, "丙市政"]
    assert [r.mean for r in rows] == [D("52.00"), D("47.00"), D("42.00")]
    # the same rounding as the factor score (mean of the totals, two places, half up)
    sheets = [scoring.Sheet(e, 1, {"f": D(v)}, D(v)) for e, v in enumerate(("10", "10", "10.01"))]
    uneven = [Mark("1", "x", str(s.expert), "e", scoring.factor_total(s)) for s in sheets]
    assert charts.rows(uneven)[0].mean == scoring.mean_factor_totals(sheets)[1] == D("10.00")
    # an expert who scored one bidder only counts there only
    partial = [*marks()[:5], Mark("9", "丁", "0", "专家0", D(80))]
    assert charts.rows(partial)[1].totals == {"0": D(80)} and charts.rows(partial)[1].mean == D(80)


def test_the_scale_is_whole_tens_around_the_totals_within_0_to_100() -> None:
    assert charts.scale([D(41), D(54)]) == (40, 60, 5)
    assert charts.scale([D("0.5"), D(100)]) == (0, 100, 10)
    assert charts.scale([D(100)]) == (90, 100, 5)
    assert charts.scale([D(0)]) == (0, 10, 5)


def test_each_sheet_is_a_dot_and_each_mean_a_bar() -> None:
    fig = charts.layout(marks())
    assert fig is not None
    dots = [s for s in fig.shapes if isinstance(s, charts.Dot) and "分" in s.title]
    assert len(dots) == 15
    means = [s for s in fig.shapes if isinstance(s, charts.Stroke) and s.colour == charts.MEAN_COLOUR and s.width > 2]
    assert len(means) == 3 + 1  # one a bidder, one in the legend
    # a higher total is further right, and each expert keeps its colour in every row
    first_row = [d for d in dots if "甲建设" in d.title]
    assert [d.x for d in first_row] == sorted(d.x for d in first_row)
    assert {d.colour for d in dots if d.title.startswith("专家3")} == {charts.PALETTE[3]}
    assert charts.layout([]) is None and charts.svg(None) == ""


def test_names_are_escaped_in_the_svg() -> None:
    svg = str(charts.svg(charts.layout(marks())))
    assert "<script>" not in svg and "</script>" not in svg
    assert "&lt;script&gt;" in svg and "&amp;amp;" in svg
    # every text node is escaped: nothing but our own elements
    assert set(re.findall(r"<([a-z]+)", svg)) <= {"svg", "title", "desc", "text", "line", "circle"}
    # a long name is cut to fit, the full name kept in the dot's title
    long = [Mark("1", "很长的名字" * 12, "1", "专家", D(50))]
    texts = [s.text for s in charts.layout(long).shapes if isinstance(s, charts.Text)]  # type: ignore[union-attr]
    assert any(t.endswith("…") for t in texts)
    assert "很长的名字" * 12 in str(charts.svg(charts.layout(long)))


def test_the_pdf_drawing_shows_the_names_as_plain_text() -> None:
    fig = charts.layout(marks())
    assert fig is not None
    d = charts.drawing(fig, 300)
    group = d.contents[0]
    assert isinstance(group, Group)
    strings = [s.text for s in group.contents if isinstance(s, String)]
    assert HOSTILE in strings
    body, _ = pdf.styles()
    data = pdf.build("t", 15, [d, pdf.para("后", body)])
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert "甲建设" in text and "平均" in text


def test_room_and_report_marks() -> None:
    """The room's sheets (factor sums, not the declared totals) in the room's order; the report's
    bidders in ranking order, experts by committee name."""
    state = {
        "seats": [{"expert": 7, "name": "王"}, {"expert": 3, "name": "李"}],
        "bidders": [{"id": 2, "name": "乙"}, {"id": 1, "name": "甲"}],
        "sheets": [
            {"expert": 3, "bidder": 1, "scores": {}, "total": "50", "factor_total": "49.00"},
            {"expert": 7, "bidder": 1, "scores": {}, "total": "40", "factor_total": "40.00"},
            {"expert": 3, "bidder": 2, "scores": {}, "total": "30", "factor_total": "30.00"},
        ],
    }
    got = charts.room_marks(state)
    assert [(m.bidder, m.expert, m.total) for m in got] == [
        ("乙", "李", D(30)),
        ("甲", "王", D(40)),
        ("甲", "李", D(49)),
    ]
    report = {
        "committee": [{"expert": 3, "name": "李"}, {"expert": 7, "name": "王"}],
        "ranking": [{"bidder": "甲"}, {"bidder": "乙"}],
        "scores": [
            {"expert": 7, "bidder": "乙", "total": "30.00"},
            {"expert": 3, "bidder": "甲", "total": "50.00"},
        ],
    }
    assert [(m.bidder, m.expert) for m in charts.report_marks(report)] == [("甲", "李"), ("乙", "王")]


def test_two_bidders_of_one_name_stay_two_rows_told_apart_by_credit_code() -> None:
    """Organisation names are not unique (credit codes are): the report's marks are keyed by the
    bidder's id, and a shared name shows each credit code, kept whole when the name is cut."""
    same = "福建省同名建设工程集团有限公司"
    report = {
        "committee": [{"expert": 3, "name": "李"}, {"expert": 7, "name": "王"}],
        "compliance": [
            {"bidder_id": 11, "bidder": same, "credit_code": "91350100000000011A"},
            {"bidder_id": 12, "bidder": same, "credit_code": "91350100000000012B"},
            {"bidder_id": 13, "bidder": "丙", "credit_code": "91350100000000013C"},
        ],
        "ranking": [
            {"bidder_id": 12, "bidder": same, "credit_code": "91350100000000012B"},
            {"bidder_id": 11, "bidder": same, "credit_code": "91350100000000011A"},
            {"bidder_id": 13, "bidder": "丙", "credit_code": "91350100000000013C"},
        ],
        "scores": [
            {"expert": e, "bidder_id": b, "bidder": same if b < 13 else "丙", "total": f"{40 + b + e}.00"}
            for b in (11, 12, 13)
            for e in (3, 7)
        ],
    }
    rows = charts.rows(charts.report_marks(report))
    assert [(r.key, r.label, len(r.totals)) for r in rows] == [
        ("12", f"{same}（91350100000000012B）", 2),
        ("11", f"{same}（91350100000000011A）", 2),
        ("13", "丙", 2),
    ]
    fig = charts.layout(charts.report_marks(report))
    assert fig is not None
    shown = [s.text for s in fig.shapes if isinstance(s, charts.Text)]
    assert any(t.endswith("（91350100000000012B）") for t in shown)  # the code survives the cut
    assert any(t.endswith("（91350100000000011A）") for t in shown)
    assert charts.notes([("1", "甲", None), ("2", "甲", None)]) == {"1": "编号 1", "2": "编号 2"}
    # a report signed before entries carried ids: keyed by name in one list, by id in another
    older = {
        "committee": report["committee"],
        "compliance": [{k: v for k, v in c.items() if k != "bidder_id"} for c in report["compliance"][2:]],
        "ranking": report["ranking"][2:],
        "scores": [{k: v for k, v in s.items() if k != "bidder_id"} for s in report["scores"] if s["bidder"] == "丙"],
    }
    assert [(r.key, r.label) for r in charts.rows(charts.report_marks(older))] == [("丙", "丙")]


def test_every_string_drawn_in_the_pdf_is_cleaned_as_paragraphs_are() -> None:
    """The chart's strings bypass ``Paragraph``: a middle dot (not in the font's map) printed a
    gap and a lone surrogate was kept; they now go through ``pdf.plain_text`` like ``pdf.markup``."""
    name = "买买提·艾力\ud800建设\n公司"
    fig = charts.layout([Mark("1", name, "1", "阿依古丽·吐尔逊", D(50))])
    assert fig is not None
    group = charts.drawing(fig, 300).contents[0]
    assert isinstance(group, Group)
    strings = [s.text for s in group.contents if isinstance(s, String)]
    assert "买买提・艾力\ufffd建设 公司" in strings and "阿依古丽・吐尔逊" in strings
    assert not any("·" in s or "\ud800" in s or "\n" in s for s in strings)
    assert pdf.plain_text(name) in pdf.markup(name).replace("<br/>", "\n")
