"""The demo's cast: its procedure, the actors that act through the platform's own API, their keys
(as ``ggzy-bid keygen`` leaves them) and the tender they publish."""

from __future__ import annotations

import base64
import datetime as dt
import pathlib
from typing import Any
from urllib.parse import quote

from flask import Flask
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import ActorRef, record_event
from bidding.client import ApiError
from signing.certs import Usage
from signing.digest import sm3_hex
from signing.sm2 import PrivateKey
from signing.statements import tender_document_statement
from trading.core.platform_keys import ensure_platform_keys
from trading.procedures.models import AmendmentPolicy, DayKind, ProcedureType
from trading.procedures.scoring import SCORING_TEMPLATES

DEMO_PROCEDURE = "demo_fast"
KEY_PASSWORD = b"demo-key-password"  # printed by `ggzy demo`; demo keys only
PUBLICITY_DAYS = 3
"""The demo procedure's candidate publicity: the legal minimum (实施条例第五十四条), so the demo's
publicity is one a bidder can object in, as in a real instance."""
SPECIALTY = "A08"
"""The demo's committees: road and lighting works are evaluated by 工程施工 experts (A08 in
《评标专家专业分类标准（试行）》; A01 is 规划, planning)."""


def ensure_demo_procedure(session: Session) -> None:
    """A procedure with no minimum bidding period, so the demo's deadline can be minutes away
    (the candidate publicity keeps its 3 days). It exists only in demo instances and says so in
    its name and source."""
    if session.get(ProcedureType, DEMO_PROCEDURE) is not None:
        return
    session.add(
        ProcedureType(
            code=DEMO_PROCEDURE,
            name="演示用快速流程（仅演示实例）",
            day_kind=DayKind.CALENDAR,
            min_bid_days=0,
            amendment_lead_days=0,
            amendment_policy=AmendmentPolicy.EXTEND,
            min_valid_bids=3,
            publicity_days=PUBLICITY_DAYS,
            decryption_window_minutes=10,
            archive_retention_years=15,
            source="演示数据，不适用于真实项目",
        )
    )
    session.flush()
    record_event(
        session,
        ActorRef("cli:demo-seed", "admin"),
        "procedure.create",
        ("procedure", DEMO_PROCEDURE),
        {"code": DEMO_PROCEDURE},
    )


class Actor:
    def __init__(self, app: Flask, username: str, password: str, address: str | None = None) -> None:
        self.client = app.test_client()
        if address is not None:  # where its requests come from (a bidder's office, in the demo)
            self.client.environ_base["REMOTE_ADDR"] = address
        r = self.client.post("/api/v1/auth/token", json={"username": username, "password": password, "name": "demo"})
        if r.status_code != 201:
            raise RuntimeError(f"demo login {username}: {r.get_json()}")
        self.headers = {"Authorization": f"Bearer {r.get_json()['token']}"}
        self.username = username

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """The ``bidding.client.Requester`` shape, so the demo runs ggzy-bid's own flows."""
        r = self.client.open(path, method=method, headers=self.headers, json=body)
        if r.status_code >= 400:
            err = (r.get_json() or {}).get("error", {})
            raise ApiError(r.status_code, err.get("code", "error"), err.get("message", r.get_data(as_text=True)))
        if "Deprecation" in r.headers:  # ggzy-bid's flows too use the routes as they are meant
            raise RuntimeError(f"demo {self.username} {method} {path}: a deprecated alias of {r.headers.get('Link')}")
        return r.get_json() if r.is_json else r.data

    def call(self, method: str, url: str, expect: int = 200, **kw: Any) -> Any:
        r = self.client.open(url, method=method, headers=self.headers | kw.pop("headers", {}), **kw)
        if r.status_code != expect:
            raise RuntimeError(f"demo {self.username} {method} {url}: {r.status_code} {r.get_data(as_text=True)}")
        if "Deprecation" in r.headers:  # the demo shows the API as it is meant to be used
            raise RuntimeError(f"demo {self.username} {method} {url}: a deprecated alias of {r.headers.get('Link')}")
        return r.get_json() if r.is_json else r.data


#: The keys this process made, by file: reading them back would repeat each file's PBKDF2 (0.1 s).
made_keys: dict[pathlib.Path, PrivateKey] = {}


def key_file(path: pathlib.Path) -> PrivateKey:
    """A demo key, as ``ggzy-bid`` reads it from its folder (or as this process made it)."""
    return made_keys.get(path) or PrivateKey.from_pem(path.read_bytes(), KEY_PASSWORD)


def make_keys(app: Flask, actor: Actor, folder: pathlib.Path, common_name: str) -> PrivateKey:
    """What `ggzy-bid keygen` + `ggzy ca issue` + registering on /account/certificates do."""
    keys = ensure_platform_keys(app.extensions["ggzy.settings"])
    folder.mkdir(parents=True, exist_ok=True)
    org_code = None  # demo certificates name no organisation code (real UKey certificates do)
    sign_key = PrivateKey.generate()
    for kind, usage, key in (("sign", Usage.SIGN, sign_key), ("enc", Usage.ENCRYPT, PrivateKey.generate())):
        cert = keys.ca.issue(key.public_key, common_name=common_name, usage=usage, now=clock.now(), org_code=org_code)
        (folder / f"{kind}.key").write_bytes(key.to_pem(KEY_PASSWORD))
        (folder / f"{kind}.key").chmod(0o600)
        made_keys[folder / f"{kind}.key"] = key
        (folder / f"{kind}.pub").write_bytes(key.public_key.to_pem())
        (folder / f"{kind}.crt").write_bytes(cert.to_pem())
        actor.call(
            "POST",
            "/api/v1/me/certificates",
            expect=201,
            json={"certificate_pem": cert.to_pem().decode(), "usage": usage.value},
        )
    (folder.parent / "root.pem").write_bytes(keys.ca.cert.to_pem())
    return sign_key


def upload_document(tenderee: Actor, key: PrivateKey, code: str, name: str, data: bytes) -> None:
    """What the tenderee does with `ggzy-bid sign-document` and the upload form."""
    sig = base64.b64encode(key.sign(tender_document_statement(code, name, sm3_hex(data), len(data)))).decode()
    tenderee.call(
        "POST",
        f"/api/v1/tenders/{code}/documents",
        expect=201,
        data=data,
        headers={"Content-Type": "application/octet-stream", "X-Document-Name": quote(name), "X-Signature": sig},
    )


def tender_body(
    title: str, deadline: dt.datetime, procedure: str, tenderee: str = "福州市城乡建设发展集团有限公司"
) -> dict[str, Any]:
    return {
        "title": title,
        "category": "construction",
        "procedure_code": procedure,
        "region": "350100",
        "bid_deadline": deadline.isoformat(),
        "description": "演示项目（数据均为虚构）。",
        "announcement_body": f"{title}已由福州市发展和改革委员会批准建设，资金来自财政资金，招标人为{tenderee}。"
        "现对该项目施工进行公开招标，欢迎具备市政公用工程施工总承包二级及以上资质的投标人参加。",
        "lots": [
            {
                "name": "施工标段",
                "estimated_price": "12800000.00",
                "bond_amount": "250000.00",
                "evaluation_method": "comprehensive",
                "criteria": SCORING_TEMPLATES["construction"]["criteria"],  # as the tenderee's form offers
                "committee_size": 5,
                "specialties": [{"code": SPECIALTY, "count": 4}],
                "price_fields": [{"name": "duration_days", "label": "工期（日历天）", "kind": "integer"}],
            }
        ],
    }
