"""A tender's text reaches bidders' terminals (ggzy-bid), logs, CSV and PDF: a title carrying ESC,
BEL, a bidi override or U+2028 is refused with a 422 naming the field, and nothing is stored. Text of
several lines (a description, a question, an answer) keeps its line breaks and tabs, nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import api_token, lot_body, make_user, tender_body
from trading.accounts.models import Role
from trading.core.errors import InvalidInput
from trading.core.schemas import checked_text, parse
from trading.tenders.models import Tender
from trading.tenders.schemas import AmendmentIn, AnswerIn, QuestionIn, TenderIn

HOSTILE = "照明工程\x1b]0;pwned\x07\x1b[2J\u2028X"


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"title": HOSTILE}, "title"),
        ({"title": "照明工程\u202e二标段"}, "title"),
        ({"title": "照明工程\t二标段"}, "title"),
        ({"lots": [lot_body(name="一标段\x9b2J")]}, "lots.0.name"),
        ({"description": "概况\x1b[2J清屏"}, "description"),
        ({"announcement_body": "本项目已批准建设，现公开招标。\u2066伪造\u2069"}, "announcement_body"),
    ],
)
def test_a_tender_with_control_characters_is_refused_by_field(
    client: FlaskClient, session: Session, app: Flask, over: dict[str, Any], field: str
) -> None:
    tenderee = make_user(session, Role.TENDEREE)
    session.commit()
    before = session.scalar(select(func.count()).select_from(Tender))
    r = client.post("/api/v1/tenders", json=tender_body(**over), headers=api_token(client, tenderee.username))
    assert r.status_code == 422, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == "invalid_input" and "控制字符" in error["fields"][field], error
    assert session.scalar(select(func.count()).select_from(Tender)) == before  # nothing stored


def test_several_lines_keep_their_breaks_and_tabs_and_nothing_else() -> None:
    text = "第一条：工期 365 日历天。\r\n第二条：\t质量合格。\n"
    assert parse(TenderIn, tender_body(description=text)).description == text.strip()
    assert parse(QuestionIn, {"text": text}).text == text.strip()
    assert parse(AnswerIn, {"answer": "照明工程　一标段：可以。"}).answer == "照明工程　一标段：可以。"
    amendment = {"title": "澄清公告（第1号）", "body": text, "affects_bids": False}
    assert parse(AmendmentIn, amendment).body == text.strip()
    for model, data, field in (
        (QuestionIn, {"text": "问题：\x1b]0;pwned\x07？"}, "text"),
        (AnswerIn, {"answer": "答复\u2028伪造一行"}, "answer"),
        (AmendmentIn, {**amendment, "title": "澄清公告\n第二行"}, "title"),
        (AmendmentIn, {**amendment, "body": "正文十个字以上……\u202e"}, "body"),
    ):
        with pytest.raises(InvalidInput) as refused:
            parse(model, data)
        assert field in refused.value.fields and "控制字符" in refused.value.fields[field], refused.value.fields


def test_text_from_outside_a_schema_is_checked_alike() -> None:
    """For a page's form field (a reason, a question asked on the page): the same rule, named."""
    assert checked_text("理由：\r\n\t第一条", "reason") == "理由：\r\n\t第一条"
    for text, lines in (("理由\x1b[2J", True), ("标题\n第二行", False), ("\u202e理由", True)):
        with pytest.raises(InvalidInput) as refused:
            checked_text(text, "reason", lines=lines)
        assert refused.value.code == "control_character" and "reason" in refused.value.fields
