"""Bid packages and envelopes made to hurt the opening: a zip bomb, a lying header and a package
that keeps killing its worker are each classified with a named reason, the worker's memory stays
bounded (measured in a real worker process), the envelope's header is checked before any key is
used, and the ceremony's private key is never in the database in the clear."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import resource
import subprocess
import sys
import zipfile
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, AuditEvent
from signing.envelope import DEFAULT_CHUNK, read_header
from signing.errors import KeyFormatError
from signing.price_sheet import FILENAME, build_price_sheet
from signing.sm2 import PrivateKey
from tests.factories import csrf_from, page_login, seal_bid, upload_bid
from tests.signing.zips import MiB, RawEntry, entry, write_zip, zero_bomb
from tests.trading.opening.test_ceremony import DECLARED, open_tender, release, signin_sig
from trading.core.services import services
from trading.opening import tasks
from trading.opening.ceremony_key import LEGACY_ENV, CeremonyKeyUnreadable, open_ceremony_key
from trading.opening.decryption import MAX_ATTEMPTS, STALE_AFTER, claim, requeue_stale, run_pending
from trading.opening.models import Ceremony, CeremonyBidder, DecryptionJob, Fault, JobState, Outcome, Stage
from trading.pki.operations import revoke_certificate

BOMB = 2048 * MiB  # 2 GiB of zeros, about 2 MB deflated
#: The worker decrypts one job while the previous one finishes in a thread (``run_pending``'s
#: overlap): alone a bomb job peaks at ~156 MiB, and with two in flight on a loaded machine at 317
#: MiB (measured twice in full CI runs, the same figure) — far below the 2 GiB a regression that
#: inflated the bomb would need (and the 2 GiB address-space cap would end it with an error).
PEAK_LIMIT = 384 * MiB


def bomb_package(code: str, *, lying: bool) -> bytes:
    """A price sheet that inflates to 2 GiB: declared honestly (the ratio gives it away), or
    declared as 1 KiB (only inflating finds it out)."""
    data, crc = zero_bomb(BOMB)
    sheet = build_price_sheet(code, 1, "9000000.00", {"duration_days": "300"}, DECLARED)
    out = io.BytesIO()
    write_zip(out, [entry("技术标.txt", sheet), RawEntry(FILENAME, data, crc, 1024 if lying else BOMB)])
    return out.getvalue()


def decrypting(client: FlaskClient, t: dict[str, Any]) -> None:
    room = f"/api/v1/ceremonies/{t['cid']}"
    for i, b in enumerate(t["bidders"]):
        r = client.post(
            f"{room}/signin", json={"signature": signin_sig(b, t["cid"], t["code"])}, headers=t["headers"][i]
        )
        assert r.status_code == 200
    client.post(f"{room}/advance", headers=t["staff"])
    assert client.post(f"{room}/advance", headers=t["staff"]).get_json()["stage"] == "decrypting"


def replace_bid(client: FlaskClient, t: dict[str, Any], i: int, package: bytes) -> None:
    blob = seal_bid(t["bidders"][i], t["code"], package, chunk_size=DEFAULT_CHUNK)
    assert upload_bid(client, t["headers"][i], blob, t["code"]).status_code == 201
    t["blobs"][i] = blob


def first_bid_opened(
    client: FlaskClient, session: Session, app: Flask, t: dict[str, Any], package: bytes
) -> CeremonyBidder | None:
    """The first bidder's bid replaced by ``package``, its key released after the deadline and the
    worker run once: its seat as the opening recorded it."""
    replace_bid(client, t, 0, package)
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        decrypting(client, t)
        assert release(client, t, 0).status_code == 202
        assert run_pending(app.extensions["ggzy.db"], services(app)) == 1
    return session.scalar(select(CeremonyBidder).where(CeremonyBidder.org_id == t["bidders"][0].user.organisation_id))


def worker_in_a_process(app: Flask) -> tuple[int, int]:
    """``run_pending`` in a process of its own, as ``ggzy workers`` runs it: (exit code, peak RSS
    in bytes). Its address space is capped at 2 GiB, so that a regression fails the test instead
    of the machine. The peak is the process's own (``VmHWM``, which starts again at exec): the
    rusage of a child forked to run ``preexec_fn`` keeps the high-water mark of the test process it
    was forked from, which grows with every test the same pytest worker ran before."""
    settings = app.extensions["ggzy.settings"]
    env = {
        **os.environ,
        "GGZY_ENV": "test",
        "GGZY_INSTANCE": str(settings.instance),
        "DATABASE_URL": settings.database_url,
    }
    code = (
        "from trading.core.config import load_settings\n"
        "from trading.core.db import Database\n"
        "from trading.core.services import Services\n"
        "from trading.opening.decryption import run_pending\n"
        "s = load_settings()\n"
        "print(run_pending(Database(s.database_url), Services(s), 'subprocess', overlap=True))\n"
        "print([l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1])\n"
    )

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2048 * MiB, 2048 * MiB))

    proc = subprocess.Popen([sys.executable, "-c", code], env=env, preexec_fn=cap, stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate()
    print(out)
    lines = out.split()
    return proc.returncode, int(lines[-1]) * 1024 if proc.returncode == 0 and lines else 0  # VmHWM is in kB


@pytest.mark.integration
def test_a_zip_bomb_is_revoked_with_its_bound_and_the_worker_stays_small(pg_app: Flask) -> None:
    app, client, db = pg_app, pg_app.test_client(), pg_app.extensions["ggzy.db"]
    with db.session() as session:
        t = open_tender(client, session, app, 3)
    replace_bid(client, t, 0, bomb_package(t["code"], lying=False))
    replace_bid(client, t, 1, bomb_package(t["code"], lying=True))
    at = t["deadline"] + dt.timedelta(seconds=1)
    with clock.frozen(at):
        decrypting(client, t)
        for i in range(3):
            assert release(client, t, i).status_code == 202
    exit_code, peak = worker_in_a_process(app)
    assert exit_code == 0
    print(f"decryption worker peak RSS {peak / MiB:.0f} MiB")
    assert peak < PEAK_LIMIT, f"worker peak RSS {peak / MiB:.0f} MiB"
    with db.session() as s:
        c = s.get(Ceremony, t["cid"])
        assert c is not None
        ends = c.stage_ends_at
        jobs = {
            org: job
            for org, job in s.execute(
                select(CeremonyBidder.org_id, DecryptionJob)
                .join(DecryptionJob, DecryptionJob.ceremony_bidder_id == CeremonyBidder.id)
                .where(CeremonyBidder.ceremony_id == c.id)
            )
        }
    orgs = [b.user.organisation_id for b in t["bidders"]]
    bomb, liar, honest = (jobs[o] for o in orgs)
    assert (bomb.state, bomb.fault, bomb.error_code) == (JobState.FAILED, Fault.BIDDER, "archive_ratio")
    assert (liar.state, liar.fault, liar.error_code) == (JobState.FAILED, Fault.BIDDER, "archive_entry_size_mismatch")
    assert FILENAME in (bomb.error_detail or "") and FILENAME in (liar.error_detail or "")
    assert honest.state is JobState.DONE
    assert ends is not None
    with db.session() as s:
        tasks.sweep(s, ends + dt.timedelta(seconds=1), services(app))
    with db.session() as s:
        c = s.get(Ceremony, t["cid"])
        assert c is not None and c.stage is Stage.READING
        seats = {seat.org_id: seat for seat in c.bidders}
        assert (seats[orgs[0]].outcome, seats[orgs[0]].outcome_reason) == (Outcome.REVOKED, "archive_ratio")
        assert (seats[orgs[1]].outcome, seats[orgs[1]].outcome_reason) == (
            Outcome.REVOKED,
            "archive_entry_size_mismatch",
        )
        assert seats[orgs[2]].outcome is Outcome.DECRYPTED and seats[orgs[2]].price_sheet is not None


def test_a_nested_zip_is_opened_as_bytes_not_unpacked(client: FlaskClient, session: Session, app: Flask) -> None:
    t = open_tender(client, session, app, 3)
    inner = io.BytesIO()
    data, crc = zero_bomb(512 * MiB)
    write_zip(inner, [RawEntry("bomb.bin", data, crc, 512 * MiB)])
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as z:
        z.writestr(FILENAME, build_price_sheet(t["code"], 1, "8000000.00", {"duration_days": "200"}, DECLARED))
        z.writestr("附件/资料.zip", inner.getvalue())  # stored: a zip inside the zip
    seat = first_bid_opened(client, session, app, t, outer.getvalue())
    assert seat is not None and seat.outcome is Outcome.DECRYPTED
    assert seat.price_sheet is not None and seat.price_sheet["price"] == "8000000.00"


def test_a_zip_that_says_two_things_is_revoked_with_a_named_code(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    """A price sheet hidden where only a streaming reader looks, and a local header that disagrees
    with the directory: 撤销 with the archive's code (the first was read as 1000000.00, the second
    opened with no price, ``price_sheet_invalid``)."""
    t = open_tender(client, session, app, 3)
    real = build_price_sheet(t["code"], 1, "1000000.00", {"duration_days": "300"}, DECLARED)
    hidden = build_price_sheet(t["code"], 1, "1.00", {"duration_days": "300"}, DECLARED)
    listed = entry(FILENAME, real)
    listed.offset = 0
    tech = entry("技术标.txt", b"tech")
    out = io.BytesIO()
    write_zip(out, [listed, tech, entry(FILENAME, hidden)], [listed, tech])
    replace_bid(client, t, 0, out.getvalue())
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("技术标.txt", b"tech")
        z.writestr(FILENAME, real)
    damaged = bytearray(out.getvalue())
    damaged[damaged.find(b"PK\x03\x04", 1) + 31] ^= 1  # a byte of the second local name
    replace_bid(client, t, 1, bytes(damaged))
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        decrypting(client, t)
        for i in range(2):
            assert release(client, t, i).status_code == 202
        assert run_pending(app.extensions["ggzy.db"], services(app)) == 2
    c = session.get(Ceremony, t["cid"])
    assert c is not None and c.stage_ends_at is not None
    tasks.sweep(session, c.stage_ends_at + dt.timedelta(seconds=1), services(app))
    session.commit()
    seats = {seat.org_id: seat for seat in c.bidders}
    orgs = [b.user.organisation_id for b in t["bidders"]]
    assert (seats[orgs[0]].outcome, seats[orgs[0]].outcome_reason) == (Outcome.REVOKED, "archive_gap")
    assert (seats[orgs[1]].outcome, seats[orgs[1]].outcome_reason) == (Outcome.REVOKED, "archive_header_mismatch")
    assert seats[orgs[0]].price_sheet is None and seats[orgs[1]].price_sheet is None


def test_the_header_is_checked_before_any_key_is_used(client: FlaskClient, session: Session, app: Flask) -> None:
    """The bidder releases a key that would not open its bid, and its signing certificate is
    revoked before the worker runs: the header's failure is reported, not the key's (the
    decryption used to run first and reported ``wrong_key``)."""
    t = open_tender(client, session, app, 3)
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        decrypting(client, t)
        assert release(client, t, 0, key=b"\x01" * 16).status_code == 202
        cert = read_header(io.BytesIO(t["blobs"][0])).signer_cert
        revoke_certificate(session, SYSTEM, cert, "私钥泄露，证书吊销")
        session.commit()
        assert run_pending(app.extensions["ggzy.db"], services(app)) == 1
    job = session.scalars(select(DecryptionJob).execution_options(populate_existing=True)).one()
    assert (job.fault, job.error_code) == (Fault.BIDDER, "signature_invalid")
    assert (job.error_detail or "").startswith("certificate_revoked")


def test_a_job_that_keeps_losing_its_worker_is_set_aside_not_retried_for_ever(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    t = open_tender(client, session, app, 3)
    at = t["deadline"] + dt.timedelta(seconds=1)
    with clock.frozen(at):
        decrypting(client, t)
        assert release(client, t, 0).status_code == 202
    now = at
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with clock.frozen(now):
            taken = claim(session, services(app), f"worker-{attempt}")  # and the worker dies
        assert taken is not None
        session.commit()
        now += STALE_AFTER + dt.timedelta(seconds=1)
        assert requeue_stale(session, now) == 1
        session.commit()
    job = session.scalars(select(DecryptionJob)).one()
    assert job.attempts == MAX_ATTEMPTS
    assert (job.state, job.fault, job.error_code) == (JobState.FAILED, Fault.PLATFORM, "worker_crashed")
    assert claim(session, services(app), "worker-4") is None  # nothing queued again
    c = session.get(Ceremony, t["cid"])
    assert c is not None and c.stage_ends_at is not None
    tasks.sweep(session, c.stage_ends_at + dt.timedelta(seconds=1), services(app))
    session.commit()
    seat = session.get(CeremonyBidder, job.ceremony_bidder_id)
    assert seat is not None
    # not blamed on the bidder: 撤回 (the platform's side), with the reason named
    assert (seat.outcome, seat.outcome_reason) == (Outcome.WITHDRAWN, "worker_crashed")


def held_back(client: FlaskClient, session: Session, app: Flask, t: dict[str, Any]) -> dt.datetime:
    """Bidder 0 releases its key twice in the decrypting window, and each time every worker that
    takes the job dies; the instant returned is back inside the window."""
    now: dt.datetime = t["deadline"] + dt.timedelta(seconds=1)
    with clock.frozen(now):
        decrypting(client, t)
    for round_ in (1, 2):
        with clock.frozen(now):
            assert release(client, t, 0).status_code == 202
        for attempt in range(1, MAX_ATTEMPTS + 1):
            with clock.frozen(now):
                assert claim(session, services(app), f"worker-{round_}-{attempt}") is not None  # and it dies
            session.commit()
            now += STALE_AFTER + dt.timedelta(seconds=1)
            assert requeue_stale(session, now) == 1
            session.commit()
        now = t["deadline"] + dt.timedelta(seconds=2)  # back inside the window for the next release
    return now


def test_a_key_whose_jobs_keep_killing_workers_is_not_run_for_ever(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    """After two releases set aside as worker_crashed (six lost worker processes), the seat may not
    release again: staff look at it, and the other bidders' decryptions are not held up by it."""
    t = open_tender(client, session, app, 3)
    now = held_back(client, session, app, t)
    with clock.frozen(now):
        r = release(client, t, 0)
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "decryption_set_aside"
        assert release(client, t, 1).status_code == 202  # the others release as before


def test_staff_who_found_the_cause_let_a_held_back_bidder_release_again(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    """The hold of ``decryption_set_aside`` is lifted only by staff, with a reason, in the
    decrypting window, for a seat held back; the bidder may then release once more."""
    t = open_tender(client, session, app, 3)
    now = held_back(client, session, app, t)
    room = f"/api/v1/ceremonies/{t['cid']}"
    held, other = (b.user.organisation.credit_code for b in t["bidders"][:2])
    lift = f"{room}/set-aside/{held}/lift"
    with clock.frozen(now):
        st = client.get(room, headers=t["staff"]).get_json()
        assert [h["credit_code"] for h in st["set_aside"]] == [held]
        assert "set_aside" not in client.get(room, headers=t["headers"][1]).get_json()  # staff only
        page = app.test_client()
        page_login(page, t["staff_username"])
        html = page.get(f"/ceremonies/{t['cid']}").get_data(as_text=True)
        assert "被搁置的解密" in html and f'value="{held}"' in html

        def code(r: Any) -> tuple[int, str]:
            return r.status_code, r.get_json()["error"]["code"]

        assert client.post(lift, json={"reason": "主机内存不足已处理"}, headers=t["headers"][0]).status_code == 403
        assert code(client.post(lift, json={"reason": ""}, headers=t["staff"]))[0] == 422
        assert code(client.post(lift, json={"reason": 7}, headers=t["staff"]))[0] == 422
        assert code(
            client.post(f"{room}/set-aside/{'9' * 18}/lift", json={"reason": "核查完毕"}, headers=t["staff"])
        ) == (
            404,
            "no_such_seat",
        )
        assert code(client.post(f"{room}/set-aside/{other}/lift", json={"reason": "核查完毕"}, headers=t["staff"])) == (
            409,
            "not_set_aside",
        )
        assert code(release(client, t, 0)) == (409, "decryption_set_aside")  # nothing above lifted it
        r = page.post(  # the form's reason under the API's rule: no control or bidi characters
            f"/ceremonies/{t['cid']}/control/lift",
            data={"csrf_token": csrf_from(html), "credit_code": held, "reason": "\u202e核查\x07完毕"},
        )
        assert r.status_code == 302 and [
            h["credit_code"] for h in client.get(room, headers=t["staff"]).get_json()["set_aside"]
        ] == [held]
        r = page.post(
            f"/ceremonies/{t['cid']}/control/lift",
            data={"csrf_token": csrf_from(html), "credit_code": held, "reason": "解密主机内存不足，已扩容"},
        )
        assert r.status_code == 302
        assert client.get(room, headers=t["staff"]).get_json()["set_aside"] == []
        ev = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "decryption.set_aside_lift").order_by(AuditEvent.seq)
        ).all()
        assert len(ev) == 1 and json.loads(ev[0].payload) == {"bidder": held, "reason": "解密主机内存不足，已扩容"}
        assert "已准许" in page.get(f"/ceremonies/{t['cid']}").get_data(as_text=True)  # the flash
        items = client.get(f"{room}/events?once=1").get_json()["items"]
        assert any(e.get("state_label") == "准许再次解密" and "解密主机内存不足" in e["note"] for e in items)
        assert code(client.post(lift, json={"reason": "再来一次"}, headers=t["staff"])) == (409, "not_set_aside")
        assert release(client, t, 0).status_code == 202  # released again, once more
    later = now
    for attempt in range(1, MAX_ATTEMPTS + 1):  # and set aside again: one lift is one release
        with clock.frozen(later):
            assert claim(session, services(app), f"worker-3-{attempt}") is not None
        session.commit()
        later += STALE_AFTER + dt.timedelta(seconds=1)
        assert requeue_stale(session, later) == 1
        session.commit()
    with clock.frozen(now):
        assert code(release(client, t, 0)) == (409, "decryption_set_aside")
        st = client.get(room, headers=t["staff"]).get_json()
        assert [h["credit_code"] for h in st["set_aside"]] == [held] and "3 次均中断" in st["set_aside"][0]["detail"]
        assert client.post(lift, json={"reason": "再次核查"}, headers=t["staff"]).status_code == 200
        assert release(client, t, 0).status_code == 202
        assert run_pending(app.extensions["ggzy.db"], services(app)) == 1
    with clock.frozen(now):
        assert client.get(room, headers=t["headers"][0]).get_json()["me"]["outcome"] == "decrypted"
    c = session.get(Ceremony, t["cid"])
    assert c is not None and c.stage_ends_at is not None
    with clock.frozen(c.stage_ends_at + dt.timedelta(seconds=1)):
        assert code(client.post(lift, json={"reason": "核查完毕"}, headers=t["staff"])) == (409, "wrong_stage")


def test_no_lift_once_the_window_has_run_out(client: FlaskClient, session: Session, app: Flask) -> None:
    """Another bidder's job still queued keeps the room in decrypting after its end; a lift then
    would be announced though no key is taken any more."""
    t = open_tender(client, session, app, 3)
    now = held_back(client, session, app, t)
    with clock.frozen(now):
        assert release(client, t, 1).status_code == 202  # queued, not yet run: the room waits for it
    c = session.get(Ceremony, t["cid"])
    assert c is not None and c.stage_ends_at is not None
    credit_code = t["bidders"][0].user.organisation.credit_code
    assert session.get(Ceremony, t["cid"]).stage is Stage.DECRYPTING  # type: ignore[union-attr]
    with clock.frozen(c.stage_ends_at + dt.timedelta(minutes=5)):
        r = client.post(
            f"/api/v1/ceremonies/{t['cid']}/set-aside/{credit_code}/lift",
            json={"reason": "核查完毕"},
            headers=t["staff"],
        )
        assert (
            r.status_code == 409
            and r.get_json()["error"]["code"] == "wrong_stage"
            and "解密时间已结束" in r.get_json()["error"]["message"]
        )
        # paused once the time had run out: nothing is left to resume, so still no lift
        pause = client.post(f"/api/v1/ceremonies/{t['cid']}/pause", json={"reason": "核查"}, headers=t["staff"])
        assert pause.status_code == 200 and pause.get_json()["remaining_seconds"] == 0
        r = client.post(
            f"/api/v1/ceremonies/{t['cid']}/set-aside/{credit_code}/lift",
            json={"reason": "核查完毕"},
            headers=t["staff"],
        )
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "wrong_stage"
    assert not session.scalars(select(AuditEvent).where(AuditEvent.action == "decryption.set_aside_lift")).all()


def test_the_ceremony_key_is_stored_wrapped_and_bound_to_its_ceremony(
    client: FlaskClient, session: Session, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = open_tender(client, session, app, 3)
    t2 = open_tender(client, session, app, 3)
    a, b = session.get(Ceremony, t["cid"]), session.get(Ceremony, t2["cid"])
    assert a is not None and b is not None and a.private_key and b.private_key
    for c in (a, b):
        with pytest.raises(KeyFormatError):  # a dump of the row is not the key
            PrivateKey.from_der(c.private_key)  # type: ignore[arg-type]
        settings = app.extensions["ggzy.settings"]
        assert open_ceremony_key(settings, c.id, c.private_key).public_key.point == c.public_key  # type: ignore[arg-type]
    settings = app.extensions["ggzy.settings"]
    with pytest.raises(CeremonyKeyUnreadable):  # swapped between ceremonies, it does not open
        open_ceremony_key(settings, a.id, b.private_key)  # type: ignore[arg-type]
    # a row from before the wrapping holds the bare DER: refused unless the operator allows it
    legacy = PrivateKey.generate().to_der()
    with pytest.raises(CeremonyKeyUnreadable):
        open_ceremony_key(settings, a.id, legacy)
    monkeypatch.setenv(LEGACY_ENV, "1")
    assert open_ceremony_key(settings, a.id, legacy).to_der() == legacy
    # the worker decrypts through the wrapped key
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        monkeypatch.delenv(LEGACY_ENV)
        decrypting(client, t)
        assert release(client, t, 0).status_code == 202
        assert run_pending(app.extensions["ggzy.db"], services(app)) == 1
    job = session.scalars(
        select(DecryptionJob)
        .join(CeremonyBidder, CeremonyBidder.id == DecryptionJob.ceremony_bidder_id)
        .where(CeremonyBidder.ceremony_id == t["cid"])
        .execution_options(populate_existing=True)
    ).one()
    assert job.state is JobState.DONE, (job.error_code, job.error_detail)


@pytest.mark.parametrize("price", ["8999999.995", "-1", "0", "1_000", "１２３", 8000000])
def test_a_hand_made_price_the_builder_refuses_is_never_read_out(
    client: FlaskClient, session: Session, app: Flask, price: object
) -> None:
    """A sheet made past ``ggzy-bid build`` with a price it refuses: opened, no price read
    (``price_sheet_invalid``), not a price rounded on the reading, the record and the award notice
    while the evaluation ranks by the exact one."""
    t = open_tender(client, session, app, 3)
    sheet = {"tender": t["code"], "lot": 1, "price": price, "fields": {"duration_days": 200}}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(FILENAME, json.dumps(sheet, ensure_ascii=False))
    seat = first_bid_opened(client, session, app, t, out.getvalue())
    assert seat is not None and seat.outcome is Outcome.DECRYPTED and seat.price_sheet is None
    assert seat.outcome_reason == "price_sheet_invalid"
