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
