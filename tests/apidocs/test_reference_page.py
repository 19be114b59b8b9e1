"""The reference page: every operation with its permission and errors, in Chinese prose."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from flask import Flask

from tests.e2e.page_checks import latin_words

EXEMPT = {"code", "pre", "kbd", "samp", "script", "style", "title"}


class Prose(HTMLParser):
    """The page's text outside code (what the every-page browser test reads as prose)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.depth += tag in EXEMPT

    def handle_endtag(self, tag: str) -> None:
        self.depth -= tag in EXEMPT

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.text.append(data)


def test_the_reference_lists_every_operation_in_chinese(doc_app: Flask, document: dict[str, Any]) -> None:
    r = doc_app.test_client().get("/developers/api")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    for path, item in document["paths"].items():
        for method, op in item.items():
            assert f"{method.upper()} {path}" in html, path
            assert op["operationId"] in html
    assert 'id="error-deadline_passed"' in html and "投标截止时间已过" in html
    assert "tender:tender:manage" in html and "招标代理机构" in html
    prose = Prose()
    prose.feed(html)
    assert latin_words(" ".join(prose.text)) == []
