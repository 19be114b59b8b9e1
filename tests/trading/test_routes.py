"""Every route declares its permission; the mechanism fails closed; a table over all routes."""

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from trading.accounts.permissions import Permission, endpoint_rule, routes_without_rule
from trading.app import create_app


def test_every_route_has_an_explicit_rule(app: Flask) -> None:
    assert routes_without_rule(app) == []


def test_the_check_can_fail_and_the_app_fails_closed(settings_for, sqlite_url: str) -> None:  # type: ignore[no-untyped-def]
    """Register a route without a rule: the walker reports it and requests to it are refused."""
    from trading.core.db import upgrade

    upgrade(sqlite_url)
    fresh = create_app(settings_for(sqlite_url))

    @fresh.get("/forgotten")
    def forgotten() -> str:
        return "secret"

    assert routes_without_rule(fresh) == ["/forgotten (forgotten)"]
    r = fresh.test_client().get("/forgotten")
    assert r.status_code == 403 and "secret" not in r.get_data(as_text=True)


def _protected(app: Flask) -> list[tuple[str, str, Permission]]:
    out = []
    for rule in app.url_map.iter_rules():
        perm = endpoint_rule(app, rule.endpoint)
        assert perm is not None
        if perm is Permission.PUBLIC:
            continue
        url = re.sub(r"<int:[^>]+>", "1", rule.rule)
        url = re.sub(r"<any\('([^']+)'[^>]*>", r"\1", url)  # an any() converter: its first choice
        url = re.sub(r"<[^>]+>", "x", url)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((method, url, perm))
    return out


def test_anonymous_gets_401_on_api_and_login_redirect_on_pages(app: Flask, client: FlaskClient) -> None:
    routes = _protected(app)
    assert len(routes) >= 15
    for method, url, _ in routes:
        r = client.open(url, method=method, headers={"Accept": "text/html"})
        if url.startswith("/api/"):
            assert r.status_code == 401, (method, url)
        elif method == "GET":
            assert r.status_code == 302 and "/login" in r.headers["Location"], (method, url)
        else:  # a page POST without a session is refused before anything runs (CSRF first, then login)
            assert r.status_code in (302, 400), (method, url, r.status_code)


@pytest.mark.parametrize("perm", list(Permission))
def test_every_permission_is_granted_to_someone_or_public(perm: Permission) -> None:
    from trading.accounts.models import Role
    from trading.accounts.permissions import permissions_of

    if perm is not Permission.PUBLIC:
        assert any(perm in permissions_of([r]) for r in Role)
