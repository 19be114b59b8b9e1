"""Decryption workers: released keys are queued as rows; worker processes take them one at a time
(``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL), so many bidders decrypting at once neither
block the web server nor hold more than one chunk per worker in memory.

A failure is classified by whose doing it is (EB 31): the bidder's (a key that does not open its
own envelope, an envelope whose stored bytes are exactly what it uploaded but do not decrypt or
verify, a bid package that breaks the bounds of ``signing.bounded_zip``) or the platform's
(storage unreadable or changed since the receipt, our own error, a job that kept losing its
worker). The error code, detail and timings are kept as evidence for the record.

The envelope is checked in ENVELOPE.md's order: header, certificate and signature, every field
the platform knows (tender, lot, bidder, size) before the ceremony key is used or a byte decrypted.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, record_event
from archive.db import locked
from archive.objectstore import ObjectStoreError
from archive.objectstore.direct import DirectFile
from signing.bounded_zip import BoundedZip
from signing.certs import TrustStore
from signing.digest import sm3_hex, sm3_stream
from signing.envelope import SealedHeader, decrypt_chunks, read_header
from signing.errors import ArchiveRefused, EnvelopeError, EnvelopeSizeMismatch, SigningError
from signing.price_sheet import read_price_sheet, valid_price
from trading.accounts.models import Organisation
from trading.bids.models import Bid
from trading.core.db import Database
from trading.core.services import Services
from trading.opening.ceremonies import add_event
from trading.opening.ceremony_key import CeremonyKeyUnreadable, open_ceremony_key
from trading.opening.display import org_name
from trading.opening.models import WORKER_CRASHED, Ceremony, CeremonyBidder, DecryptionJob, Fault, JobState, Outcome
from trading.opening.worker_liveness import Liveness, holds_liveness, worker_alive
from trading.pki.operations import trust_store
from trading.tenders.models import Lot, Tender

log = logging.getLogger("ggzy.decryption")
#: A job running longer than this was lost with its worker; it is queued again. On PostgreSQL a
#: worker that holds a liveness lock is known lost at once instead (``worker_alive``), and only a
#: worker that hangs holding it waits ``HUNG_AFTER``: a big bid on a busy host may take minutes.
STALE_AFTER = dt.timedelta(minutes=10)
HUNG_AFTER = dt.timedelta(hours=1)
#: The name of jobs run in the caller's own process (``run_pending`` from the demo and the tests):
#: it holds no liveness lock, so only ``STALE_AFTER`` applies to them.
INLINE = "inline"
#: A job taken this many times and lost each time is set aside, not queued again (``requeue_stale``).
MAX_ATTEMPTS = 3


@dataclass
class Failed(Exception):
    fault: Fault
    code: str
    detail: str


@dataclass
class Claimed:
    """A job taken by a worker, with everything its decryption needs (read in the claim's
    transaction: one query, so the workers spend their time on the crypto)."""

    job_id: int
    ceremony_id: int
    sealed_key: bytes | None  # the ceremony's private key as stored: wrapped with the KEK
    wrapped: bytes
    bid: Bid
    tender_code: str
    lot_number: int
    bidder: str
    credit_code: str
    trust: TrustStore
    worker: str


def claim(session: Session, services: Services, worker: str) -> Claimed | None:
    """Take the oldest queued job (committed by the caller before the work starts)."""
    q = select(DecryptionJob).where(DecryptionJob.state == JobState.QUEUED).order_by(DecryptionJob.id).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        q = locked(q, skip_locked=True)
    job = session.scalar(q)
    if job is None:
        return None
    job.state, job.started_at, job.worker = JobState.RUNNING, clock.now(), worker
    job.attempts += 1  # counted when taken: a worker that dies leaves the count behind
    cid, sealed_key, bid, tender_code, lot_number, bidder, credit_code = session.execute(
        select(
            Ceremony.id, Ceremony.private_key, Bid, Tender.code, Lot.number, Organisation.name, Organisation.credit_code
        )
        .select_from(CeremonyBidder)
        .join(Ceremony, Ceremony.id == CeremonyBidder.ceremony_id)
        .join(Bid, Bid.id == CeremonyBidder.bid_id)
        .join(Tender, Tender.id == Ceremony.tender_id)
        .join(Lot, Lot.id == Ceremony.lot_id)
        .join(Organisation, Organisation.id == CeremonyBidder.org_id)
        .where(CeremonyBidder.id == job.ceremony_bidder_id)
    ).one()
    trust = trust_store(session, services.keys)
    session.expunge(bid)
    return Claimed(
        job.id, cid, sealed_key, job.wrapped_key, bid, tender_code, lot_number, bidder, credit_code, trust, worker
    )


def lost(session: Session, job: DecryptionJob, now: dt.datetime) -> bool:
    """A running job whose worker is gone: on PostgreSQL, for a worker with a liveness lock, when the
    lock is free, or after ``HUNG_AFTER`` (a worker that hangs holding it); otherwise after
    ``STALE_AFTER`` (SQLite, inline runs, workers of older releases)."""
    started = job.started_at or now
    if holds_liveness(job.worker) and session.get_bind().dialect.name == "postgresql":
        return started < now - HUNG_AFTER or not worker_alive(session, job.worker)
    return started < now - STALE_AFTER


def requeue_stale(session: Session, now: dt.datetime) -> int:
    """Queue again the jobs whose worker was lost (``lost``); one lost ``MAX_ATTEMPTS`` times is
    set aside instead (before, a package that killed its worker was retried every ten minutes for
    ever).

    Set aside means failed with the platform's fault, code ``worker_crashed``: the bid is not
    blamed (撤回 at the window's end, not 撤销), since a lost worker may as well be the host's
    doing as the package's; the package's bounds are the bidder's, and those are checked and
    named (``signing.bounded_zip``). Staff see the code and the attempts in the record's evidence
    and in the audit trail; the bidder may release its key again within the window, twice at most
    (``trading.opening.bidders.MAX_SET_ASIDE``), and again after staff look into it and lift the
    hold (``trading.opening.bidders.lift_set_aside``)."""
    q = select(DecryptionJob).where(DecryptionJob.state == JobState.RUNNING).order_by(DecryptionJob.id)
    if session.get_bind().dialect.name == "postgresql":
        q = locked(q, skip_locked=True)  # two workers sweeping at once requeue each job once
    running = session.scalars(q).all()
    jobs = [j for j in running if lost(session, j, now)]
    for job in jobs:
        ref = ("decryption_job", str(job.id))
        if job.attempts >= MAX_ATTEMPTS:
            _set_aside(session, job, now)
            continue
        record_event(session, SYSTEM, "decryption.requeue", ref, {"worker": job.worker, "attempts": job.attempts})
        job.state, job.worker, job.started_at = JobState.QUEUED, None, None
    return len(jobs)


def _set_aside(session: Session, job: DecryptionJob, now: dt.datetime) -> None:
    seat = session.get(CeremonyBidder, job.ceremony_bidder_id)
    assert seat is not None
    c = session.get(Ceremony, seat.ceremony_id)
    assert c is not None
    detail = f"处理 {job.attempts} 次均中断（最后一次 {job.worker}），已搁置待工作人员核查"
    job.state, job.fault, job.error_code, job.error_detail = JobState.FAILED, Fault.PLATFORM, WORKER_CRASHED, detail
    job.finished_at = now
    log.error("decryption job %s set aside after %s lost attempts", job.id, job.attempts)
    record_event(
        session,
        SYSTEM,
        "decryption.set_aside",
        c,
        {"job": job.id, "attempts": job.attempts, "worker": job.worker, "code": WORKER_CRASHED},
    )
    add_event(
        session,
        c,
        "decryption",
        {"bidder": org_name(session, seat.org_id), "state": "failed", "code": WORKER_CRASHED},
    )


def _stored_sm3(services: Services, key: str) -> str:
    with services.store.open(key) as src:
        return sm3_stream(src)[0].hex()


def _read_package(path: str, tender: str, lot: int) -> dict[str, object] | None:
    """The price sheet of a decrypted bid package, or None if the package holds no valid one
    (opened, ``price_sheet_invalid``: the format is checked before sealing). A package that
    breaks a bound is the bidder's doing: ``Failed`` with the bound's code and the entry.
    Every entry is inflated once, keeping nothing, so a bound hidden in any entry (a lying
    size, a bomb beside the price sheet) is found here, not by an expert's copy later."""
    try:
        with open(path, "rb") as f:
            package = BoundedZip(f)
            package.verify()
            sheet = read_price_sheet(package)
    except ArchiveRefused as exc:
        # not a zip at all (no end record, no local header at 0): opened, no price sheet read. A
        # zip that is damaged or says two things (archive_gap, archive_header_mismatch,
        # archive_corrupt) is the bidder's, like any bound: another reader might read a price.
        if exc.code == "archive_unreadable":
            return None
        raise Failed(Fault.BIDDER, exc.code, str(exc)) from None
    if not isinstance(sheet, dict) or sheet.get("tender") != tender or sheet.get("lot") != lot:
        return None
    if not valid_price(sheet.get("price")):
        return None  # made by hand past the builder: no price is read out rather than a rounded one
    return sheet


def _decrypt(services: Services, job: Claimed, work: str) -> tuple[SealedHeader, str]:
    """Check the stored envelope's header, then decrypt it into ``work``; raise ``Failed`` with
    whose fault it was."""
    bid = job.bid
    try:
        with services.store.open(bid.object_key) as src:
            try:
                header = read_header(src)
            except EnvelopeError as exc:  # it was checked at upload: the stored bytes changed
                raise Failed(Fault.PLATFORM, "storage_corrupt", f"{exc.code}: {exc}") from None
            _check_header(services, job, header)
            assert job.sealed_key is not None
            try:
                ceremony_key = open_ceremony_key(services.settings, job.ceremony_id, job.sealed_key)
            except CeremonyKeyUnreadable as exc:
                raise Failed(Fault.PLATFORM, "ceremony_key_unreadable", str(exc)) from None
            try:
                key = ceremony_key.decrypt(job.wrapped)
            except SigningError as exc:
                raise Failed(Fault.BIDDER, "key_unwrap_failed", str(exc)) from None
            if len(key) != 16:
                raise Failed(Fault.BIDDER, "wrong_key", "密钥长度不对")
            try:
                header.check_key(key)
            except EnvelopeError as exc:
                raise Failed(Fault.BIDDER, "wrong_key", str(exc)) from None
            try:
                with DirectFile(work) as dst:  # around the page cache: see archive.objectstore.direct
                    decrypt_chunks(header, src, dst, key)
            except EnvelopeError as exc:
                # Whose bytes are these? If they are exactly the receipted ones, the bidder's.
                if _stored_sm3(services, bid.object_key) != bid.ciphertext_sm3:
                    raise Failed(Fault.PLATFORM, "storage_corrupt", str(exc)) from None
                raise Failed(Fault.BIDDER, "envelope_broken", f"{exc.code}: {exc}") from None
    except (ObjectStoreError, OSError) as exc:
        raise Failed(Fault.PLATFORM, "storage_error", repr(exc)) from None
    return header, header.plaintext_sm3


def _check_header(services: Services, job: Claimed, header: SealedHeader) -> None:
    """Everything the platform can check in the header, before any key is used (ENVELOPE.md,
    Opening 1–2): the receipted header, the ids it was accepted for, the size, the signer's
    certificate and signature as of the receipt."""
    bid = job.bid
    try:
        if sm3_hex(header.raw) != bid.header_sm3:
            raise EnvelopeError("信封头与回执记录的不一致 (header differs from the receipted one)")
        if header.envelope_size != bid.size:
            raise EnvelopeSizeMismatch(f"文件头声明 {header.envelope_size} 字节，回执记录 {bid.size} 字节")
        header.verify(
            job.trust,
            at=bid.received_at,
            tender_id=job.tender_code,
            lot_id=str(job.lot_number),
            bidder_id=job.credit_code,
        )
    except SigningError as exc:
        # Checked at upload: if the stored bytes are the receipted ones, what fails now (a
        # certificate revoked since, say) is the bidder's; otherwise storage changed them.
        if _stored_sm3(services, bid.object_key) != bid.ciphertext_sm3:
            raise Failed(Fault.PLATFORM, "storage_corrupt", f"{exc.code}: {exc}") from None
        raise Failed(Fault.BIDDER, "signature_invalid", f"{exc.code}: {exc}") from None


@dataclass
class _Decrypted:
    """What the CPU phase of a job leaves for its finishing phase."""

    job: Claimed
    started: float
    work: str
    plaintext_sm3: str | None = None
    sheet: dict[str, object] | None = None
    failure: Failed | None = None


def _decrypt_phase(services: Services, job: Claimed) -> _Decrypted:
    """Decrypt into a temporary file and read the price sheet (the CPU-bound part)."""
    started = time.perf_counter()
    fd, work = tempfile.mkstemp(prefix="decrypt-", dir=services.scratch)
    os.close(fd)
    out = _Decrypted(job, started, work)
    try:
        if job.sealed_key is None:
            raise Failed(Fault.PLATFORM, "ceremony_key_gone", "开标密钥已销毁")
        _, out.plaintext_sm3 = _decrypt(services, job, work)
        out.sheet = _read_package(work, job.tender_code, job.lot_number)
    except Failed as f:
        out.failure = f
    except Exception as exc:  # our own error: never the bidder's loss
        log.exception("decryption job %s failed", job.job_id)
        out.failure = Failed(Fault.PLATFORM, "internal_error", repr(exc))
    return out


def _finish(database: Database, services: Services, d: _Decrypted) -> None:
    """Store the plaintext and record the result (overlapping the next job's decryption)."""
    failure, sheet, plaintext_sm3 = d.failure, d.sheet, d.plaintext_sm3
    stored_key = None
    try:
        if failure is None and plaintext_sm3 is not None:
            try:
                stored_key = services.store.adopt_file(d.work, plaintext_sm3, os.path.getsize(d.work)).key
            except (ObjectStoreError, OSError) as exc:
                failure = Failed(Fault.PLATFORM, "storage_error", repr(exc))
    finally:
        if os.path.exists(d.work):
            os.unlink(d.work)
    ms = int((time.perf_counter() - d.started) * 1000)
    with database.session() as s:
        job = s.scalars(locked(select(DecryptionJob).where(DecryptionJob.id == d.job.job_id))).one()
        if (job.state, job.worker) != (JobState.RUNNING, d.job.worker):
            # taken from this worker as lost (its liveness lock or connection went while it
            # worked) and queued again: the result is the other run's to record, once
            log.warning("decryption job %s was requeued while %s ran it; result dropped", job.id, d.job.worker)
            return
        seat = s.get(CeremonyBidder, job.ceremony_bidder_id)
        c = s.get(Ceremony, d.job.ceremony_id)
        assert seat is not None and c is not None
        now = clock.now()
        job.finished_at = now
        name = d.job.bidder
        if failure is None:
            job.state = JobState.DONE
            seat.outcome, seat.decrypted_at = Outcome.DECRYPTED, now
            seat.plaintext_key, seat.plaintext_sm3, seat.price_sheet = stored_key, plaintext_sm3, sheet
            seat.outcome_reason = None if sheet is not None else "price_sheet_invalid"
            record_event(
                s,
                SYSTEM,
                "ceremony.decrypted",
                c,
                {"job": job.id, "plaintext_sm3": plaintext_sm3, "ms": ms, "price_sheet": sheet is not None},
            )
            add_event(s, c, "decryption", {"bidder": name, "state": "decrypted"})
        else:
            job.state, job.fault, job.error_code, job.error_detail = (
                JobState.FAILED,
                failure.fault,
                failure.code,
                f"{failure.detail} ({ms} ms)",
            )
            record_event(
                s,
                SYSTEM,
                "ceremony.decrypt_failed",
                c,
                {"job": job.id, "fault": failure.fault.value, "code": failure.code, "ms": ms},
            )
            add_event(s, c, "decryption", {"bidder": name, "state": "failed", "code": failure.code})


def run_pending(
    database: Database,
    services: Services,
    worker: str = INLINE,
    *,
    overlap: bool = False,
    alive: Liveness | None = None,
) -> int:
    """Process queued jobs until none is left (tests, the demo, and each worker loop's step).
    With ``overlap`` (the worker processes), a job's finishing — the plaintext's fsync, the
    result's transaction — runs in a thread while the next job decrypts; at most one waits. (Not
    for sessions sharing one connection, as the tests' are.) With ``alive``, its lock is checked
    before each claim and the job is claimed in its name."""
    from concurrent.futures import Future, ThreadPoolExecutor

    done = 0
    with ThreadPoolExecutor(max_workers=1) as finisher:
        finishing: Future[None] | None = None
        while True:
            if alive is not None:
                alive.hold()
                worker = alive.worker
            with database.session() as s:
                job = claim(s, services, worker)
            if job is None:
                break
            decrypted = _decrypt_phase(services, job)
            if finishing is not None:
                finishing.result()
                finishing = None
            if overlap:
                finishing = finisher.submit(_finish, database, services, decrypted)
            else:
                _finish(database, services, decrypted)
            done += 1
        if finishing is not None:
            finishing.result()
    return done


def work(database: Database, services: Services, stop: threading.Event, poll: float = 0.5) -> None:
    """A worker process's loop: it holds its liveness lock (PostgreSQL) on a connection of its own
    before it takes any job, so its jobs are queued again as soon as it dies."""
    alive = Liveness(database.url)
    try:
        while not stop.is_set():
            try:
                with database.session() as s:  # run_pending takes or checks the lock before each claim
                    requeue_stale(s, clock.now())
                if not run_pending(database, services, overlap=True, alive=alive):
                    stop.wait(poll)
            except DBAPIError:
                # the database restarting or failing over: wait for it rather than die (a dead
                # worker is restarted, but every restart costs an interpreter's start)
                log.exception("decryption worker %s lost the database; trying again", alive.worker)
                alive.release()
                stop.wait(5)
    finally:
        alive.close()
