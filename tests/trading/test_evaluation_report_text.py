"""What the evaluation's PDFs say about people and firms: two bidders of one name stay two rows of
the signed report (told apart by credit code), and an expert's name with a middle dot or a lone
surrogate still watermarks the bid copies."""

from __future__ import annotations

import datetime as dt
import io
import re

from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy.orm import Session

from archive import clock
from tests.trading.opening.test_ceremony import open_tender
from tests.trading.test_draw import run_opening
from tests.trading.test_evaluation import evaluate_to_report
from trading.core import pdf
from trading.evaluation import charts, watermark

SAME = "福建省同名建设工程有限公司"


def _text(data: bytes) -> str:
    return re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages))


def test_two_bidders_of_one_name_are_two_rows_of_the_signed_report(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    t = open_tender(client, session, app, 3)
    run_opening(client, app, t)
    orgs = [b.user.organisation for b in t["bidders"]]
    for org in orgs[:2]:
        org.name = SAME  # only the credit code is unique
    session.commit()
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)):
        got = evaluate_to_report(client, session, app, t)
        data = client.get(f"{got['url']}/report.pdf", headers=got["staff"]).data
    report = got["report"]
    assert len({s["bidder_id"] for s in report["scores"]}) == 3
    rows = charts.rows(charts.report_marks(report))
    assert len(rows) == 3 and all(len(r.totals) == 5 for r in rows)  # five members scored each
    assert sorted(r.label for r in rows if r.name == SAME) == sorted(f"{SAME}（{o.credit_code}）" for o in orgs[:2])
    text = _text(data)
    for org in orgs[:2]:
        # the ranking, the compliance and the score tables each name it with its code
        assert text.count(f"{SAME}（{org.credit_code}）") >= 3, org.credit_code
    assert f"{orgs[2].name}（" not in text  # a name of its own needs no code


def test_a_watermark_with_a_middle_dot_or_a_lone_surrogate_is_still_stamped() -> None:
    """A lone surrogate made the stamp fail, and the copy went out unstamped; a middle dot printed
    a gap. The stamp's text goes through ``pdf.plain_text`` like every other PDF text."""
    body, _ = pdf.styles()
    original = pdf.build("t", 15, [pdf.para("正文", body)])
    stamped = watermark.stamp_pdf(original, "评标专用 专家 买买提·艾力\ud800（7）")
    assert stamped != original
    assert "买买提・艾力\ufffd（7）" in _text(stamped)
