"""The one way our PDFs put text on a page: every string is plain text, never markup.

reportlab's ``Paragraph`` parses its text as markup (``<b>``, ``<font name=…>``, ``<para>``,
entities): a bidder's objection ``请核对 <b>唱标结果`` made the final opening record fail to build,
and a well-formed tag would silently change what the record shows. So the builders never call
``Paragraph`` themselves (``tests/trading/test_hostile_text.py`` fails if one does): they hand
plain strings to ``para`` and ``table`` here, which escape them and keep line breaks.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Table, TableStyle

FONT = "STSong-Light"  # reportlab's built-in CJK font: nothing to install
#: Lone surrogates cannot be encoded at all (a JSON body may carry one as an escape).
_SURROGATE = re.compile("[\ud800-\udfff]")
#: Dots the font's Unicode map (UniGB-UCS2-H) lacks, drawn as the GB 2312 middle dot it has: a tender
#: title such as "（演示·已开标）" otherwise prints a gap where the dot was.
_DOTS = str.maketrans({"\u00b7": "\u30fb", "\u2022": "\u30fb", "\u2027": "\u30fb"})


def font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def plain_text(text: object) -> str:
    """``text`` as the CJK font can draw it: lone surrogates as U+FFFD, middle dots as the one the
    font has. Every string put in a PDF goes through here, in paragraphs (``markup``) and in
    drawings (``trading.evaluation.charts``) alike."""
    return _SURROGATE.sub("\ufffd", "" if text is None else str(text)).translate(_DOTS)


def markup(text: object) -> str:
    """``text`` as Paragraph markup that shows exactly ``text``: XML-escaped, line breaks kept."""
    lines = plain_text(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "<br/>".join(escape(line) for line in lines)


def styles() -> tuple[ParagraphStyle, ParagraphStyle]:
    """(body, title): 9 pt CJK body text wrapped anywhere, and a centred 16 pt title."""
    body = ParagraphStyle("body", fontName=font(), fontSize=9, leading=13, wordWrap="CJK")
    return body, ParagraphStyle("title", parent=body, fontSize=16, leading=22, alignment=1)


def para(text: object, style: ParagraphStyle) -> Paragraph:
    """A paragraph showing the plain ``text`` (anything a user typed may be in it)."""
    return Paragraph(markup(text), style)


def table(rows: Sequence[Sequence[object]], style: ParagraphStyle, widths_mm: Sequence[float]) -> Table:
    """A grid of plain-text cells, the first row repeated on each page. A row may split across
    pages: a cell longer than a page (a long reason, say) would otherwise stop the whole build."""
    cells = [[para(c, style) for c in r] for r in rows]
    t = Table(cells, colWidths=[w * mm for w in widths_mm], repeatRows=1, splitInRow=1)
    t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return t


def build(title: str, margin_mm: float, story: list[Flowable]) -> bytes:
    """The A4 document of ``story``; ``title`` goes into its metadata as plain text."""
    out = io.BytesIO()
    margin = margin_mm * mm
    SimpleDocTemplate(out, pagesize=A4, leftMargin=margin, rightMargin=margin, title=title).build(story)
    return out.getvalue()
