"""Bad input never gets a 500. Every route is called, as a user who holds its permission, on a lot
whose evaluation room is open (so the ids in the URLs exist and requests get past the 404s to the
code that reads the input), with malformed JSON bodies, page forms of wrong types and garbage query
strings; each answer must be a refusal or a success, never a server error."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from signing.digest import sm3_hex
from tests.factories import api_token, csrf_from, make_user, page_login
from tests.trading.test_evaluation import room_in_compliance
from trading.accounts.models import Role
from trading.accounts.permissions import Permission, endpoint_rule, permissions_of
from trading.core.errors import DomainError, InvalidInput
from trading.core.schemas import INT64_MAX, INT64_MIN, load_json, parse
from trading.evaluation.models import Draw
from trading.evaluation.schemas import AskIn

#: Malformed JSON bodies: not JSON, not an object, empty, every usual field with a wrong type, huge.
WRONG_TYPES = {
    name: value
    for name, value in [
        *((n, 12345) for n in ("username", "signature", "reason", "text", "answer", "question", "wrapped_key")),
        *((n, ["x"]) for n in ("title", "name", "dissent", "certificate_pem", "announcement_body")),
        *((n, "x") for n in ("bidder", "passed", "scores", "total", "candidate", "minutes", "winner", "hours")),
        *((n, "x") for n in ("slots", "failed_items", "lots", "accept", "candidates", "z_limit", "size", "parts")),
        *((n, None) for n in ("to", "amount", "price", "bid_deadline", "region", "usage", "kind", "code")),
    ]
}
API_BODIES: list[dict[str, Any]] = [
    {"data": b'{"text": ', "content_type": "application/json"},
    {"json": []},
    {"json": {}},
    {"json": WRONG_TYPES},
    {"json": {"text": "字" * 100_000, "reason": "字" * 100_000}},
    {"json": dict.fromkeys(("text", "reason", "username", "answer", "question", "name"), "异议\x00内容")},
]
#: Integers no 64-bit column holds, in every field: one past the range (json.dumps writes it), and
#: 5,000 digits (past Python's 4,300-digit int limit; written by hand, json.dumps refuses it).
INT_FIELDS = sorted({*WRONG_TYPES, "id", "lot", "number", "objection", "draw", "page", "announcement_id"})
BIG_INT_BODIES: list[dict[str, Any]] = [
    {"json": dict.fromkeys(INT_FIELDS, 2**70)},
    {"json": dict.fromkeys(INT_FIELDS, -(2**63) - 1)},
    {"data": "{" + ", ".join(f'"{n}": {"9" * 5000}' for n in INT_FIELDS) + "}", "content_type": "application/json"},
    # bodies the room's schemas accept but for the integer (they reached the database before)
    *({"json": body} for body in ({"candidate": 2**64}, {"winner": 2**64}, {"bidder": 2**64, "passed": True})),
    {"json": {"bidder": 2**64, "question": "请说明", "hours": 24}},
]
#: Page forms: numbers that do not parse (a superscript digit, 5,000 digits, NaN), blanks.
FIELDS = [
    "draw",
    "candidates",
    "z_limit",
    "minutes",
    "winner",
    "objection",
    "id",
    "number",
    "accept",
    "sub_region",
    "sub_count",
    "sub_specialty",
    "username",
    "reason",
    "text",
    "answer",
    "amount",
    "usage",
    "page",
    "bidder",
    "price",
    "lot",
    "kind",
    "announcement_id",
]
FORMS: list[dict[str, str]] = [
    dict.fromkeys(FIELDS, "²"),
    dict.fromkeys(FIELDS, "9" * 5000) | {"z_limit": "nan", "minutes": "-1"},
    dict.fromkeys(FIELDS, ""),
    dict.fromkeys(FIELDS, "1\x00"),
    dict.fromkeys(FIELDS, str(2**64)),  # pydantic makes an int of it, past every column
]
QUERY = "after=x&limit=x&page=x&page_size=-1&announcement_id=x&final=x&once=1&q=%00&state=x&first=x&second=x&size=x"
#: Integers no id column holds (SQLite raised OverflowError, a 500): in every query parameter...
TOO_BIG = str(2**64)
BIG_QUERY = "&".join(
    f"{k}={TOO_BIG}" for k in ("after", "limit", "page", "page_size", "announcement_id", "old", "new", "size", "index")
)
#: ...and every ``int`` path segment.
BIG_IDS = {
    "number": TOO_BIG,
    "ceremony_id": TOO_BIG,
    "evaluation_id": TOO_BIG,
    "bidder_id": TOO_BIG,
    "draw_id": TOO_BIG,
}
#: Garbage signed-API headers, for the issuers' routes (they take no token).
SIGNED = {"X-GGZY-Client": "x", "X-GGZY-Timestamp": "x", "X-GGZY-Nonce": "x", "X-GGZY-Signature": "x"}
#: Headers some uploads read (a document's name, URL-encoded): with a NUL in it.
ODD_HEADERS = {"X-Document-Name": "%E6%96%87%00.pdf", "X-Signature": "x"}
#: Who calls a route holding its permission: the likeliest to get past the room's own rules first.
PREFERENCE = [Role.EXPERT, Role.TENDEREE, Role.BIDDER, Role.STAFF, Role.ISSUER, Role.SUPERVISOR, Role.ADMIN]
PARAM = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")
#: What ``<action>`` routes are tried with: every verb they know, and one they do not.
ACTIONS = ("commit", "run", "replace", "advance", "pause", "resume", "extend", "answer", "designate", "nonsense")


def _url(rule: str, ids: dict[str, str], other_int: str = "1") -> str:
    def one(m: re.Match[str]) -> str:
        converter, args, name = m.groups()
        if converter == "any":  # its first choice
            return args.split(",")[0].strip().strip("'\"")
        return ids.get(name, other_int if converter == "int" else "x")

    return PARAM.sub(one, rule)


def test_no_route_answers_bad_input_with_a_server_error(client: FlaskClient, session: Session, app: Flask) -> None:
    r = room_in_compliance(client, session, app)
    t = r["t"]
    with clock.frozen(t["deadline"] + dt.timedelta(hours=5)):
        extra = {role: make_user(session, role) for role in (Role.ISSUER, Role.SUPERVISOR, Role.ADMIN)}
        session.commit()
        usernames = {
            Role.EXPERT: r["committee"][0]["signer"].user.username,
            Role.TENDEREE: t["tenderee_username"],
            Role.BIDDER: t["bidders"][0].user.username,
            Role.STAFF: t["staff_username"],
            **{role: u.username for role, u in extra.items()},
        }
        tokens = {role: api_token(client, name) for role, name in usernames.items()}
        pages: dict[Role, tuple[FlaskClient, str]] = {}
        for role, name in usernames.items():
            c = app.test_client()
            page_login(c, name)
            pages[role] = (c, csrf_from(c.get("/").get_data(as_text=True)))
        ids = {
            "code": t["code"],
            "number": "1",
            "ceremony_id": str(t["cid"]),
            "evaluation_id": str(r["ev"]["id"]),
            "bidder_id": str(r["bids"][0]),
            "draw_id": str(session.scalar(select(Draw.id).limit(1))),
            "ciphertext_sm3": sm3_hex(t["blobs"][0]),
        }

        failures: list[str] = []
        big_int_refusals: list[str] = []
        calls = 0
        for rule in app.url_map.iter_rules():
            if rule.endpoint == "static":
                continue
            perm = endpoint_rule(app, rule.endpoint)
            assert perm is not None
            role = next((x for x in PREFERENCE if perm in permissions_of([x])), Role.BIDDER)
            api = rule.rule.startswith("/api/")
            urls = (
                [_url(rule.rule, ids | {"action": a}) for a in ACTIONS]
                if "<action>" in rule.rule
                else [_url(rule.rule, ids)]
            )
            if "<int:" in rule.rule:
                urls.append(_url(rule.rule, ids | BIG_IDS, TOO_BIG))
            if "<code>" in rule.rule:
                urls.append(_url(rule.rule, ids | {"code": "GGZY%00"}))  # a NUL in the path
            for url, method in ((u, m) for u in urls for m in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})):
                if method == "GET":
                    attempts: list[dict[str, Any]] = [{"query_string": QUERY}, {"query_string": BIG_QUERY}]
                elif api:
                    attempts = [*API_BODIES, *BIG_INT_BODIES]
                else:
                    attempts = [{"data": {**form, "csrf_token": pages[role][1]}} for form in FORMS]
                for attempt in attempts:
                    caller = client if api else pages[role][0]
                    headers = (
                        (SIGNED if perm is Permission.ISSUER_SIGNED else tokens[role]) | ODD_HEADERS if api else {}
                    )
                    calls += 1
                    try:
                        resp = caller.open(url, method=method, headers=headers, **attempt)
                        status = resp.status_code
                        resp.close()  # a streamed file or event stream: let it go
                    except Exception as exc:  # the test app propagates what a server would answer with 500
                        failures.append(f"{method} {url} {attempt!r:.80}: {exc!r:.200}")
                        session.rollback()
                        continue
                    if status >= 500:
                        failures.append(f"{method} {url} {attempt!r:.80}: {status}")
                    elif any(attempt is b for b in BIG_INT_BODIES) and status in (400, 422):
                        # once the body is read, refused at the door by name: not as unparseable
                        # JSON, not by the schema's field rules, not after a DB round trip (a
                        # route may refuse its path or headers first, under their own names)
                        error = (resp.get_json(silent=True) or {}).get("error", {})
                        code, fields = error.get("code"), set(error.get("fields") or {})
                        if code in ("malformed_json", "unstorable_input") or (
                            code == "invalid_input" and fields & set(INT_FIELDS)
                        ):
                            big_int_refusals.append(f"{method} {url} {attempt!r:.60}: {status} {code}")
        assert calls > 400
        assert failures == [], "\n".join(failures)
        assert big_int_refusals == [], "\n".join(big_int_refusals)


def test_paging_takes_only_plain_bounded_digits(client: FlaskClient, session: Session) -> None:
    admin = make_user(session, Role.ADMIN)
    session.commit()
    headers = api_token(client, admin.username)
    for path in ("/api/v1/users", "/api/v1/organisations"):
        assert client.get(path, query_string={"page": "1", "page_size": "200"}, headers=headers).status_code == 200
        # "٣" and "1_0" are numbers to int(); 10**12 pages times 200 is an OFFSET past 64 bits
        for page, size in (("٣", "50"), ("1_0", "50"), ("1", "2" * 5000), (str(10**12), "200"), (str(2**64), "1")):
            r = client.get(path, query_string={"page": page, "page_size": size}, headers=headers)
            assert (r.status_code, r.get_json()["error"]["code"]) == (422, "bad_integer"), (path, page[:20], size[:20])


def test_a_json_body_refuses_integers_no_column_holds_by_name() -> None:
    assert parse(AskIn, {"bidder": INT64_MAX, "question": "q"}).opening_seat == INT64_MAX
    assert parse(AskIn, {"bidder": INT64_MIN, "question": "q"}).opening_seat == INT64_MIN
    for bad in (INT64_MAX + 1, INT64_MIN - 1, str(2**64)):  # a form's "18446744073709551616" too
        try:
            parse(AskIn, {"bidder": bad, "question": "q"})
        except InvalidInput as exc:
            assert exc.code == "bad_integer"
        else:
            raise AssertionError(bad)
    for text in ('{"bidder": ' + "9" * 5000 + "}", '{"question": "q", "x": [1, {"y": -' + "1" * 30 + "}]}"):
        try:
            parse(AskIn, load_json(text))
        except InvalidInput as exc:
            assert exc.code == "bad_integer"
        else:
            raise AssertionError(text[:40])
    for text in ("[" * 100_000 + "]" * 100_000, '{"a": 1'):  # too deep for the parser; cut short
        try:
            load_json(text)
        except DomainError as exc:
            assert exc.code == "malformed_json"
        else:
            raise AssertionError(text[:40])
