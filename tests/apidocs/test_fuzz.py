"""schemathesis against a live server: every documented operation, called with the token of each
role that holds its permission and with none, answers no 5xx and nothing its schema does not allow.

The server is the app on a SQLite file in a thread of this process, seeded with a user of each role
and a published tender (a bidder registered, a question asked), whose code and ids are given to
schemathesis as the path parameters' examples, so the calls reach real objects as well as missing
ones. Bounded: a few examples per operation and role, no shrinking (the report names the request).
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
import requests
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy.orm import Session

from archive import clock
from signing import messages
from signing.sm2 import PrivateKey
from tests.e2e.conftest import LiveServer
from tests.factories import api_token, make_signer, make_user, tender_body, upload
from trading.accounts.models import Role, SessionKind, User
from trading.accounts.operations import open_session
from trading.accounts.permissions import Permission
from trading.apidocs.document import build
from trading.core.config import load_settings
from trading.core.db import upgrade
from trading.core.platform_keys import ensure_platform_keys

#: a deeper run by hand: GGZY_FUZZ_EXAMPLES=50 GGZY_FUZZ_NEGATIVE=1 pytest tests/apidocs/test_fuzz.py
EXAMPLES = int(os.environ.get("GGZY_FUZZ_EXAMPLES", "3"))
MODES = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if os.environ.get("GGZY_FUZZ_NEGATIVE") else [])
#: roles to use for an operation every signed-in user may call (all eight would triple the run)
EVERYONE = ("bidder", "tenderee", "staff")
SEE_MORE = ("staff",)
#: about 30 s alone on a 2-core machine; the bound leaves room for a loaded CI run (pytest -n auto)
BUDGET_SECONDS = 90
ISSUER_SIGNED = Permission.ISSUER_SIGNED.value


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from trading.app import create_app

    tmp = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{tmp / 'fuzz.db'}"
    upgrade(url)
    app: Flask = create_app(
        load_settings({"GGZY_ENV": "test", "GGZY_INSTANCE": str(tmp / "inst"), "DATABASE_URL": url})
    )
    ensure_platform_keys(app.extensions["ggzy.settings"])
    with Session(app.extensions["ggzy.db"].engine, expire_on_commit=False) as s:
        signer = make_signer(s, app, Role.TENDEREE)
        issuer = make_signer(s, app, Role.ISSUER)
        users = {role.value: make_user(s, role) for role in Role if role not in (Role.TENDEREE, Role.ISSUER)}
        users["tenderee"], users["issuer"] = signer.user, issuer.user
        s.commit()
    client = app.test_client()
    tokens = {role: api_token(client, u.username)["Authorization"] for role, u in users.items()}
    ht = {"Authorization": tokens["tenderee"]}
    code = client.post("/api/v1/tenders", json=tender_body(), headers=ht).get_json()["code"]
    doc = upload(client, ht, signer, code, "招标文件.pdf", b"%PDF-1.4 fuzz" * 50).get_json()
    assert client.post(f"/api/v1/tenders/{code}/submit", headers=ht).status_code == 200
    assert client.post(f"/api/v1/tenders/{code}/publish", headers={"Authorization": tokens["staff"]}).status_code == 200
    hb = {"Authorization": tokens["bidder"]}
    assert client.post(f"/api/v1/tenders/{code}/interest", headers=hb).status_code == 201
    question = client.post(f"/api/v1/tenders/{code}/questions", json={"text": "工期是否可以调整？"}, headers=hb)
    tender = client.get(f"/api/v1/tenders/{code}").get_json()
    examples = {
        "code": code,
        "document_id": doc["id"],
        "question_id": question.get_json()["id"],
        "ann_id": tender["announcements"][0]["id"],
        "number": 1,
    }
    with app.app_context():
        document = copy.deepcopy(build(app))  # the examples are written into it
    with LiveServer(app) as live:
        ids = {role: u.id for role, u in users.items()}
        engine = app.extensions["ggzy.db"].engine
        yield {
            "url": live.url,
            "users": ids,
            "engine": engine,
            "examples": examples,
            "document": document,
            "issuer": (issuer.user.username, issuer.key),
        }
    app.extensions["ggzy.db"].engine.dispose()


def _with_examples(document: dict[str, Any], examples: dict[str, Any]) -> dict[str, Any]:
    """The document, its path parameters given the seeded objects' ids as examples."""
    for item in document["paths"].values():
        for op in item.values():
            for param in op.get("parameters", []):
                if param["in"] == "path" and param["name"] in examples:
                    param["examples"] = {"seeded": {"value": examples[param["name"]]}}
    return document


def _roles(op: dict[str, Any]) -> list[str | None]:
    """Anonymous, then the roles holding the operation's permission; a public operation also as
    staff, who see more of it (drafts, pending documents, reasons)."""
    roles: list[str] = op.get("x-roles") or []
    if op.get("x-permission") == Permission.PUBLIC.value:
        roles = list(SEE_MORE)
    elif len(roles) > len(EVERYONE):
        roles = list(EVERYONE)
    return [None, *roles]


def _fresh_token(seeded: dict[str, Any], role: str) -> str:
    """A token of its own for each operation and role: an operation may end the session it is
    called with (``DELETE /auth/token``), which must not sign the role out of the rest. Opened
    directly, not by a login the fuzzed logins' back-off would refuse."""
    with Session(seeded["engine"], expire_on_commit=False) as s:
        user = s.get(User, seeded["users"][role])
        assert user is not None
        _, token = open_session(s, user, SessionKind.API, "fuzz")
        s.commit()
    return f"Bearer {token}"


def _signed_call(case: schemathesis.Case, url: str, issuer: tuple[str, PrivateKey]) -> requests.Response:
    """The issuer API's request as an issuer's client sends it: signed over method, path, query
    and body (signing/messages.py), no token."""
    prepared = requests.Request(**case.as_transport_kwargs(base_url=url)).prepare()
    body = prepared.body if isinstance(prepared.body, bytes) else (prepared.body or "").encode()
    path, _, query = prepared.path_url.partition("?")
    signed_path = unquote(path) + (f"?{query}" if query else "")
    client, key = issuer
    signature = messages.sign_request(key, client, case.method.upper(), signed_path, body, clock.now())
    prepared.headers.update(signature.headers())
    with requests.Session() as session:
        return session.send(prepared, timeout=10)


def _fuzz(
    operation: Any, url: str, headers: dict[str, str], mode: GenerationMode, issuer: tuple[str, PrivateKey] | None
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def call(case: schemathesis.Case) -> None:
        if issuer is not None:
            response: Any = _signed_call(case, url, issuer)
        else:
            response = case.call(base_url=url, headers=headers, timeout=10)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    call()


def test_no_server_error_and_no_answer_outside_its_schema(seeded: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_dict(_with_examples(seeded["document"], seeded["examples"]))
    failures: list[str] = []
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 80
    for operation in operations:
        for role in _roles(operation.definition.raw):
            signed = role == "issuer" and operation.definition.raw.get("x-permission") == ISSUER_SIGNED
            headers = {"Authorization": _fresh_token(seeded, role)} if role and not signed else {}
            for mode in MODES:
                try:
                    _fuzz(operation, seeded["url"], headers, mode, seeded["issuer"] if signed else None)
                except BaseExceptionGroup as exc:  # schemathesis's FailureGroup: every operation is tried
                    failures.append(f"{operation.label} as {role or 'anon'} ({mode.value}): {exc}")
                except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                    assert mode is GenerationMode.NEGATIVE
    elapsed = time.monotonic() - started
    assert not failures, "\n\n".join(failures)
    assert elapsed < BUDGET_SECONDS * EXAMPLES / 3 * len(MODES), f"the fuzzing took {elapsed:.0f} s"


def test_the_fuzzing_can_fail(seeded: dict[str, Any]) -> None:
    """The check is not blind: an answer that breaks its model is reported."""
    document = _with_examples(copy.deepcopy(seeded["document"]), seeded["examples"])
    broken = document["components"]["schemas"]["TenderOut"]
    broken["properties"]["title"] = {"type": "integer"}
    schema = schemathesis.openapi.from_dict(document)
    operation = schema["/api/v1/tenders/{code}"]["GET"]
    case = operation.Case(path_parameters={"code": seeded["examples"]["code"]})
    response = case.call(base_url=seeded["url"])
    with pytest.raises(BaseExceptionGroup, match="violates schema"):
        case.validate_response(response, checks=[response_schema_conformance])
