"""Factories for domain objects, built through the real operations."""

from __future__ import annotations

import itertools
import re

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from archive.audit import ActorRef
from trading.accounts import operations as ops
from trading.accounts.credit_code import check_character
from trading.accounts.models import Organisation, OrgKind, Role, User
from trading.accounts.schemas import OrganisationIn, UserIn

TEST_ACTOR = ActorRef("test:factory", "admin")
PASSWORD = "correct horse battery"
_n = itertools.count(1)

KIND_FOR_ROLE = {
    Role.BIDDER: OrgKind.ENTERPRISE,
    Role.TENDEREE: OrgKind.TENDEREE,
    Role.AGENCY: OrgKind.AGENCY,
    Role.STAFF: OrgKind.TRADING_CENTER,
    Role.ADMIN: OrgKind.TRADING_CENTER,
    Role.EXPERT: OrgKind.EMPLOYER,
    Role.SUPERVISOR: OrgKind.SUPERVISION,
    Role.ISSUER: OrgKind.ISSUER,
}


def valid_code(n: int | None = None) -> str:
    base = f"91350100{(n if n is not None else next(_n) + 500_000_000):09d}"
    return base + check_character(base)


def make_org(session: Session, kind: OrgKind = OrgKind.ENTERPRISE, name: str | None = None) -> Organisation:
    i = next(_n)
    return ops.create_organisation(
        session,
        TEST_ACTOR,
        OrganisationIn(name=name or f"测试机构{i}", credit_code=valid_code(), kind=kind, region="350100"),
    )


def make_user(
    session: Session, role: Role = Role.BIDDER, username: str | None = None, org: Organisation | None = None
) -> User:
    org = org or make_org(session, KIND_FOR_ROLE[role])
    return ops.create_user(
        session,
        TEST_ACTOR,
        UserIn(
            username=username or f"user{next(_n)}",
            display_name="测试用户",
            password=PASSWORD,
            organisation_id=org.id,
            roles=[role],
        ),
    )


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF token"
    return m.group(1)


def page_login(client: FlaskClient, username: str, password: str = PASSWORD) -> None:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    r = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)


def api_token(client: FlaskClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert r.status_code == 201, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


# ---------------------------------------------------------------- tenders
import base64  # noqa: E402
import datetime as dt  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

from flask import Flask  # noqa: E402

from archive import clock  # noqa: E402
from signing.certs import Usage  # noqa: E402
from signing.sm2 import PrivateKey  # noqa: E402
from trading.core.platform_keys import PlatformKeys, ensure_platform_keys  # noqa: E402
from trading.pki.operations import register_certificate, trust_store  # noqa: E402


def platform_keys(app: Flask) -> PlatformKeys:
    return ensure_platform_keys(app.extensions["ggzy.settings"])


@dataclass
class Signer:
    user: User
    key: PrivateKey


def make_signer(session: Session, app: Flask, role: Role = Role.TENDEREE, org: Organisation | None = None) -> Signer:
    """A user with a registered signing certificate from the platform CA (as a UKey would hold)."""
    user = make_user(session, role, org=org)
    keys = platform_keys(app)
    key = PrivateKey.generate()
    cert = keys.ca.issue(
        key.public_key,
        common_name=user.display_name,
        usage=Usage.SIGN,
        now=clock.now(),
        org_code=user.organisation.credit_code if user.organisation else None,
    )
    register_certificate(session, user, cert, Usage.SIGN, trust_store(session, keys))
    return Signer(user, key)


def lot_body(**over: Any) -> dict[str, Any]:
    body = {
        "name": "一标段：土建施工",
        "estimated_price": "10000000.00",
        "bond_amount": "200000.00",
        "evaluation_method": "comprehensive",
        "criteria": {
            "compliance": ["营业执照", "施工资质"],
            "factors": [
                {"name": "施工组织设计", "weight": 50},
                {"name": "项目管理机构", "weight": 10, "objective": True},
            ],
            "price": {"formula": "benchmark", "weight": 40},
        },
        "committee_size": 5,
        "specialties": [{"code": "A01", "count": 4}],
        "price_fields": [{"name": "duration_days", "label": "工期（日历天）", "kind": "integer"}],
    }
    body.update(over)
    return body


def tender_body(deadline: dt.datetime | None = None, **over: Any) -> dict[str, Any]:
    deadline = deadline or (clock.now() + dt.timedelta(days=25))
    body = {
        "title": "福州市滨海新城道路改造工程施工招标",
        "category": "construction",
        "procedure_code": "construction_open",
        "region": "350100",
        "bid_deadline": deadline.isoformat(),
        "announcement_body": "本招标项目已由福州市发展和改革委员会批准建设，招标人为福州市城乡建设集团，现对该项目的施工进行公开招标。",
        "lots": [lot_body()],
    }
    body.update(over)
    return body


def sign_document(signer: Signer, tender_code: str, name: str, data: bytes) -> str:
    from signing.digest import sm3_hex
    from signing.statements import tender_document_statement as document_statement

    statement = document_statement(tender_code, name, sm3_hex(data), len(data))
    return base64.b64encode(signer.key.sign(statement)).decode()


def upload(
    client: FlaskClient,
    headers: dict[str, str],
    signer: Signer,
    code: str,
    name: str,
    data: bytes,
    announcement_id: int | None = None,
) -> Any:
    from urllib.parse import quote

    url = f"/api/v1/tenders/{code}/documents" + (f"?announcement_id={announcement_id}" if announcement_id else "")
    return client.post(
        url,
        data=data,
        headers=headers
        | {
            "Content-Type": "application/octet-stream",
            "X-Document-Name": quote(name),
            "X-Signature": sign_document(signer, code, name, data),
        },
    )


# ---------------------------------------------------------------- bids
@dataclass
class BidderKeys:
    user: User
    sign_key: PrivateKey
    sign_cert: Any
    enc_key: PrivateKey
    enc_cert: Any


def make_bidder_with_keys(session: Session, app: Flask, role: Role = Role.BIDDER) -> BidderKeys:
    """A user (a bidder, or another role such as an issuer's API client) with a signing and an
    encryption certificate from the platform CA, as a UKey holds them."""
    user = make_user(session, role)
    keys = platform_keys(app)
    trust = trust_store(session, keys)
    code = user.organisation.credit_code if user.organisation else None
    sk, ek = PrivateKey.generate(), PrivateKey.generate()
    sc = keys.ca.issue(sk.public_key, common_name=user.display_name, usage=Usage.SIGN, now=clock.now(), org_code=code)
    ec = keys.ca.issue(
        ek.public_key, common_name=user.display_name, usage=Usage.ENCRYPT, now=clock.now(), org_code=code
    )
    register_certificate(session, user, sc, Usage.SIGN, trust)
    register_certificate(session, user, ec, Usage.ENCRYPT, trust)
    return BidderKeys(user, sk, sc, ek, ec)


def seal_bid(b: BidderKeys, tender_code: str, plaintext: bytes, lot: int = 1, chunk_size: int = 4096) -> bytes:
    import io

    from signing.envelope import seal

    out = io.BytesIO()
    assert b.user.organisation is not None
    seal(
        io.BytesIO(plaintext),
        out,
        tender_id=tender_code,
        lot_id=str(lot),
        bidder_id=b.user.organisation.credit_code,
        signing_key=b.sign_key,
        signing_cert=b.sign_cert,
        recipient_cert=b.enc_cert,
        now=clock.now(),
        chunk_size=chunk_size,
    )
    return out.getvalue()


def head_of(blob: bytes) -> bytes:
    import io

    from signing.envelope import read_header

    src = io.BytesIO(blob)
    read_header(src)
    return blob[: src.tell()]


def init_upload(client: FlaskClient, headers: dict[str, str], blob: bytes, code: str, lot: int = 1) -> Any:
    """Open an upload of the sealed ``blob`` (its envelope header sent with the init)."""
    return client.post(
        "/api/v1/bids/uploads",
        headers=headers,
        json={"tender": code, "lot": lot, "size": len(blob), "head": base64.b64encode(head_of(blob)).decode()},
    )


def send_parts(
    client: FlaskClient, headers: dict[str, str], up: dict[str, Any], blob: bytes, step: dt.timedelta | None = None
) -> Any:
    """Send every part of ``blob`` with the SM3 of the prefix it ends; with ``step``, the clock moves
    that much before each part. The first refusal, or the last answer."""
    from archive import clock
    from signing.digest import SM3

    h, r, at = SM3(), None, clock.now()
    for n, start in enumerate(range(0, len(blob), up["part_size"]), start=1):
        part = blob[start : start + up["part_size"]]
        h.update(part)
        put = {
            "data": part,
            "headers": headers | {"X-Prefix-SM3": h.hexdigest(), "Content-Type": "application/octet-stream"},
        }
        url = f"/api/v1/bids/uploads/{up['upload_id']}/parts/{n}"
        if step is None:
            r = client.put(url, **put)
        else:
            at += step
            with clock.frozen(at):
                r = client.put(url, **put)
        if r.status_code != 200:
            return r
    return r


def upload_bid(
    client: FlaskClient, headers: dict[str, str], blob: bytes, code: str, lot: int = 1, complete: bool = True
) -> Any:
    """What `ggzy-bid upload` does: init, parts with the prefix SM3, complete."""
    r = init_upload(client, headers, blob, code, lot)
    if r.status_code != 201:
        return r
    up = r.get_json()
    r = send_parts(client, headers, up, blob)
    if r is not None and r.status_code != 200:
        return r
    if not complete:
        return up
    return client.post(f"/api/v1/bids/uploads/{up['upload_id']}/complete", headers=headers)


def pdf_pages(n: int) -> bytes:
    """A PDF of ``n`` pages, each saying "page i" (what a bid's documents look like to the stamp)."""
    import io

    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    c = canvas.Canvas(out)
    for i in range(n):
        c.drawString(100, 700, f"page {i}")
        c.showPage()
    c.save()
    return out.getvalue()


# ---------------------------------------------------------------- evaluation (operation-level states)
from decimal import Decimal  # noqa: E402

from sqlalchemy import select  # noqa: E402


def user_named(session: Session, username: str) -> User:
    return session.scalars(select(User).where(User.username == username)).one()


def lot_of(session: Session, t: dict[str, Any], number: int = 1) -> Any:
    from trading.tenders.models import Lot, Tender

    return session.scalars(select(Lot).join(Tender).where(Tender.code == t["code"], Lot.number == number)).one()


def draw_and_confirm(
    session: Session, app: Flask, t: dict[str, Any], slots: list[Any] | None = None, confirm: bool = True
) -> Any:
    """Staff commit and run the lot's draw (``slots`` as ``rules.Slot``), and (with ``confirm``)
    every invited expert accepts: the operations ``commit_draw``, ``run_draw``, ``respond``, then
    commit. The draw."""
    from trading.core.platform_keys import key_encryption_key
    from trading.core.services import services
    from trading.evaluation.draws import commit_draw, respond, run_draw
    from trading.evaluation.models import Expert

    svc, staff = services(app), user_named(session, t["staff_username"])
    kek = key_encryption_key(svc.settings)
    d = commit_draw(session, staff, svc.store, lot_of(session, t), slots, kek=kek)
    for m in run_draw(session, staff, svc.store, d, kek=kek):
        if not confirm:
            continue
        expert = session.get(Expert, m.expert_id)
        assert expert is not None and expert.user_id is not None
        respond(session, session.get_one(User, expert.user_id), m.id, True)
    session.commit()
    return d


def open_room_of(session: Session, app: Flask, t: dict[str, Any]) -> int:
    """Staff open the lot's room (operation ``open_room``) once its committee confirmed: its id."""
    from trading.evaluation.room import open_room

    ev = open_room(session, user_named(session, t["staff_username"]), lot_of(session, t))
    session.commit()
    return ev.id


def _evaluation(session: Session, room: dict[str, Any]) -> Any:
    from trading.evaluation.models import Evaluation

    ev = session.get_one(Evaluation, room["ev"]["id"])
    session.refresh(ev)
    return ev


def pass_every_bid(session: Session, room: dict[str, Any]) -> None:
    """Each member of ``room`` (as ``start_review`` returns it) passes every bid and the leader
    closes the review (``vote_compliance``, ``close_compliance``): the room is scoring."""
    from trading.evaluation.compliance import close_compliance, vote_compliance

    ev = _evaluation(session, room)
    for x in room["committee"]:
        for b in room["bids"]:
            vote_compliance(session, x["signer"].user, ev, b, True, [], "")
    close_compliance(session, room["committee"][0]["signer"].user, ev)
    session.commit()


def score_every_bid(session: Session, app: Flask, room: dict[str, Any], first: int = 40) -> dict[str, Any]:
    """Each member scores the n-th bid ``first - n`` for the design and 8 for the management,
    and the leader generates the report (``submit_scores``, ``run_checks``, ``generate_report``):
    the room is signing. The report."""
    from trading.core.services import services
    from trading.evaluation.scores import run_checks, submit_scores
    from trading.evaluation.signoff import generate_report

    ev = _evaluation(session, room)
    for x in room["committee"]:
        for n, b in enumerate(room["bids"]):
            s = first - n
            submit_scores(
                session, x["signer"].user, ev, b, {"施工组织设计": str(s), "项目管理机构": "8"}, Decimal(s + 8)
            )
    lead = room["committee"][0]["signer"].user
    run_checks(session, lead, ev)
    report = generate_report(session, lead, ev, services(app))
    session.commit()
    return {"report": report, "report_sm3": ev.report_sm3}


def add_expert_of(session: Session, t: dict[str, Any], **body: Any) -> int:
    """Staff add an expert to the pool (operation ``add_expert``; ``body`` as ``ExpertIn``): its id."""
    from trading.evaluation.experts import add_expert
    from trading.evaluation.schemas import ExpertIn

    e = add_expert(session, user_named(session, t["staff_username"]), ExpertIn(**body))
    session.commit()
    return e.id


# ---------------------------------------------------------------- guarantees
def apply_for_guarantees(session: Session, app: Flask, t: dict[str, Any], issuer_code: str, who: list[int]) -> None:
    """The bidders ``who`` (indexes into ``t["bidders"]``) each ask the issuer for a guarantee for
    lot 1 (operation ``apply``), then commit."""
    from trading.core.platform_keys import key_encryption_key
    from trading.core.services import services
    from trading.guarantees.orders import apply
    from trading.tenders.models import Tender

    tender = session.scalars(select(Tender).where(Tender.code == t["code"])).one()
    kek = key_encryption_key(services(app).settings)
    for i in who:
        apply(session, t["bidders"][i].user, tender, 1, issuer_code, kek=kek)
    session.commit()
