"""The parties of issue 23's end-to-end tests, over real HTTP: the app on PostgreSQL served by a
thread of the test process (so the platform clock the test freezes is the server's), staff and
buyers with ``bidding.client.Client`` (buyers logged in UKey-style with their registered SM2 key
and bidding through ``bidding.auction``, as ``ggzy-bid auction`` does), the platform's scheduler
running its own jobs when the test says the time has come, and the archive package fetched over
the API and checked offline (``archive.package_check.verify``).
"""

from __future__ import annotations

import datetime as dt
import http.client
import io
import json
import secrets
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Flask

from archive import clock
from archive.package_check import verify
from archive.package_findings import Report
from bidding import auction
from bidding.client import ApiError, Client
from signing.sm2 import PrivateKey
from tests.factories import PASSWORD, make_bidder_with_keys, make_user, page_login
from tests.trading.auctions.helpers_lots import lot_body
from trading.accounts.models import Role
from trading.app import import_job_modules
from trading.core.scheduler import LeaseScheduler
from trading.core.services import services

#: an API session lasts 30 days; the flows log in again when the clock has moved on this far
RELOGIN_AFTER = dt.timedelta(days=7)
#: the buyers' organisations, named so that a name found in a page is unmistakably one of them
BUYER_NAMES = ("福州闽江置业有限公司", "福建海峡城建集团有限公司", "厦门鹭岛投资发展有限公司")


@dataclass
class Party:
    """A user of the platform with its own HTTP client (a buyer also holds its UKey's signing key)."""

    server: str
    username: str
    key: PrivateKey | None = None
    org_name: str = ""
    credit_code: str = ""
    number: str = ""  # a buyer's bidding number (竞买号牌), once drawn
    registration: int = 0
    document: int = 0  # its qualification document's id
    _client: Client | None = None
    _since: dt.datetime | None = None

    @property
    def api(self) -> Client:
        now = clock.now()
        if self._client is None or self._since is None or now - self._since > RELOGIN_AFTER:
            c = Client(self.server, timeout=30)
            if self.key is not None:
                c.login_sm2(self.username, self.key)  # the UKey way: SM2 challenge-response
            else:
                c.login(self.username, PASSWORD)
            self._client, self._since = c, now
        return self._client

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return self.api.request(method, path, body)

    def upload(self, path: str, name: str, data: bytes) -> Any:
        """A multipart upload of one file (field ``file``), as a browser or curl sends it."""
        boundary = f"ggzy{secrets.token_hex(8)}"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        body = head + data + f"\r\n--{boundary}--\r\n".encode()
        return self.api.request("POST", path, body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def bid(self, code: str, amount: str) -> dict[str, Any]:
        """``ggzy-bid auction bid``: signed here with the buyer's key, on the last bid it has seen."""
        assert self.key is not None
        return auction.place_bid(self.api, code, amount, self.key)


def refused(call: Callable[[], Any]) -> tuple[int, str]:
    """The platform's named refusal of ``call``: (HTTP status, error code)."""
    try:
        got = call()
    except ApiError as exc:
        return exc.status, exc.code
    raise AssertionError(f"accepted, expected a refusal: {got}")


@dataclass
class Platform:
    """The app on PostgreSQL behind a real HTTP server, and its scheduler."""

    app: Flask
    server: str
    public: Client = field(init=False)
    scheduler: LeaseScheduler = field(init=False)

    def __post_init__(self) -> None:
        self.public = Client(self.server, timeout=30)
        import_job_modules()
        self.scheduler = LeaseScheduler(self.app.extensions["ggzy.db"], services=services(self.app))

    # ------------------------------------------------------------ people
    def staff(self) -> Party:
        with self.app.extensions["ggzy.db"].session() as s:
            username = make_user(s, Role.STAFF).username
        return Party(self.server, username)

    def buyers(self, n: int) -> list[Party]:
        """``n`` bidders (竞买人), each with a signing certificate from the platform CA registered."""
        out = []
        with self.app.extensions["ggzy.db"].session() as s:
            for name in BUYER_NAMES[:n]:
                k = make_bidder_with_keys(s, self.app)
                org = k.user.organisation
                assert org is not None
                org.name = name
                out.append(Party(self.server, k.user.username, k.sign_key, name, org.credit_code))
        return out

    # ------------------------------------------------------------ the scheduler
    def run(self, *jobs: str) -> None:
        """The scheduler's jobs, as it runs them at their intervals (every one must succeed)."""
        for name in jobs:
            assert self.scheduler.run_job(name) is not None, f"the scheduler's {name} failed"

    def tick(self) -> None:
        """One round of what the scheduler does within seconds: the room's clock, the result's PDF,
        the signed checkpoints and the archive packages of ended lots."""
        self.run("auction_clock", "auction_result_pdfs", "sign_checkpoints", "build_archives")

    # ------------------------------------------------------------ reading
    def lot(self, code: str) -> dict[str, Any]:
        return dict(self.public.request("GET", auction.lot_path(code)))

    def text(self, path: str, cookie: str | None = None) -> tuple[int, str]:
        """A page or an answer as anyone gets it: its status and its text."""
        u = urlsplit(self.server)
        c = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port, timeout=30)
        try:
            c.request("GET", path, headers={"Cookie": cookie} if cookie else {})
            resp = c.getresponse()
            return resp.status, resp.read().decode("utf-8", errors="replace")
        finally:
            c.close()

    # ------------------------------------------------------------ setting up
    def body(self, procedure: str, **over: Any) -> dict[str, Any]:
        """A lot's setup whose periods satisfy ``procedure`` if published now (helpers_lots)."""
        with self.app.extensions["ggzy.db"].session() as s:
            return lot_body(s, procedure, **over)

    def publish(self, staff: Party, procedure: str, reserve: str | None, **over: Any) -> dict[str, Any]:
        """Staff create the draft, attach its documents and publish it (the reserve committed)."""
        code = staff.call("POST", "/api/v1/auctions", self.body(procedure, **over))["code"]
        doc = staff.upload(f"/api/v1/auctions/{quote(code)}/documents", "出让须知.pdf", b"%PDF-1.4 " + code.encode())
        assert doc["sm3"] and doc["size"] > 0
        lot = dict(staff.call("POST", f"/api/v1/auctions/{quote(code)}/publish", {"reserve_price": reserve}))
        assert lot["state"] == "announced" and (lot["reserve_sm3"] is not None) == (reserve is not None)
        return lot

    def register(self, staff: Party, code: str, buyers: list[Party]) -> None:
        """Each buyer applies with a qualification document; staff review it (a number is drawn);
        the buyer reports its bank transfer; staff confirm the deposit arrived."""
        path = auction.lot_path(code)
        for i, b in enumerate(buyers, 1):
            reg = auction.register(b.api, code, f"联系人{i}", f"0591-8888000{i}")
            assert reg["state"] == "submitted" and reg["bidding_number"] is None
            doc = b.upload(f"{path}/registration/documents", "营业执照.pdf", f"营业执照 {b.credit_code}".encode())
            assert doc["name"] == "营业执照.pdf"
            b.registration, b.document = int(reg["id"]), int(doc["id"])
        listed = staff.call("GET", f"{path}/registrations")
        assert {r["org_name"] for r in listed["items"]} == {b.org_name for b in buyers}
        for b in buyers:
            staff.call("POST", f"/api/v1/auction-registrations/{b.registration}/review", {"approve": True})
            paid = auction.report_deposit(b.api, code, f"BANK-IN-{b.registration:05d}")
            assert paid["deposit_state"] == "reported" and not paid["may_bid"]
            staff.call(
                "POST",
                f"/api/v1/auction-registrations/{b.registration}/deposit/confirm",
                {"reference": f"CONFIRM-{b.registration:05d}"},
            )
            mine = auction.own(b.api, code)
            assert mine["may_bid"] and mine["deposit_state"] == "confirmed"
            b.number = str(mine["bidding_number"])
        assert len({b.number for b in buyers}) == len(buyers)

    def refund(self, staff: Party, buyer: Party) -> dict[str, Any]:
        return dict(
            staff.call(
                "POST",
                f"/api/v1/auction-registrations/{buyer.registration}/deposit/refund",
                {"reference": f"REFUND-{buyer.registration:05d}"},
            )
        )

    # ------------------------------------------------------------ the archive
    def package(self, staff: Party, code: str) -> tuple[bytes, Report]:
        """The lot's archive package as staff download it, and what the offline check reports."""
        items = staff.call("GET", "/api/v1/archives")["items"]
        (row,) = [p for p in items if p.get("auction") == code]
        data = staff.call("GET", f"/api/v1/archives/{row['id']}/download")
        assert isinstance(data, bytes)
        report = verify(io.BytesIO(data), services(self.app).keys.ca.cert)  # offline: the bytes and the root
        return data, report


def package_json(data: bytes, path: str) -> Any:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return json.loads(z.read(path))


def countdown_end(answer: dict[str, Any], seconds: int = 300) -> dt.datetime:
    """Where a bid accepted in the countdown must have restarted it to."""
    return dt.datetime.fromisoformat(answer["accepted_at"]) + dt.timedelta(seconds=seconds)


def at(text: str | None) -> dt.datetime:
    assert text is not None
    return dt.datetime.fromisoformat(text)


def assert_no_names(platform: Platform, code: str, buyers: list[Party], viewer: Party) -> None:
    """Before the result, nothing public (the lists, the lot, its bids, its feed, its announcement,
    its pages, the public watch page) and nothing another buyer sees (the API, its room page) names
    a buyer's organisation or credit code; the bids show bidding numbers only."""
    path = auction.lot_path(code)
    seen: dict[str, str] = {}
    for p in (
        "/api/v1/auctions",
        path,
        f"{path}/bids",
        f"{path}/events",
        f"{path}/announcement",
        f"{path}/result",
        "/auctions",
        f"/auctions/{quote(code)}",
        f"/auctions/{quote(code)}/watch",
        f"/auctions/{quote(code)}/result",
    ):
        status, text = platform.text(p)
        assert status in (200, 409), (p, status, text[:300])
        seen[p] = text
    assert platform.text(f"{path}/result")[0] == 409  # auction_not_ended
    for b in buyers:  # a buyer's qualification documents are not the lot's, whatever their id
        for p in (f"{path}/documents/{b.document}", f"/auctions/{quote(code)}/documents/{b.document}"):
            status, text = platform.text(p)
            assert status == 404, (p, status)
            seen[p] = text
    seen["buyer:lot"] = json.dumps(viewer.call("GET", path), ensure_ascii=False)
    seen["buyer:bids"] = json.dumps(viewer.call("GET", f"{path}/bids"), ensure_ascii=False)
    for b in buyers:
        if b is not viewer:  # another buyer's application and documents do not exist for it
            doc = f"/api/v1/auction-registrations/{b.registration}/documents/{b.document}"
            assert refused(partial(viewer.call, "GET", doc))[0] == 404
    browser = platform.app.test_client()
    page_login(browser, viewer.username)
    room = browser.get(f"/auctions/{quote(code)}/room")
    assert room.status_code == 200
    seen["buyer:room"] = room.get_data(as_text=True)
    for where, text in seen.items():
        for b in buyers:
            if where.startswith("buyer:") and b is viewer:
                continue  # its own name on its own pages is no disclosure
            assert b.org_name not in text and b.credit_code not in text, (where, b.org_name)
    bids = json.loads(seen[f"{path}/bids"])["items"]
    assert bids and {x["bidding_number"] for x in bids} <= {b.number for b in buyers}
