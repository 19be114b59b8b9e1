"""Every answer is sent with the headers that stop framing, sniffing and foreign scripts, and the
templates hold no script the Content-Security-Policy would block (the browser tests run them)."""

from __future__ import annotations

import dataclasses
import pathlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import REPO


def directives(csp: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


@pytest.mark.parametrize("path", ["/", "/login", "/static/style.css", "/api/v1/me", "/no-such-page", "/healthz"])
def test_every_answer_carries_the_headers(client: FlaskClient, app: Flask, path: str) -> None:
    r = client.get(path)
    r.close()
    app.extensions["ggzy.db"].engine.dispose()  # /healthz's probe connection: the fixture's requests use another
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"
    csp = directives(r.headers["Content-Security-Policy"])
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert csp["style-src"] == ["'self'"] and csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert "Strict-Transport-Security" not in r.headers  # not outside production: it would pin test hosts


@pytest.fixture
def app_with(db_url: str, settings_for: Any) -> Iterator[Any]:
    from trading.app import create_app

    made: list[Flask] = []

    def make(**over: Any) -> Flask:
        app = create_app(dataclasses.replace(settings_for(db_url), **over))
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["ggzy.db"].engine.dispose()


def test_production_asks_for_https_only(app_with: Any) -> None:
    r = app_with(env="production").test_client().get("/login")
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000"
    # the form's session cookie goes back over HTTPS only: a login over http:// keeps no session
    assert "Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]


def test_the_live_rooms_server_may_be_reached(app_with: Any) -> None:
    """``ggzy serve`` runs the live room's server on the next port (LIVE_URL ``:PORT``); room.js opens
    its EventSource at this host on that port, which connect-src must allow."""
    client = app_with(live_url=":5001").test_client()
    csp = directives(client.get("/login", base_url="http://jy.example.gov.cn:5000").headers["Content-Security-Policy"])
    assert csp["connect-src"] == ["'self'", "http://jy.example.gov.cn:5001"]
    csp = directives(client.get("/login", base_url="https://[2001:db8::1]:8443").headers["Content-Security-Policy"])
    assert csp["connect-src"] == ["'self'", "https://[2001:db8::1]:5001"]
    client = app_with(live_url="https://live.example.gov.cn/base").test_client()
    csp = directives(client.get("/login").headers["Content-Security-Policy"])
    assert csp["connect-src"] == ["'self'", "https://live.example.gov.cn"]


def test_a_page_with_an_inline_script_names_its_nonce(client: FlaskClient, app: Flask) -> None:
    """Inline scripts run only with this response's nonce; a page without one allows none."""
    with app.test_request_context("/"):
        from flask import render_template_string

        from trading.accounts import web

        html = render_template_string('<script nonce="{{ csp_nonce() }}">1</script>')
        nonce = re.search(r'nonce="([^"]+)"', html)
        assert nonce is not None
        assert f"'nonce-{nonce.group(1)}'" in web.content_security_policy(app.extensions["ggzy.settings"])
    assert "nonce-" not in client.get("/login").headers["Content-Security-Policy"]


TEMPLATES = sorted((REPO / "trading").rglob("templates/**/*.html"))  # the shared ones and every stage's


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(REPO)))
def test_templates_hold_nothing_the_policy_blocks(template: pathlib.Path) -> None:
    html = template.read_text(encoding="utf-8")
    for tag in re.findall(r"<script\b[^>]*>", html):
        # a JSON data block is not run, so the policy has nothing to refuse in it
        assert "src=" in tag or 'nonce="{{ csp_nonce() }}"' in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"<[a-z][^>]*\son[a-z]+\s*=", html, re.I), "inline event handler"
    assert not re.search(r"<[a-z][^>]*\sstyle\s*=", html, re.I) and "<style" not in html, "inline style"
    assert "javascript:" not in html
