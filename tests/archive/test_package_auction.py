"""An auction lot's archive package, built by the archives sweep once the lot has ended and its
checkpoint is signed, verifies offline and replays to the winner and price the platform signed;
each kind of tampering (a bid's amount or signature, a dropped or swapped bid, a bid too low or
late, the reserve's salt, the result's winner) is found and named, even when whoever tampered could
sign as the platform (a result signed anew is then not the one the lot's logged end names); a lot
that failed below its reserve replays to 流拍."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from archive import clock, package_auction, package_check, package_findings
from archive import package as pkg
from archive.package_auction_records import RESULT_NOT_LOGGED
from signing.canonical import canonical_json
from signing.statements import SignedStatement, auction_bid_statement, sign_statement
from tests.factories import api_token, make_user, page_login
from tests.trading.auctions.test_bidding import T0, Buyer, bid, make_lot
from trading.accounts.models import Role
from trading.archives import auction_building
from trading.archives.models import ArchivePackage
from trading.auctions import room
from trading.auctions.models import Auction, AuctionState
from trading.auctions.tasks import auction_clock_job
from trading.audit.tasks import sign_checkpoints_job
from trading.cli import main
from trading.core.services import Services, services

Tamper = Callable[[dict[str, bytes]], None]


@dataclass
class Built:
    data: bytes
    svc: Services
    lot: Auction
    buyers: list[Buyer]

    def verify(self, data: bytes | None = None) -> package_findings.Report:
        return package_check.verify(io.BytesIO(self.data if data is None else data), self.svc.keys.ca.cert)


def archive(session: Session, svc: Services, a: Auction) -> bytes:
    """The sweep's package of ``a``: none before its checkpoint is signed, then one, once."""
    now = clock.now()
    assert auction_building.build_for(session, a, svc, now) is None  # its checkpoint is not signed yet
    sign_checkpoints_job(session, now, svc)
    row = auction_building.build_for(session, a, svc, now)
    assert row is not None and row.auction_id == a.id and row.lot_id is None and row.tender_id is None
    assert auction_building.build_for(session, a, svc, now) is None  # once per end
    return svc.archive_store.read_bytes(row.object_key)


def run_sold(session: Session, app: Flask) -> Built:
    """A land auction with a reserve: free bidding, an increment change, the countdown with a pause
    in it, and a sale to the last bidder above the reserve."""
    svc = services(app)
    a, buyers = make_lot(session, app, reserve_price="1050000.00", free_minutes=10)
    b1, b2, b3 = buyers
    staff = make_user(session, Role.STAFF)
    with clock.frozen(T0 + dt.timedelta(seconds=5)) as c:
        bid(session, svc, a, b1, "1000000.00")
        bid(session, svc, a, b2, "1010000.00")
        room.change_increment(session, svc, staff, a.code, "20000.00", "报价踊跃，调整加价幅度")
        bid(session, svc, a, b3, "1030000.00", seen=1)
        c.set(T0 + dt.timedelta(minutes=11))
        bid(session, svc, a, b1, "1050000.00")  # the countdown has run since T0+10 min
        c.advance(seconds=200)
        room.pause(session, svc, staff, a.code, "行情系统网络故障")
        c.advance(minutes=20)
        room.resume(session, svc, staff, a.code)
        c.advance(seconds=90)  # 290 s of the 300 after the last bid, not counting the pause
        bid(session, svc, a, b2, "1080000.00")
        c.advance(seconds=301)
        assert auction_clock_job(session, clock.now(), svc) == 1
        assert a.state is AuctionState.SOLD
        data = archive(session, svc, a)
    return Built(data, svc, a, buyers)


@pytest.fixture
def sold(session: Session, app: Flask) -> Built:
    return run_sold(session, app)


def codes(report: package_findings.Report) -> set[str]:
    return {c.code for c in report.checks if not c.ok}


def members(data: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    z = zipfile.ZipFile(io.BytesIO(data))
    manifest = json.loads(z.read(pkg.MANIFEST))
    return manifest, {f["path"]: z.read(f["path"]) for f in manifest["files"]}


def rebuilt(b: Built, tamper: Tamper) -> bytes:
    """The package with ``tamper`` applied to its members, its manifest listed and signed anew with
    the platform's key: what the replay finds then is all that is left to find."""
    manifest, files = members(b.data)
    tamper(files)
    entries = [
        pkg.bytes_entry(
            f["path"],
            f["category"],
            f["kind"],
            files[f["path"]],
            **{k: v for k, v in f.items() if k not in ("path", "sm3", "size", "category", "kind")},
        )
        for f in manifest["files"]
        if f["path"] not in (pkg.PLATFORM_CERT, pkg.CA_ROOT)
    ]
    header = {k: v for k, v in manifest.items() if k not in ("format", "version", "built_at", "files")}
    keys = b.svc.keys
    out = io.BytesIO()
    pkg.build(out, entries, header, key=keys.sign_key, cert=keys.sign_cert, root=keys.ca.cert, now=clock.now())
    return out.getvalue()


def edit_json(files: dict[str, bytes], path: str, change: Callable[[Any], Any]) -> None:
    value = json.loads(files[path])
    files[path] = canonical_json(change(value) or value)


def resign_result(b: Built, change: Callable[[dict[str, Any]], None]) -> Tamper:
    """A result the platform's key signs with a changed body (a platform lying about its own bids)."""

    def tamper(files: dict[str, bytes]) -> None:
        st = SignedStatement.from_json(files["auction/result.sig.json"])
        body = dict(st.body)
        change(body)
        keys = b.svc.keys
        files["auction/result.sig.json"] = sign_statement(
            "auction_result", body, key=keys.sign_key, cert=keys.sign_cert, now=st.signed_at
        ).to_json()

    return tamper


def test_a_sold_lot_verifies_and_replays_to_the_signed_result(sold: Built, tmp_path: Any) -> None:
    report = sold.verify()
    assert report.ok, list(report.lines())
    b2 = sold.buyers[1]
    assert report.replay.startswith(f"成交：竞买号牌 {b2.number}") and "1080000.00" in report.replay
    checked = {c.what for c in report.checks if c.ok}
    for line in (
        "出价签名",
        "出价顺序",
        "加价幅度",
        "竞价阶段与限时竞价计时",
        "审计日志对照",
        "底价承诺与揭示",
        "竞价复算",
    ):
        assert any(w.startswith(line) for w in checked), line
    manifest, files = members(sold.data)
    assert manifest["auction"] == sold.lot.code and manifest["end_state"] == "sold"
    for path in ("auction/bids.json", "auction/feed.json", "auction/registrations.json", "auction/deposits.json"):
        assert path in files
    assert files["auction/result.pdf"].startswith(b"%PDF")
    bids = json.loads(files["auction/bids.json"])
    assert [x["seq"] for x in bids] == [1, 2, 3, 4, 5]
    regs = {r["bidding_number"]: r for r in json.loads(files["auction/registrations.json"])}
    assert regs[b2.number]["credit_code"] == b2.keys.user.organisation.credit_code  # type: ignore[union-attr]
    deposits = json.loads(files["auction/deposits.json"])
    assert [d["kind"] for d in deposits if d["bidding_number"] == b2.number][-1] == "converted"
    feed = [e["kind"] for e in json.loads(files["auction/feed.json"])]
    assert feed.count("bid") == 5 and "increment" in feed
    events = [json.loads(line)["action"] for line in files["log/events.jsonl"].decode().splitlines()]
    assert events.count("auction.bid") == 5 and "auction.reserve_reveal" in events and "auction.sold" in events
    # the command line says whom the bids replay to
    path, root = tmp_path / "lot.zip", tmp_path / "root.pem"
    path.write_bytes(sold.data)
    root.write_bytes(sold.svc.keys.ca.cert.to_pem())
    r = CliRunner().invoke(main, ["archive", "verify", str(path), "--root", str(root)])
    assert r.exit_code == 0, r.output
    assert f"竞价复算结果 (replayed)：成交：竞买号牌 {b2.number}" in r.output


def test_the_rebuilt_package_without_changes_still_replays(sold: Built) -> None:
    assert sold.verify(rebuilt(sold, lambda files: None)).ok


def _bid(i: int, change: Callable[[dict[str, Any]], None]) -> Tamper:
    def tamper(files: dict[str, bytes]) -> None:
        edit_json(files, "auction/bids.json", lambda bids: change(bids[i]))

    return tamper


def _swap(files: dict[str, bytes]) -> None:
    edit_json(files, "auction/bids.json", lambda bids: bids.__setitem__(slice(1, 3), [bids[2], bids[1]]))


def _drop(files: dict[str, bytes]) -> None:
    edit_json(files, "auction/bids.json", lambda bids: bids.pop(1) and None)


def _other_signature(files: dict[str, bytes]) -> None:
    def change(bids: list[dict[str, Any]]) -> None:
        bids[3]["signature"] = bids[2]["signature"]

    edit_json(files, "auction/bids.json", change)


def _salt(files: dict[str, bytes]) -> None:
    edit_json(files, "auction/reserve.json", lambda r: r.__setitem__("salt", "00" * 16))


@pytest.mark.parametrize(
    ("case", "tamper", "finding"),
    [
        ("a bid's amount", _bid(2, lambda x: x.__setitem__("amount", "1040000.00")), package_auction.BID_MISMATCH),
        ("another bid's signature", _other_signature, package_auction.BID_SIGNATURE),
        ("a dropped bid", _drop, package_auction.BID_SEQUENCE),
        ("two bids swapped", _swap, package_auction.BID_SEQUENCE),
        (
            "a restart of the countdown",
            _bid(4, lambda x: x.__setitem__("countdown_ends_at", None)),
            "auction_countdown_not_restarted",
        ),
        ("the reserve's salt", _salt, package_auction.RESERVE_MISMATCH),
    ],
)
def test_tampering_a_part_is_named(sold: Built, case: str, tamper: Tamper, finding: str) -> None:
    report = sold.verify(rebuilt(sold, tamper))
    assert not report.ok and finding in codes(report), (case, codes(report), list(report.lines()))


def test_a_changed_member_without_the_platforms_key_fails_its_digest(sold: Built) -> None:
    _, files = members(sold.data)
    raw = files["auction/bids.json"]
    data = sold.data.replace(raw, raw.replace(b"1030000.00", b"1030000.01"), 1)
    assert "digest_mismatch" in codes(sold.verify(data)) or "bad_crc" in codes(sold.verify(data))


def test_a_result_naming_another_winner_is_found(sold: Built) -> None:
    b1 = sold.buyers[0]

    def other(body: dict[str, Any]) -> None:
        org = b1.keys.user.organisation
        assert org is not None
        body["winner"] = {"bidding_number": b1.number, "name": org.name, "credit_code": org.credit_code}

    report = sold.verify(rebuilt(sold, resign_result(sold, other)))
    # and the log's end names the result signed at the end, not this one
    assert codes(report) == {package_auction.RESULT_MISMATCH, RESULT_NOT_LOGGED}, list(report.lines())
    assert any("复算为" in c.detail and sold.buyers[1].number in c.detail for c in report.checks)

    # not signed by the platform: the statement itself fails
    def forged(files: dict[str, bytes]) -> None:
        files["auction/result.sig.json"] = files["auction/result.sig.json"].replace(b"A", b"B", 1)

    assert package_auction.RESULT_INVALID in codes(sold.verify(rebuilt(sold, forged)))


def test_a_result_revealing_another_salt_does_not_open_the_commitment(sold: Built) -> None:
    def salt(body: dict[str, Any]) -> None:
        body["reserve"] = {**body["reserve"], "salt": "ab" * 16}

    def both(files: dict[str, bytes]) -> None:
        resign_result(sold, salt)(files)
        edit_json(files, "auction/reserve.json", lambda r: r.__setitem__("salt", "ab" * 16))

    assert codes(sold.verify(rebuilt(sold, both))) == {package_auction.RESERVE_MISMATCH, RESULT_NOT_LOGGED}


def test_a_bid_below_the_increment_is_found_though_its_buyer_signed_it(sold: Built) -> None:
    """The platform accepting a bid the rules refuse: the buyer's signature is good, the amount is not."""
    b3 = sold.buyers[2]

    def low(files: dict[str, bytes]) -> None:
        def change(bids: list[dict[str, Any]]) -> None:
            x = bids[2]  # 1,010,000 + 20,000 was the least; 1,020,000 signed
            statement = auction_bid_statement(sold.lot.code, b3.number, "1020000.00", x["seen_seq"])
            x["amount"], x["statement"] = "1020000.00", statement.decode()
            x["signature"] = base64.b64encode(b3.keys.sign_key.sign(statement)).decode()

        edit_json(files, "auction/bids.json", change)
        edit_json(
            files,
            "auction/feed.json",
            lambda feed: (
                [
                    e["payload"].__setitem__("amount", "1020000.00")
                    for e in feed
                    if e["kind"] == "bid" and e["payload"]["seq"] == 3
                ]
                and None
            ),
        )

    found = codes(sold.verify(rebuilt(sold, low)))
    assert package_auction.BID_TOO_LOW in found and package_auction.BID_SIGNATURE not in found


def test_a_bid_after_the_countdown_ran_out_is_late(sold: Built) -> None:
    def late(files: dict[str, bytes]) -> None:
        def change(bids: list[dict[str, Any]]) -> None:
            x = bids[4]
            at = dt.datetime.fromisoformat(x["accepted_at"]) + dt.timedelta(seconds=15)
            x["accepted_at"] = at.isoformat()
            x["countdown_ends_at"] = (at + dt.timedelta(seconds=300)).isoformat()

        edit_json(files, "auction/bids.json", change)

    assert package_auction.BID_LATE in codes(sold.verify(rebuilt(sold, late)))


def test_a_lot_below_its_reserve_replays_to_a_failure(session: Session, app: Flask) -> None:
    svc = services(app)
    a, (b1, b2, _) = make_lot(session, app, reserve_price="1500000.00")
    with clock.frozen(T0 + dt.timedelta(seconds=1)) as c:
        bid(session, svc, a, b1, "1200000.00")
        bid(session, svc, a, b2, "1300000.00")
        c.set(T0 + dt.timedelta(minutes=10, seconds=300))
        assert auction_clock_job(session, clock.now(), svc) == 1
        assert a.state is AuctionState.FAILED
        data = archive(session, svc, a)
    built = Built(data, svc, a, [])
    report = built.verify()
    assert report.ok, list(report.lines())
    assert report.replay.startswith("流拍：最高报价低于底价，最高报价 1300000.00 元")
    manifest, files = members(data)
    assert manifest["end_state"] == "unsold"
    assert json.loads(files["auction/reserve.json"])["price"] == "1500000.00"

    # a platform claiming a sale below the reserve it committed to
    def sale(body: dict[str, Any]) -> None:
        org = b2.keys.user.organisation
        assert org is not None
        body.update(outcome="sold", reason=None, final_price="1300000.00")
        body["winner"] = {"bidding_number": b2.number, "name": org.name, "credit_code": org.credit_code}

    found = codes(built.verify(rebuilt(built, resign_result(built, sale))))
    assert found == {package_auction.RESULT_MISMATCH, RESULT_NOT_LOGGED}


def test_the_sweep_builds_each_ended_lot_once(session: Session, app: Flask) -> None:
    svc = services(app)
    a, (b1, _, _) = make_lot(session, app)
    with clock.frozen(T0 + dt.timedelta(seconds=1)) as c:
        bid(session, svc, a, b1, "1000000.00")
        c.set(T0 + dt.timedelta(minutes=16))
        auction_clock_job(session, clock.now(), svc)
        sign_checkpoints_job(session, clock.now(), svc)
        assert auction_building.build_due(session, svc, clock.now()) >= 1
        assert auction_building.build_due(session, svc, clock.now()) == 0
    rows = session.query(ArchivePackage).filter(ArchivePackage.auction_id == a.id).all()
    assert [r.reason for r in rows] == ["sold"]


def test_the_archive_lists_and_shows_auction_packages(client: FlaskClient, sold: Built, session: Session) -> None:
    staff = make_user(session, Role.STAFF)
    headers = api_token(client, staff.username)
    items = client.get("/api/v1/archives", headers=headers).get_json()["items"]
    (mine,) = [i for i in items if i["auction"] == sold.lot.code]
    assert mine["end_state"] == "sold" and mine["tender"] is None and mine["lot"] is None and mine["lot_id"] is None
    found = client.get("/api/v1/archives", query_string={"q": sold.lot.code}, headers=headers).get_json()["items"]
    assert [i["id"] for i in found] == [mine["id"]]
    assert client.post(f"/api/v1/archives/{mine['id']}/verify", headers=headers).get_json()["ok"] is True
    page_login(client, staff.username)
    listing = client.get("/archives").get_data(as_text=True)
    assert sold.lot.code in listing and "产权交易标的" in listing
    detail = client.get(f"/archives/{mine['id']}").get_data(as_text=True)
    assert sold.lot.code in detail and "已成交" in detail and f"/auctions/{sold.lot.code}/result" in detail
