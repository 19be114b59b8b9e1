"""Login: a back-off per (user name, client address) instead of a lock-out, the client address from
a trusted proxy only, the UKey path untouched, ``next`` on the login page, and the challenge step
throttled without storing anything for names that do not exist."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from archive import clock
from signing.canonical import canonical_json
from signing.statements import login_challenge_statement
from tests.factories import PASSWORD, csrf_from, make_bidder_with_keys, make_user
from trading.accounts.throttle import backoff_seconds
from trading.accounts.web import same_site_path
from trading.core.db import Base
from trading.pki.login import CHALLENGE_LIFETIME, challenge_key, challenge_statement, issue_challenge
from trading.pki.models import UsedLoginChallenge


def token(client: FlaskClient, username: str, password: str, addr: str, **headers: str) -> Any:
    return client.post(
        "/api/v1/auth/token",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": addr},
        headers=headers,
    )


def test_backoff_grows_and_is_capped() -> None:
    assert [backoff_seconds(n, 5, 900) for n in (0, 4, 5, 6, 7, 13, 14, 60)] == [0, 0, 2, 4, 8, 512, 900, 900]


def test_wrong_passwords_from_one_address_never_lock_out_another(client: FlaskClient, session: Session) -> None:
    """Five wrong passwords from A used to lock the name for everyone, the right password included."""
    u = make_user(session)
    session.commit()
    start = clock.now()
    with clock.frozen(start) as frozen:
        for _ in range(5):
            assert token(client, u.username, "wrong password", "198.51.100.1").status_code == 401
        r = token(client, u.username, PASSWORD, "198.51.100.1")  # A waits, even with the right password
        assert r.status_code == 429 and r.headers["Retry-After"] == "2"
        assert r.get_json()["error"]["code"] == "too_many_requests"
        assert token(client, u.username, PASSWORD, "203.0.113.7").status_code == 201  # B is not held up
        # A backs off, it is not locked out: after the wait, tries go on, each wait twice the last
        frozen.set(start + dt.timedelta(seconds=2))
        assert token(client, u.username, "wrong again", "198.51.100.1").status_code == 401
        r = token(client, u.username, PASSWORD, "198.51.100.1")
        assert r.status_code == 429 and r.headers["Retry-After"] == "4"
        frozen.set(start + dt.timedelta(seconds=6))
        assert token(client, u.username, PASSWORD, "198.51.100.1").status_code == 201
        # a success ends the run of failures for that address
        assert token(client, u.username, "wrong password", "198.51.100.1").status_code == 401


def test_refused_attempts_do_not_extend_the_backoff(client: FlaskClient, session: Session) -> None:
    u = make_user(session)
    session.commit()
    start = clock.now()
    with clock.frozen(start) as frozen:
        for _ in range(5):
            token(client, u.username, "wrong password", "198.51.100.2")
        for _ in range(20):  # hammering while refused changes nothing
            assert token(client, u.username, "wrong password", "198.51.100.2").status_code == 429
        frozen.set(start + dt.timedelta(seconds=2))
        assert token(client, u.username, PASSWORD, "198.51.100.2").status_code == 201


def test_an_address_failing_for_many_names_backs_off_alone(client: FlaskClient, session: Session) -> None:
    u = make_user(session)
    session.commit()
    with clock.frozen(clock.now()):
        for i in range(20):
            assert token(client, f"nobody{i}", "guess", "198.51.100.3").status_code == 401
        assert token(client, u.username, PASSWORD, "198.51.100.3").status_code == 429
        assert token(client, u.username, PASSWORD, "198.51.100.4").status_code == 201


@pytest.fixture
def proxied_app(db_url: str, settings_for: Any, connection: Connection) -> Iterator[Flask]:
    """The app as deployed behind one reverse proxy (TRUSTED_PROXY_HOPS=1)."""
    from trading.app import create_app

    app = create_app(settings_for(db_url, trusted_proxy_hops=1))
    app.config["TESTING"] = True
    app.extensions["ggzy.db"].sessionmaker = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield app
    app.extensions["ggzy.db"].engine.dispose()


PROXY = "10.0.0.2"


def test_behind_a_trusted_proxy_each_client_counts_for_itself(proxied_app: Flask, session: Session) -> None:
    """Behind the proxy DEPLOY.md recommends every request came from the proxy's address: 20 failures
    anywhere refused every password login."""
    client = proxied_app.test_client()
    u = make_user(session)
    session.commit()
    with clock.frozen(clock.now()):
        for i in range(20):
            r = token(client, f"nobody{i}", "guess", PROXY, **{"X-Forwarded-For": "198.51.100.9"})
            assert r.status_code == 401
        assert token(client, u.username, PASSWORD, PROXY, **{"X-Forwarded-For": "203.0.113.20"}).status_code == 201
        r = token(client, u.username, PASSWORD, PROXY, **{"X-Forwarded-For": "198.51.100.9"})
        assert r.status_code == 429  # the client that guessed waits


def test_without_a_trusted_proxy_forwarded_for_is_not_believed(client: FlaskClient, session: Session) -> None:
    """TRUSTED_PROXY_HOPS=0 (the default): a guesser cannot choose a fresh address per try."""
    u = make_user(session)
    session.commit()
    with clock.frozen(clock.now()):
        for i in range(5):
            r = token(client, u.username, "guess", "198.51.100.10", **{"X-Forwarded-For": f"192.0.2.{i}"})
            assert r.status_code == 401
        r = token(client, u.username, PASSWORD, "198.51.100.10", **{"X-Forwarded-For": "192.0.2.99"})
        assert r.status_code == 429


def sign(key: Any, statement: str) -> str:
    return base64.b64encode(key.sign(statement.encode())).decode()


def challenge(client: FlaskClient, username: str, addr: str = "198.51.100.30") -> Any:
    return client.post("/api/v1/auth/challenge", json={"username": username}, environ_base={"REMOTE_ADDR": addr})


def test_ukey_login_works_while_the_password_path_backs_off(client: FlaskClient, session: Session, app: Flask) -> None:
    b = make_bidder_with_keys(session, app)
    session.commit()
    with clock.frozen(clock.now()):
        for _ in range(6):
            token(client, b.user.username, "wrong password", "198.51.100.11")
        assert token(client, b.user.username, PASSWORD, "198.51.100.11").status_code == 429
        ch = challenge(client, b.user.username, "198.51.100.11").get_json()
        r = client.post(
            "/api/v1/auth/sm2",
            json={"challenge_id": ch["challenge_id"], "signature": sign(b.sign_key, ch["statement"])},
            environ_base={"REMOTE_ADDR": "198.51.100.11"},
        )
        assert r.status_code == 201


def rows_in_every_table(session: Session) -> dict[str, int]:
    return {t.name: int(session.scalar(select(func.count()).select_from(t)) or 0) for t in Base.metadata.sorted_tables}


def token_fields(token: str) -> set[str]:
    payload, mac = token.split(".")
    assert len(base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))) == 32
    return set(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def test_challenge_for_an_unknown_name_stores_nothing_and_looks_the_same(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    """Before, a known name's challenge was a stored row (``login_challenge``); now no challenge
    is stored for any name: only the throttle's own row is written."""
    b = make_bidder_with_keys(session, app)
    plain = make_user(session)  # a password user with no certificate
    session.commit()
    before = rows_in_every_table(session)
    known = challenge(client, b.user.username)
    unknown = challenge(client, "no-such-user-here")
    assert known.status_code == unknown.status_code == 201
    assert set(known.get_json()) == set(unknown.get_json()) == {"challenge_id", "statement", "expires_at"}
    assert token_fields(known.get_json()["challenge_id"]) == token_fields(unknown.get_json()["challenge_id"])
    assert "no-such-user-here" in unknown.get_json()["statement"]
    after = rows_in_every_table(session)
    assert {t: n - before[t] for t, n in after.items() if n != before[t]} == {"login_attempt": 2}

    # step 2 answers alike whatever went wrong: no name is told apart by its answer
    from signing.sm2 import PrivateKey

    answers = []
    for name in ("no-such-user-here", plain.username, b.user.username):
        ch = challenge(client, name).get_json()
        r = client.post(
            "/api/v1/auth/sm2",
            json={"challenge_id": ch["challenge_id"], "signature": sign(PrivateKey.generate(), ch["statement"])},
        )
        answers.append((r.status_code, r.get_json()))
        again = client.post(  # and a second try with the same challenge
            "/api/v1/auth/sm2",
            json={"challenge_id": ch["challenge_id"], "signature": sign(PrivateKey.generate(), ch["statement"])},
        )
        answers.append((again.status_code, again.get_json()))
    assert all(a == answers[0] for a in answers) and answers[0][0] == 401, answers
    assert session.scalar(select(func.count()).select_from(UsedLoginChallenge)) == 0  # failures store nothing


def test_challenges_are_throttled_per_address_only(client: FlaskClient, session: Session) -> None:
    with clock.frozen(clock.now()) as frozen:
        for i in range(10):
            assert challenge(client, f"name{i}", "198.51.100.40").status_code == 201
        r = challenge(client, "another", "198.51.100.40")
        assert r.status_code == 429 and int(r.headers["Retry-After"]) == 60
        assert challenge(client, "another", "198.51.100.41").status_code == 201  # other addresses go on
        for i in range(40):  # one name from many addresses: never refused
            assert challenge(client, "target", f"192.0.2.{i}").status_code == 201
        frozen.set(clock.now() + dt.timedelta(seconds=61))
        assert challenge(client, "another", "198.51.100.40").status_code == 201


def test_strangers_asking_for_a_users_challenges_never_hold_its_ukey_login_off(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    """Strangers asking for a user's challenges, from more addresses than the throttle lets one
    address ask, between the owner's step 1 and step 2: the owner logs in. Before, each request
    stored a row and past 100 outstanding for the name the oldest, the owner's, was dropped (401)."""
    b = make_bidder_with_keys(session, app)
    session.commit()
    name = b.user.username

    def login(ch: Any) -> int:
        body = {"challenge_id": ch["challenge_id"], "signature": sign(b.sign_key, ch["statement"])}
        return int(client.post("/api/v1/auth/sm2", json=body, environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code)

    with clock.frozen(clock.now()):
        mine = challenge(client, name, "203.0.113.9")
        assert mine.status_code == 201
        for i in range(250):  # strangers keep asking while the owner signs with its UKey, 10 per address
            assert challenge(client, name, f"198.51.100.{100 + i // 10}").status_code == 201
        assert login(mine.get_json()) == 201
    assert session.scalar(select(func.count()).select_from(UsedLoginChallenge)) == 1  # the used one only


def test_a_challenge_is_used_once_and_only_as_issued(client: FlaskClient, session: Session, app: Flask) -> None:
    """A replayed, altered, foreign-keyed or expired challenge gets the one answer 401 bad_challenge."""
    b = make_bidder_with_keys(session, app)
    other = make_bidder_with_keys(session, app)
    session.commit()
    key = challenge_key(app.extensions["ggzy.settings"].secret_key)

    def login(token: str, statement: str) -> Any:
        body = {"challenge_id": token, "signature": sign(b.sign_key, statement)}
        return client.post("/api/v1/auth/sm2", json=body)

    refused = []
    ch = challenge(client, b.user.username).get_json()
    assert login(ch["challenge_id"], ch["statement"]).status_code == 201
    refused.append(login(ch["challenge_id"], ch["statement"]))  # replay

    # the payload altered under the old MAC: another user's token relabelled to b's name, and b's
    # own token given a later expiry and sent once it has run out (signed as the change requires)
    def altered(token: str, **change: str) -> tuple[str, str]:
        payload, mac = token.split(".")
        data = {**json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))), **change}
        forged = base64.urlsafe_b64encode(canonical_json(data)).rstrip(b"=").decode()
        statement = login_challenge_statement(data["username"], data["nonce"], data["issued_at"])
        return f"{forged}.{mac}", statement.decode()

    refused.append(login(*altered(issue_challenge(key, other.user.username).token, username=b.user.username)))
    later = altered(issue_challenge(key, b.user.username).token, expires_at="2999-01-01T00:00:00+00:00")
    with clock.frozen(clock.now() + CHALLENGE_LIFETIME + dt.timedelta(seconds=1)):
        refused.append(login(*later))
    # the MAC altered; a token made with another key; not a token at all
    ch = challenge(client, b.user.username).get_json()
    token = ch["challenge_id"]
    refused.append(login(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), ch["statement"]))
    foreign = issue_challenge(challenge_key("another-secret-key-of-at-least-32-chars"), b.user.username)
    refused.append(login(foreign.token, challenge_statement(foreign).decode()))
    refused.append(login("x" * 32, ch["statement"]))
    refused.append(login("a.b.c" + "x" * 40, ch["statement"]))
    refused.append(login("!!!!." + "x" * 40, ch["statement"]))
    # expired: signed correctly, sent after its lifetime
    with clock.frozen(clock.now() + CHALLENGE_LIFETIME + dt.timedelta(seconds=1)):
        refused.append(login(token, ch["statement"]))
    assert [r.status_code for r in refused] == [401] * len(refused)
    assert all(r.get_json() == refused[0].get_json() for r in refused)
    assert refused[0].get_json()["error"]["code"] == "bad_challenge"
    assert login(token, ch["statement"]).status_code == 201  # the real one, in time, still works
    assert session.scalar(select(func.count()).select_from(UsedLoginChallenge)) == 2


BAD_TARGETS = [
    "//evil.example",
    "/\\evil.example",
    "/\\/evil.example",
    "/x\\y",
    "/%5Cevil.example",
    "/%5cevil.example",
    "/%255Cevil.example",
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "evil.example",
    "/\t/evil.example",
    "/%09/evil.example",
    "/ok\r\nSet-Cookie: a=b",
    "/ok%0d%0aSet-Cookie:%20a=b",
    "/\u2028x",
    "",
]


@pytest.mark.parametrize("target", BAD_TARGETS)
def test_only_same_site_paths_are_accepted(target: str) -> None:
    assert same_site_path(target) is None


@pytest.mark.parametrize("target", ["/", "/tenders?q=%E9%81%93%E8%B7%AF", "/ceremonies/1?", "/tenders/工程?page=2"])
def test_same_site_paths_pass(target: str) -> None:
    assert same_site_path(target) == target


def page_login(client: FlaskClient, username: str, password: str, next_: str) -> Any:
    csrf = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "next": next_, "csrf_token": csrf})


def test_login_page_follows_next_on_this_site_only(client: FlaskClient, session: Session) -> None:
    """The form carries ``next`` (every redirect to the login page sets it); it answered 422."""
    u = make_user(session)
    session.commit()
    r = client.get("/account")
    assert r.status_code == 302 and "next=" in r.headers["Location"]
    assert 'value="/account?"' in client.get(r.headers["Location"]).get_data(as_text=True)
    r = page_login(client, u.username, PASSWORD, "/account?")
    assert r.status_code == 302 and r.headers["Location"] in ("/account?", "/account")
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/account").get_data(as_text=True))})
    r = page_login(client, u.username, PASSWORD, "/\\evil.example")
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert "evil" not in client.get("/login?next=/%5Cevil.example").get_data(as_text=True)


def test_login_page_backoff_answers_429_with_retry_after(client: FlaskClient, session: Session) -> None:
    u = make_user(session)
    session.commit()
    with clock.frozen(clock.now()):
        for _ in range(5):
            assert page_login(client, u.username, "wrong password", "/account").status_code == 401
        r = page_login(client, u.username, PASSWORD, "/account")
        assert r.status_code == 429 and r.headers["Retry-After"] == "2" and "秒后再试" in r.get_data(as_text=True)
