"""The demo as a newcomer meets it (issue 19): it never records an instant that has not happened and
its trail's order is its time's order, in the audit trail and in every document and receipt it made;
its candidate publicity is one a bidder can object in; it prints what ``ggzy-bid`` needs, in
Chinese; what it leaves works with ``ggzy audit verify`` and ``ggzy-bid``. (Served, with the reference
issuer beside it: ``test_demo_served.py``.)"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import itertools
import json
import pathlib
import re
import shutil
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from pypdf import PdfReader
from sqlalchemy import select

import archive.audit
from archive import clock
from archive.audit import AuditEvent
from signing.statements import SignedStatement
from tests.factories import api_token, csrf_from, page_login
from tests.trading.test_cli import demo_environment
from trading.cli import main


class TrailClock:
    """The clock as ``archive.audit`` reads it, keeping every instant it gave an event: the trail
    writes an instant earlier than its predecessor's as the predecessor's, so only these show
    whether the demo ever asked it to record one out of order."""

    def __init__(self) -> None:
        self.given: list[dt.datetime] = []

    def now(self) -> dt.datetime:
        at = clock.now()
        self.given.append(at)
        return at

    def __getattr__(self, name: str) -> Any:
        return getattr(clock, name)


@dataclasses.dataclass
class Played:
    instance: pathlib.Path
    output: str
    given: list[dt.datetime]


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Played:
    """One ``ggzy demo --no-serve``, run where a newcomer runs it (beside its instance folder)."""
    inst = tmp_path_factory.mktemp("demo") / "instance"
    trail = TrailClock()
    with pytest.MonkeyPatch.context() as mp:
        demo_environment(mp, inst)
        mp.chdir(inst.parent)
        mp.setattr(archive.audit, "clock", trail)
        r = CliRunner().invoke(main, ["demo", "--no-serve"])
    assert r.exit_code == 0, r.output
    return Played(inst, r.output, trail.given)


@pytest.fixture
def instance(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """Where a test's copy of the finished demo goes (the ``ggzy`` commands it runs use it)."""
    inst = tmp_path / "instance"
    demo_environment(monkeypatch, inst)
    return inst


def copy_of(demo: Played, instance: pathlib.Path) -> str:
    shutil.copytree(demo.instance, instance)
    return demo.output


def passwords(instance: pathlib.Path) -> dict[str, str]:
    rows = (line.split("\t") for line in (instance / "demo-accounts.txt").read_text(encoding="utf-8").splitlines())
    return {row[0]: row[1] for row in rows}


@pytest.fixture
def demo_app(played: Played, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The app on a copy of the finished demo, at the real clock."""
    from trading.app import create_app
    from trading.core.config import load_settings

    inst = tmp_path / "instance"
    shutil.copytree(played.instance, inst)
    demo_environment(monkeypatch, inst)
    app = create_app(load_settings())
    yield app
    app.extensions["ggzy.db"].engine.dispose()


def pdf_text(data: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def shown(at: dt.datetime | str) -> str:
    """An instant as pages and PDFs show it (Beijing time, to the second)."""
    value = dt.datetime.fromisoformat(at) if isinstance(at, str) else at
    return clock.local(value).strftime("%Y-%m-%d %H:%M:%S")


def stated(text: str, before: str, at: dt.datetime) -> bool:
    """Whether a document states ``at`` right after ``before`` in Beijing time, to the second or to
    the minute as it writes it."""
    found = re.search(re.escape(before) + r"(\d{4}-\d\d-\d\d \d\d:\d\d)(:\d\d)?", re.sub(r"\s+", " ", text))
    assert found, f"no {before} in {text[:400]}"
    fmt = "%Y-%m-%d %H:%M:%S" if found.group(2) else "%Y-%m-%d %H:%M"
    return "".join(found.groups(default="")) == clock.local(at).strftime(fmt)


def test_the_trail_records_only_instants_that_happened_in_order(played: Played) -> None:
    from trading.core.db import Database

    db = Database(f"sqlite:///{played.instance / 'ggzy.db'}")
    with db.session() as s:
        events = s.execute(select(AuditEvent.seq, AuditEvent.at, AuditEvent.action).order_by(AuditEvent.seq)).all()
        read_at = clock.now()
    db.engine.dispose()
    assert len(events) > 200
    future = [(seq, at, action) for seq, at, action in events if clock.as_utc(at) > read_at]
    assert not future, f"events later than the moment they were read ({read_at}): {future[:3]}"
    backwards = [(a, b) for a, b in itertools.pairwise(events) if clock.as_utc(b.at) < clock.as_utc(a.at)]
    assert not backwards, f"seq order and time order disagree: {backwards[:3]}"
    # and none was written at its predecessor's time in place of an earlier one
    assert played.given == sorted(played.given)
    assert {clock.as_utc(e.at) for e in events} <= {clock.as_utc(t) for t in played.given}
    # the history lies days back; the live tenders were played at the real clock
    assert clock.as_utc(events[0].at) < read_at - dt.timedelta(days=3)
    assert clock.as_utc(events[-1].at) > read_at - dt.timedelta(minutes=10)


def test_demo_seeds_every_role_once(instance: pathlib.Path, played: Played) -> None:
    output = copy_of(played, instance)
    for name in ("admin", "staff", "supervisor", "tenderee", "agency", "bidder1", "issuer", "expert1"):
        assert name in output
    assert "已发布，投标截止" in output and "等待交易中心工作人员" in output
    r_first = output
    first = (instance / "demo-accounts.txt").read_text()
    r = CliRunner().invoke(main, ["demo", "--no-serve"])  # idempotent: same accounts, no second tender
    assert r.exit_code == 0 and (instance / "demo-accounts.txt").read_text() == first
    assert "已发布" not in r.output
    assert CliRunner().invoke(main, ["audit", "verify"]).exit_code == 0
    finished = clock.now()

    # The demo tender is published with a near deadline; the scheduler's sweep closes it.
    from trading.core.db import Database
    from trading.tenders.models import Tender, TenderState
    from trading.tenders.operations import close_due

    db = Database(f"sqlite:///{instance / 'ggzy.db'}")
    with db.session() as s:
        # The trail records only instants that have happened, in order: the history was played in
        # the past, oldest first, the live tenders last.
        times = [clock.as_utc(t) for t in s.scalars(select(AuditEvent.at).order_by(AuditEvent.seq))]
        assert times == sorted(times) and times[-1] <= finished
        # the accounts were hashed at the configured cost (ARGON2_* above), not the library's default
        from trading.accounts.models import User

        hashes = s.scalars(select(User.password_hash)).all()
        assert hashes and all(h.startswith("$argon2id$v=19$m=8,t=1,") for h in hashes), hashes[:2]
        assert times[0] <= finished - dt.timedelta(days=2)
        # history first (the late review, opened, awarded, the yellow review, joint), then the live
        # tender and the one in the review queue
        history = s.scalars(select(Tender).order_by(Tender.id)).all()
        assert [t.status for t in history] == [
            TenderState.SUBMITTED,
            TenderState.BIDDING_CLOSED,
            TenderState.BIDDING_CLOSED,
            TenderState.SUBMITTED,
            TenderState.BIDDING_CLOSED,
            TenderState.PUBLISHED,
            TenderState.SUBMITTED,
        ]
        demo = [history[5], history[6], history[1], history[4], history[2]]
        # the third went through its whole opening, played by the scripted bidders and staff
        from trading.opening.models import Ceremony, Outcome, Stage

        opened = s.scalars(select(Ceremony).where(Ceremony.tender_id == demo[2].id)).one()
        assert opened.stage is Stage.CLOSED and opened.final_record_statement is not None
        assert [b.outcome for b in opened.bidders] == [Outcome.DECRYPTED] * 3
        sheets = [b.price_sheet for b in opened.bidders if b.price_sheet is not None]
        assert sorted(sheet["price"] for sheet in sheets) == ["12588000.00", "12650000.00", "12702500.00"]
        # their bonds are e-guarantees from the demo issuer, verified and shown in the record
        from trading.guarantees.models import Guarantee, GuaranteeState

        bonds = s.scalars(select(Guarantee).where(Guarantee.lot_id == opened.lot_id)).all()
        assert len(bonds) == 3 and {g.state for g in bonds} == {GuaranteeState.VALID}
        assert opened.record is not None
        assert all(b["bond"]["status"] == "satisfied" for b in opened.record["bidders"])
        # its committee evaluated it remotely and signed the report; the candidates are publicised
        from trading.evaluation.models import EvalState, Evaluation, ReportSignature

        ev = s.scalars(select(Evaluation).where(Evaluation.lot_id == opened.lot_id)).one()
        assert ev.state is EvalState.PUBLICITY and ev.report is not None and len(ev.report["candidates"]) == 3
        signed = s.scalars(select(ReportSignature).where(ReportSignature.evaluation_id == ev.id)).all()
        # the whole committee of five: four drawn experts (two regions) and the tenderee's representative
        assert len(signed) == 5 and len({x["region"] for x in ev.report["committee"]}) == 2
        assert [x["representative"] for x in ev.report["committee"]].count(True) == 1
        # the fourth: two lots opened together, waiting in the decryption window for bidder1 only
        joint = s.scalars(select(Ceremony).where(Ceremony.tender_id == demo[3].id).order_by(Ceremony.id)).all()
        assert demo[3].joint_opening and [c.stage for c in joint] == [Stage.DECRYPTING, Stage.DECRYPTING]
        for c in joint:
            assert [b.outcome for b in c.bidders].count(Outcome.DECRYPTED) == 2
            assert [b.outcome for b in c.bidders].count(Outcome.PENDING) == 1
        assert "合并开标，正在解密" in r_first
        # the opened tender's committee: drawn (4 of the 5 demo experts), and re-runnable; the awarded
        # tender's too, by the specialty its lot names (A08 工程施工, as the pool's experts have)
        from trading.evaluation.models import Draw, DrawMember, Expert

        drawn = s.scalars(select(Draw).order_by(Draw.id)).all()
        assert [x.lot_id for x in drawn] == [opened.lot_id, demo[4].lots[0].id]
        for x in drawn:
            assert len(s.scalars(select(DrawMember).where(DrawMember.draw_id == x.id)).all()) == 4
        assert {t.lots[0].specialties[0]["code"] for t in demo} == {"A08"}
        assert {sp for e in s.scalars(select(Expert)) for sp in e.specialties} <= {"A08"}
        d = drawn[0]
        assert "ggzy draw verify" in r_first
        draw_id = d.id
        assert demo[0].docs_issued_at is not None
        assert demo[0].bid_deadline - demo[0].docs_issued_at < dt.timedelta(minutes=16)
        assert close_due(s, demo[0].bid_deadline + dt.timedelta(seconds=1)) == 1
    db.engine.dispose()
    r = CliRunner().invoke(main, ["draw", "verify", str(draw_id)])
    assert r.exit_code == 0 and "抽取可复算" in r.output, r.output

    # The bidders' demo keys work with ggzy-bid as printed.
    from bidding.cli import main as bid

    keys = instance / "demo-keys" / "bidder1"
    (instance / "bid.txt").write_text("开标一览表：投标报价 12,345,678.00 元", encoding="utf-8")
    env = {"GGZY_KEY_PASSWORD": "demo-key-password", "GGZY_NO_PROGRESS": "1"}
    r = CliRunner(env=env).invoke(
        bid,
        [
            "seal",
            str(instance / "bid.txt"),
            "--tender",
            demo[0].code,
            "--lot",
            "1",
            "--bidder",
            "bidder1",
            "--keys",
            str(keys),
            "--out",
            str(instance / "b.sealed"),
        ],
    )
    assert r.exit_code == 0, r.output
    r = CliRunner(env=env).invoke(
        bid,
        [
            "verify",
            str(instance / "b.sealed"),
            "--ca",
            str(instance / "demo-keys" / "root.pem"),
            "--tender",
            demo[0].code,
        ],
    )
    assert r.exit_code == 0, r.output


def test_every_document_and_receipt_states_an_instant_that_happened(played: Played, demo_app: Flask) -> None:
    """The records, the report and the bid receipts: each states when it was made, that instant has
    passed, its signature was made then, its PDF says the same, and what the bidder keeps, the
    pages and the opening record all say when a bid was received as its receipt does."""
    from trading.accounts.models import User
    from trading.bids.models import Bid
    from trading.core.services import services
    from trading.evaluation.models import Evaluation
    from trading.opening.models import Ceremony
    from trading.opening.record import record_files

    store = services(demo_app).store
    read_at = clock.now()
    with demo_app.extensions["ggzy.db"].session() as s:
        records = 0
        for c in s.scalars(select(Ceremony).order_by(Ceremony.id)):
            for final in (False, True):
                files = record_files(c, final=final)
                if files is None:
                    continue
                raw = c.final_record_statement if final else c.record_statement
                assert raw is not None
                signed_at = SignedStatement.from_json(raw.encode()).signed_at
                record = json.loads(store.read_bytes(files[0]))
                generated = dt.datetime.fromisoformat(record["generated_at"])
                assert generated == signed_at <= read_at, (c.id, final)
                assert stated(pdf_text(store.read_bytes(files[1])), "生成时间：", generated)
                records += 1
        assert (
            records == 4
        )  # the opened and the awarded tenders' records and final records; the joint rooms decrypt still
        evaluations = s.scalars(select(Evaluation).order_by(Evaluation.id)).all()
        assert len(evaluations) == 2
        for ev in evaluations:
            assert ev.report is not None and ev.report_statement is not None and ev.report_pdf_key is not None
            generated = dt.datetime.fromisoformat(ev.report["generated_at"])
            signed_at = SignedStatement.from_json(ev.report_statement.encode()).signed_at
            assert generated <= signed_at <= read_at
            assert stated(pdf_text(store.read_bytes(ev.report_pdf_key)), "生成时间：", generated)
        # the first's publicity runs (test_award_notice_… awards it); the second was awarded in the past
        assert evaluations[0].notice_key is None and evaluations[1].notice_key is not None
        assert evaluations[1].awarded_at is not None and clock.as_utc(evaluations[1].awarded_at) <= read_at

        opened = next(c for c in s.scalars(select(Ceremony).order_by(Ceremony.id)) if c.record)
        in_record = {row["ciphertext_sm3"]: row["received_at"] for row in opened.record["bidders"]}
        bids = s.scalars(select(Bid).order_by(Bid.id)).all()
        assert len(bids) == 12  # three bidders: the opened and the awarded tenders, both lots of the joint one
        for bid in bids:
            receipt = SignedStatement.from_json(bid.receipt.encode())
            received = dt.datetime.fromisoformat(receipt.body["received_at"])
            assert received == receipt.signed_at == clock.as_utc(bid.received_at) <= read_at
            if bid.ciphertext_sm3 in in_record:
                assert dt.datetime.fromisoformat(in_record[bid.ciphertext_sm3]) == received
        bidder1 = s.scalars(select(User.id).where(User.username == "bidder1")).one()
        mine = {b.ciphertext_sm3 for b in bids if b.user_id == bidder1}
    # what bidder1 keeps beside its sealed files, and what its pages show
    kept = sorted((played.instance / "demo-bids").glob("bidder1-*.sealed.receipt.json"))
    assert len(kept) == 4
    client = demo_app.test_client()
    page_login(client, "bidder1", passwords(played.instance)["bidder1"])
    page = client.get("/my/bids").get_data(as_text=True)
    for path in kept:
        body = SignedStatement.from_json(path.read_bytes()).body
        assert body["ciphertext_sm3"] in mine
        assert shown(body["received_at"]) in page
        got = client.get(f"/my/bids/{body['ciphertext_sm3']}/receipt.json")
        assert got.status_code == 200 and got.get_data() == path.read_bytes()
        checked = client.post(
            "/receipts/verify",
            data={
                "csrf_token": csrf_from(client.get("/receipts/verify").get_data(as_text=True)),
                "receipt": (path.open("rb"), path.name),
            },
            content_type="multipart/form-data",
        ).get_data(as_text=True)
        assert f"平台于 {shown(body['received_at'])} 接收" in checked


def test_bidders_can_object_in_the_running_publicity(played: Played, demo_app: Flask) -> None:
    from trading.demo.script import PUBLICITY_LEFT

    accounts = passwords(played.instance)
    public = demo_app.test_client().get("/api/v1/evaluations/1/publicity").get_json()
    assert public["state"] == "publicity" and not public["ended"]
    left = dt.datetime.fromisoformat(public["ends_at"]) - clock.now()
    assert PUBLICITY_LEFT - dt.timedelta(minutes=10) < left <= PUBLICITY_LEFT
    for i, username in enumerate(("bidder1", "bidder2"), start=1):
        client = demo_app.test_client()
        page_login(client, username, accounts[username])
        html = client.get("/evaluations/1/publicity").get_data(as_text=True)
        assert 'id="objection-text"' in html, f"{username} finds no objection form"
        text = f"我方对第{i}名候选人的业绩得分有异议，请招标人复核（{username}）。"
        r = client.post("/evaluations/1/publicity/object", data={"csrf_token": csrf_from(html), "text": text})
        assert r.status_code == 302
        assert text in client.get("/evaluations/1/publicity").get_data(as_text=True)
    public = demo_app.test_client().get("/api/v1/evaluations/1/publicity").get_json()
    assert public["suspended"] and len(public["objections"]) == 2


def test_award_notice_states_when_the_winning_bid_was_received(played: Played, demo_app: Flask) -> None:
    """Once the publicity is over (the test moves the clock there; the demo never does) the tenderee
    awards; the notice says the winner submitted its bid when its receipt says it did."""
    from trading.bids.models import Bid
    from trading.evaluation.models import Evaluation
    from trading.opening.models import CeremonyBidder

    client = demo_app.test_client()
    r = client.post(
        "/api/v1/auth/token", json={"username": "tenderee", "password": passwords(played.instance)["tenderee"]}
    )
    headers = {"Authorization": f"Bearer {r.get_json()['token']}"}
    public = client.get("/api/v1/evaluations/1/publicity").get_json()
    first = public["candidates"][0]
    with clock.frozen(dt.datetime.fromisoformat(public["ends_at"]) + dt.timedelta(minutes=1)):
        r = client.post("/api/v1/evaluations/1/award", json={"winner": first["bidder_id"]}, headers=headers)
        assert r.status_code == 200, r.get_json()
        notice = pdf_text(client.get("/api/v1/evaluations/1/notice.pdf").get_data())
    with demo_app.extensions["ggzy.db"].session() as s:
        ev = s.get(Evaluation, 1)
        assert ev is not None
        winner = s.get(CeremonyBidder, ev.winner_bidder_id)
        assert winner is not None
        bid = s.get(Bid, winner.bid_id)
        assert bid is not None
        received = dt.datetime.fromisoformat(SignedStatement.from_json(bid.receipt.encode()).body["received_at"])
    assert stated(notice, "你方于 ", received), notice


def test_one_tender_went_the_whole_way_to_its_final_archive(
    played: Played, demo_app: Flask, tmp_path: pathlib.Path
) -> None:
    """The history's awarded tender: opened, evaluated, its candidates publicised for the full 3 days
    with no objection, awarded by its tenderee after that (the result announcement and the signed
    award notice at that instant), and its final archive package built by the scheduler's job
    seconds later; the package verifies with ``ggzy archive verify`` (stored, and downloaded and
    checked offline against the printed root), and the demo points at the notice and the package."""
    from trading.archives.models import REASON_LABELS, ArchivePackage
    from trading.bids.models import Bid
    from trading.core.services import services
    from trading.evaluation.models import EvalState, Evaluation, PublicityObjection
    from trading.opening.models import CeremonyBidder
    from trading.tenders.models import Announcement, AnnouncementKind, Lot, LotState, Tender

    read_at = clock.now()
    store = services(demo_app).store
    with demo_app.extensions["ggzy.db"].session() as s:
        ev = s.scalars(select(Evaluation).where(Evaluation.state == EvalState.AWARDED)).one()
        lot = s.get(Lot, ev.lot_id)
        assert lot is not None and lot.status is LotState.AWARDED
        tender = s.get(Tender, lot.tender_id)
        assert tender is not None
        code, evaluation_id = tender.code, ev.id
        publicised = s.get(Announcement, ev.publicity_announcement_id)
        assert publicised is not None and publicised.published_at is not None and ev.publicity_ends_at is not None
        assert ev.publicity_ends_at - publicised.published_at == dt.timedelta(days=3)
        assert not s.scalars(select(PublicityObjection).where(PublicityObjection.evaluation_id == ev.id)).all()
        assert ev.awarded_at is not None and ev.publicity_ends_at < ev.awarded_at <= read_at
        result = s.scalars(
            select(Announcement).where(
                Announcement.tender_id == tender.id, Announcement.kind == AnnouncementKind.RESULT
            )
        ).one()
        assert result.published_at == ev.awarded_at
        # the award notice, signed when it was issued, names the winner and when its bid was received
        assert ev.notice_statement is not None and ev.notice_key is not None
        notice = SignedStatement.from_json(ev.notice_statement.encode())
        assert notice.signed_at == clock.as_utc(ev.awarded_at)
        winner = s.get(CeremonyBidder, ev.winner_bidder_id)
        assert winner is not None
        bid = s.get(Bid, winner.bid_id)
        assert bid is not None
        received = dt.datetime.fromisoformat(SignedStatement.from_json(bid.receipt.encode()).body["received_at"])
        text = pdf_text(store.read_bytes(ev.notice_key))
        assert notice.body["winner"] in text and stated(text, "你方于 ", received), text
        # the lot's packages: its opening's, and the final one, built after the award over a signed log
        packages = {p.reason: p for p in s.scalars(select(ArchivePackage).where(ArchivePackage.lot_id == lot.id))}
        assert set(packages) == {"opened", "awarded"}
        final = packages["awarded"]
        assert ev.awarded_at < final.built_at <= read_at and final.tree_size > 0
        final_id = final.id
    assert f"/archives/{final_id}" in played.output and f"ggzy archive verify {final_id}" in played.output
    assert f"/api/v1/evaluations/{evaluation_id}/notice.pdf" in played.output

    r = CliRunner().invoke(main, ["archive", "verify", str(final_id)])
    assert r.exit_code == 0 and "档案包完整" in r.output, r.output
    staff = demo_app.test_client()
    page_login(staff, "staff", passwords(played.instance)["staff"])
    assert code in staff.get("/archives").get_data(as_text=True)
    detail = staff.get(f"/archives/{final_id}").get_data(as_text=True)
    assert f"<h1>档案包 {final_id}</h1>" in detail and REASON_LABELS["awarded"] in detail
    assert f">{code}</a>" in detail and "第1标段" in detail  # which tender and lot it keeps
    data = staff.get(f"/archives/{final_id}/download").get_data()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = set(z.namelist())
    assert {"award/notice.pdf", "award/notice.sig.json", "evaluation/report.pdf"} <= names
    assert any(n.startswith("announcements/") and n.endswith("-result.json") for n in names)
    (tmp_path / "final.zip").write_bytes(data)
    root = played.instance / "demo-keys" / "root.pem"
    r = CliRunner().invoke(main, ["archive", "verify", str(tmp_path / "final.zip"), "--root", str(root)])
    assert r.exit_code == 0 and "档案包完整" in r.output, r.output
    page = demo_app.test_client().get(f"/evaluations/{evaluation_id}/publicity").get_data(as_text=True)
    assert 'id="notice"' in page


#: what the demo may print in Latin letters outside parentheses: account names, commands, file and
#: option names (told by their punctuation), and the acronyms of the allow-list
LATIN = re.compile(r"[A-Za-z0-9_.:/+\-]*[A-Za-z][A-Za-z0-9_.:/+\-]*")
ACRONYMS = {"SM2", "SM3", "PDF", "JSON", "API", "CA", "UKey", "ggzy", "Ctrl+C"}
COMMAND = re.compile(r"ggzy(-bid)? [a-z ]+")


def latin_words(output: str, usernames: set[str]) -> list[str]:
    words = []
    for line in output.splitlines():
        line = re.sub(r"\([^()]*\)", "", COMMAND.sub("", line))  # English in parentheses is allowed
        for word in LATIN.findall(line):
            code = any(ch in word for ch in "/._-:+") or any(ch.isdigit() for ch in word)
            if not code and word not in usernames and word not in ACRONYMS:
                words.append(word)
    return words


def test_the_demo_prints_what_the_tool_needs_in_chinese(played: Played) -> None:
    from trading.core.db import Database

    out = played.output
    db = Database(f"sqlite:///{played.instance / 'ggzy.db'}")
    from trading.accounts.models import User

    with db.session() as s:
        users = {
            u.username: (u.organisation.name, u.organisation.credit_code)
            for u in s.scalars(select(User))
            if u.organisation
        }
    db.engine.dispose()
    assert len(users) == 16
    for username, (name, code) in users.items():
        line = next(line for line in out.splitlines() if line.strip().startswith(username + " "))
        assert name in line and code in line, line
    for bidder in ("bidder1", "bidder2", "bidder3"):
        assert f"--bidder {users[bidder][1]}" in out
        assert f"instance/demo-keys/{bidder}（" in out
    assert "demo-accounts.txt" in out and "demo-key-password" in out
    printed = re.findall(r"instance/[\w./-]+", out)
    for path in printed:  # every path it prints is there, relative to where it ran
        assert (played.instance.parent / path.rstrip("/")).exists(), path
    assert "instance/demo-keys/root.pem" in printed and "instance/demo-keys/platform.pem" in printed
    sealed = [p for p in printed if p.endswith(".sealed")]
    assert len(sealed) == 12 and all((played.instance.parent / f"{p}.receipt.json").exists() for p in sealed)
    assert latin_words(out, set(users) | set(passwords(played.instance).values())) == []


def test_latin_words_are_found() -> None:
    assert latin_words("scheduler 1 started\n数据库已就绪 (schema at head)", set()) == ["scheduler", "started"]
    assert latin_words("用 ggzy draw verify 1 复算；bidder1 见 instance/demo-keys/root.pem", {"bidder1"}) == []


def test_the_demo_scheduler_keeps_apschedulers_warnings_out(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """On a loaded machine APScheduler warns in English that a job's run was skipped (the previous
    one still ran); the served demo's scheduler process keeps that out of the demo's terminal, and
    still says when a job fails."""
    import logging

    import trading.cli
    from trading.demo import scheduler

    ran: list[list[str]] = []

    def ggzy(args: list[str]) -> None:
        ran.append(args)
        logging.getLogger("apscheduler.executors.default").warning(
            "Execution of job skipped: maximum number of running instances reached (1)"
        )
        logging.getLogger("ggzy.scheduler").error("job build_archives failed")

    monkeypatch.setattr(trading.cli, "main", ggzy)
    apscheduler = logging.getLogger("apscheduler")
    monkeypatch.setattr(apscheduler, "level", apscheduler.level)  # the process's setting, undone after
    with caplog.at_level(logging.WARNING):
        scheduler.main([])
    assert ran == [["scheduler"]]
    assert [r.getMessage() for r in caplog.records] == ["job build_archives failed"]


def test_audit_verify_fails_on_tampering(instance: pathlib.Path, played: Played) -> None:
    import sqlite3

    copy_of(played, instance)
    # the demo's decisive moments asked for checkpoints; the scheduler signs them
    assert CliRunner().invoke(main, ["scheduler", "--once"]).exit_code == 0
    r = CliRunner().invoke(main, ["archive", "verify-log"])
    assert r.exit_code == 0 and "日志完整" in r.output, r.output
    assert int(r.output.split("：")[1].split(" ")[0]) >= 4  # bid deadline, decryption end, both records
    con = sqlite3.connect(instance / "ggzy.db")
    con.execute("UPDATE audit_event SET payload = '{}' WHERE seq = 3")
    con.commit()
    con.close()
    r = CliRunner().invoke(main, ["audit", "verify"])
    assert r.exit_code == 1 and "事件 3" in r.output
    r = CliRunner().invoke(main, ["archive", "verify-log"])
    assert r.exit_code == 1 and "event 3" in r.output


def test_supervisors_find_a_red_and_a_yellow_light_a_complaint_and_a_year_of_statistics(
    played: Played, demo_app: Flask
) -> None:
    """Issue 21's demo: the review queue's red and yellow clocks, a complaint in progress, and the
    statistics over a year of generated history, marked as generated on the page and the download."""
    from trading.app import import_job_modules
    from trading.core.scheduler import LeaseScheduler
    from trading.core.services import services
    from trading.demo.supervision import RED_TITLE, YELLOW_TITLE

    # The yellow tender turns yellow between the history's end and half an hour after the demo
    # starts; the served demo's scheduler recolours the clocks within 30 s of starting, as here.
    import_job_modules()
    ran = LeaseScheduler(demo_app.extensions["ggzy.db"], services=services(demo_app)).run_job("supervision_clocks")
    assert ran is not None
    accounts = passwords(played.instance)
    client = demo_app.test_client()
    page_login(client, "supervisor", accounts["supervisor"])
    h = api_token(client, "supervisor", accounts["supervisor"])
    warnings = client.get("/api/v1/supervision/warnings?rule=staff_review", headers=h).get_json()["items"]
    colours = {w["where"]: w["colour"] for w in warnings if w["stopped_seq"] is None}
    assert any(RED_TITLE in where and colour == "red" for where, colour in colours.items()), colours
    assert any(YELLOW_TITLE in where and colour == "yellow" for where, colour in colours.items()), colours
    (complaint,) = client.get("/api/v1/complaints", headers=h).get_json()["items"]
    assert complaint["state"] == "accepted"
    html = client.get("/supervision/statistics").get_data(as_text=True)
    assert "演示生成" in html and "<svg" in html
    stats = client.get("/api/v1/supervision/statistics?by=month", headers=h).get_json()
    assert stats["generated_lots"] > 300 and len(stats["rows"]) >= 12
    monitor = client.get("/api/v1/supervision/monitor", headers=h).get_json()
    (room,) = [r for r in monitor["evaluations"] if r["complaints"]]
    assert room["complaints"][0]["state_label"] == "已受理"
    assert "时限预警" in client.get("/supervision/warnings").get_data(as_text=True)


def test_integrity_a_refused_bidder_a_flagged_lot_expert_ratings_and_service_ratings(
    played: Played, demo_app: Flask
) -> None:
    """Issue 22's demo: a bidder on a dishonesty list refused at registration with a signed check,
    the evaluated lot's collusion signals before its committee (considered on the record), the
    experts rated after an evaluation, and the public service ratings with a 差评 answered."""
    from trading.demo import org_credit_code

    assert "报名" in played.output and "被信用查询拒绝" in played.output
    accounts = passwords(played.instance)
    client = demo_app.test_client()
    staff = api_token(client, "staff", accounts["staff"])
    entries = client.get("/api/v1/credit/entries", headers=staff).get_json()["items"]
    barred = [e for e in entries if e["subject"]["id"] == org_credit_code("bidder4")]
    assert [e["list"] for e in barred] == ["dishonest_debtors"]
    supervisor = api_token(client, "supervisor", accounts["supervisor"])
    opened = client.get("/api/v1/evaluations/1", headers=supervisor).get_json()["tender"]
    run = client.get(f"/api/v1/lots/{opened}/1/signals", headers=supervisor).get_json()
    kinds = {s["kind"] for s in run["items"]}
    assert {"same_address", "same_file", "same_metadata"} <= kinds, kinds
    linked = {tuple(sorted(s["bidders"])) for s in run["items"]}
    assert linked == {("榕城建设工程有限公司", "海峡路桥集团有限公司")}, linked
    room = client.get("/api/v1/evaluations/1", headers=supervisor).get_json()
    (panel,) = room["findings"]
    assert panel["review"]["done"] and "串标迹象" in panel["review"]["text"]
    notice = [b for b in room["bidders"] if b["credit"] and b["credit"]["entries"]]
    assert [b["name"] for b in notice] == ["闽江水利水电工程有限公司"]
    rated = client.get("/api/v1/evaluations/2/ratings", headers=staff).get_json()
    assert len(rated["ratings"]) == 2 * len(rated["experts"]) > 0
    public = client.get("/api/v1/ratings/services").get_json()
    assert sum(c["count"] for c in public["cells"] if c["month"] == "") == 6  # tenderee 2, bidders 4
    assert "<svg" in client.get("/ratings").get_data(as_text=True)
    (bad,) = client.get("/api/v1/ratings/services/bad", headers=staff).get_json()["items"]
    assert bad["answer"] and bad["score"] == 2


def test_rights_trading_a_listing_a_sold_lot_and_a_room_bidder1_can_bid_in(played: Played, demo_app: Flask) -> None:
    """Issue 23's demo: a land lot in its listing period with two quotes, an emission-rights lot
    sold in timed bidding whose archive package replays to the same winner and price, and a share
    transfer whose online bidding bidder1 may join within minutes."""
    from archive.package_check import verify
    from trading.core.services import services
    from trading.demo import org_credit_code

    accounts = passwords(played.instance)
    client = demo_app.test_client()
    lots = {a["title"]: a for a in client.get("/api/v1/auctions").get_json()["items"]}
    (land,) = [a for t, a in lots.items() if "地块" in t]
    (emission,) = [a for t, a in lots.items() if "排污权" in t]
    (share,) = [a for t, a in lots.items() if "股权" in t]
    land = client.get(f"/api/v1/auctions/{land['code']}").get_json()
    assert land["state"] == "listing" and land["current_seq"] == 2
    assert land["reserve_sm3"] and "reserve_price" not in json.dumps(land).replace('"reserve_price": null', "")
    sold = client.get(f"/api/v1/auctions/{emission['code']}/result").get_json()
    assert sold["outcome"] == "sold" and sold["final_price"] == "640000.00"
    assert sold["winner"]["credit_code"] == org_credit_code("bidder1")
    bidder1 = api_token(client, "bidder1", accounts["bidder1"])
    mine = client.get(f"/api/v1/auctions/{share['code']}/registration", headers=bidder1).get_json()
    assert mine["may_bid"] and mine["bidding_number"]
    opens = dt.datetime.fromisoformat(
        client.get(f"/api/v1/auctions/{share['code']}").get_json()["periods"]["bidding_starts_at"]
    )
    assert dt.timedelta(0) < opens - played.given[-1] < dt.timedelta(minutes=4)
    staff = api_token(client, "staff", accounts["staff"])
    packages = client.get("/api/v1/archives", headers=staff).get_json()["items"]
    (pkg,) = [p for p in packages if p.get("auction") == emission["code"]]
    blob = client.get(f"/api/v1/archives/{pkg['id']}/download", headers=staff).data
    with demo_app.app_context():
        report = verify(io.BytesIO(blob), services(demo_app).keys.ca.cert)
    assert report.ok, report.failures
    assert report.replay and "640000.00" in report.replay


def test_the_demo_refuses_an_instance_ggzy_init_made(tmp_path: pathlib.Path) -> None:
    """`ggzy init` first makes keys valid from now; the demo's history is played in the past, where
    they are not valid yet: the demo says so by name instead of failing halfway."""
    from trading.cli import main

    env = {"GGZY_ENV": "demo", "GGZY_INSTANCE": str(tmp_path / "instance"), "ARGON2_MEMORY_KIB": "8"}
    env |= {"ARGON2_TIME_COST": "1", "DATABASE_URL": "", "PLATFORM_KEYS_DIR": ""}
    assert CliRunner().invoke(main, ["init"], env=env).exit_code == 0
    r = CliRunner().invoke(main, ["demo", "--no-serve"], env=env)
    assert r.exit_code == 1 and "已用 ggzy init 初始化过" in r.output, r.output
    assert not (tmp_path / "instance" / "demo-accounts.txt").exists()
