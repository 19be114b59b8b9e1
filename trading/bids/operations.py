"""Bid submission rules (投标): staged uploads, acceptance at the deadline, receipts, withdrawal.

The platform never holds a bid's plaintext or key here: it checks the sealed envelope's header
(signature, certificate, binding to tender, lot and bidder), hashes the ciphertext once as it
streams in, and accepts the bid in one transaction that locks the tender row and reads the
server clock, so the completion instant alone decides whether a bid beat the deadline.
"""

from __future__ import annotations

import datetime as dt
import io
import pathlib
import shutil
import threading
import uuid
from dataclasses import dataclass
from typing import IO

from sqlalchemy import ColumnElement, and_, func, not_, select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import ActorRef, record_event
from archive.db import locked
from archive.objectstore import ObjectStore
from archive.objectstore.base import start_writeback
from signing.certs import TrustStore, Usage
from signing.digest import SM3, BackgroundSM3, sm3_hex
from signing.envelope import read_header
from signing.errors import SigningError
from signing.statements import bid_withdrawal_statement, sign_statement
from trading.accounts.models import Role, User
from trading.bids.models import Bid, BidState, BidUpload, UploadState
from trading.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from trading.core.platform_keys import PlatformKeys
from trading.core.scheduler import each_apart
from trading.pki.operations import check_signature, current_certificate, registered_signing_cert, trust_store
from trading.tenders.documents import get_interest
from trading.tenders.models import Interest, Lot, Tender, TenderState
from trading.tenders.operations import ensure_current, get_tender
from trading.tenders.sealed import SEALED

PART_SIZE = 32 * 1024 * 1024
MAX_BID_BYTES = 4 * 1024**3
UPLOAD_LIFETIME = dt.timedelta(hours=24)


@dataclass(frozen=True)
class UploadLimits:
    """What one bidder may hold open (UPLOADS_OPEN_PER_LOT, UPLOADS_OPEN_PER_BIDDER, and in declared
    bytes STAGING_MAX_BYTES_PER_BIDDER), what all open uploads together may stage (STAGING_MAX_BYTES,
    in bytes actually received), and how long an upload may sit without a part before it stops
    counting and is swept (UPLOAD_IDLE_SECONDS)."""

    per_lot: int = 3
    per_bidder: int = 10
    staging_bytes: int = 64 << 30
    bidder_bytes: int = 2 * MAX_BID_BYTES
    idle_seconds: int = 3600

    @property
    def idle(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.idle_seconds)


class TooManyUploads(Conflict):
    code = "too_many_open_uploads"


class TooManyUploadBytes(Conflict):
    code = "too_many_upload_bytes"


class UploadExpired(Conflict):
    code = "upload_expired"


class StagingFull(DomainError):
    status = 507
    code = "staging_full"
    retry_after = 60  # space frees as other uploads complete or are swept


STAGING_FULL = "平台暂存空间已满，暂不能接收新的投标文件，请稍后重试或联系交易中心"


class DeadlinePassed(Conflict):
    code = "deadline_passed"


class StagingLost(Conflict):
    """The staged bytes no longer match what was acknowledged (the upload restarts at part 1)."""

    code = "staging_lost"


# ---------------------------------------------------------------- the running hash of each upload
_hashers: dict[str, tuple[int, SM3]] = {}
_hashers_lock = threading.Lock()


def _running_hash(upload: BidUpload, staged: pathlib.Path) -> SM3:
    """The SM3 of the bytes accepted so far. A keep-alive connection keeps hitting the same worker,
    which keeps the hash in memory; after a reconnect or a restart it is rebuilt from the staging
    file and checked against the committed digest (parts are not fsynced one by one: an OS crash
    that lost staged bytes is caught here, and the upload starts again from the first part)."""
    with _hashers_lock:
        cached = _hashers.get(upload.id)
    if cached is not None and cached[0] == upload.received:
        return cached[1].copy()
    h = SM3()
    left = upload.received
    with staged.open("rb") as f:
        while left:
            chunk = f.read(min(left, 1 << 20))
            if not chunk:
                break
            h.update(chunk)
            left -= len(chunk)
    if left or h.hexdigest() != upload.prefix_sm3:
        upload.received, upload.parts, upload.prefix_sm3 = 0, 0, sm3_hex(b"")
        raise StagingLost("暂存数据已损坏，请从第 1 片重新上传", code="staging_lost")
    return h


def _remember(upload_id: str, received: int, h: SM3) -> None:
    with _hashers_lock:
        _hashers[upload_id] = (received, h)


def _forget(upload_id: str) -> None:
    with _hashers_lock:
        _hashers.pop(upload_id, None)


def staged_path(staging: pathlib.Path, upload_id: str) -> pathlib.Path:
    return staging / f"{upload_id}.part"


# ---------------------------------------------------------------- helpers
def _bidder_org(user: User) -> tuple[int, str]:
    if Role.BIDDER not in user.roles or user.organisation is None:
        raise Forbidden("只有投标人可以投标")
    return user.organisation.id, user.organisation.credit_code


def _lot(tender: Tender, number: int) -> Lot:
    for lot in tender.lots:
        if lot.number == number:
            return lot
    raise NotFound(f"标段 {number} 不存在")


def _accepting(session: Session, tender: Tender, now: dt.datetime) -> None:
    ensure_current(session, tender)
    if tender.status is TenderState.BIDDING_CLOSED or tender.deadline_passed(now):
        raise DeadlinePassed(
            f"投标截止时间 {clock.local(tender.bid_deadline):%Y-%m-%d %H:%M:%S} 已过，不再接受投标文件"
        )
    if tender.status is not TenderState.PUBLISHED:
        raise Conflict(f"项目当前状态为“{tender.status.label}”，不接受投标文件", code="wrong_state")


def _sealed(commitment: str) -> ActorRef:
    """The neutral actor of every sealed event (trading.tenders.sealed): the bid events already
    carry a fresh commitment each (SM3 of the signed receipt or confirmation), opened by the
    bidder's own receipt and the deadline commitment; the actor must not add a pseudonym."""
    return SEALED


# ---------------------------------------------------------------- init → parts → complete
def _live(now: dt.datetime, idle: dt.timedelta) -> ColumnElement[bool]:
    """An open upload that can still become a bid: not expired, a part received (or the upload
    begun) within ``idle``, and its tender still taking bids. Only live uploads count against the
    caps; the others are swept (``abandon_expired``). Without the idle rule a bidder could claim
    places and bytes for 24 h by sending nothing."""
    taking = select(Tender.id).where(
        ~Tender.deadline_passed_by(now), Tender.status.not_in((TenderState.BIDDING_CLOSED, TenderState.TERMINATED))
    )
    return and_(BidUpload.expires_at > now, BidUpload.updated_at > now - idle, BidUpload.tender_id.in_(taking))


def _check_limits(session: Session, org_id: int, lot: Lot, size: int, now: dt.datetime, limits: UploadLimits) -> None:
    """Refuse an upload past the bidder's own caps: places per lot and in all, and the declared
    bytes of its live uploads. Declared sizes are reserved only against the bidder's own budget,
    never against the shared staging budget (``_check_staging``, counted in bytes received): a
    header may claim 4 GiB and send nothing, and one bidder's claims must not refuse another's."""
    mine = session.execute(
        select(BidUpload.lot_id, BidUpload.declared_size).where(
            BidUpload.org_id == org_id, BidUpload.state == UploadState.OPEN, _live(now, limits.idle)
        )
    ).all()
    how = "可放弃不再需要的上传（DELETE /api/v1/bids/uploads/<upload_id>），或等待其过期"
    if sum(1 for lot_id, _ in mine if lot_id == lot.id) >= limits.per_lot:
        raise TooManyUploads(f"贵单位在本标段已有 {limits.per_lot} 个未完成的上传，{how}")
    if len(mine) >= limits.per_bidder:
        raise TooManyUploads(f"贵单位已有 {limits.per_bidder} 个未完成的上传，{how}")
    if sum(declared for _, declared in mine) + size > limits.bidder_bytes:
        raise TooManyUploadBytes(f"贵单位未完成的上传合计超过 {limits.bidder_bytes} 字节，{how}")


def _check_staging(session: Session, staging: pathlib.Path, expected: int, limits: UploadLimits) -> None:
    """Refuse a part the staging volume cannot take: past STAGING_MAX_BYTES counted in bytes
    actually staged by open uploads (idle ones too, until the sweep deletes their files), or past
    the volume's free room. Two parts written at the same instant may pass the budget by a part."""
    staged = session.scalar(
        select(func.coalesce(func.sum(BidUpload.received), 0)).where(BidUpload.state == UploadState.OPEN)
    )
    if int(staged or 0) + expected > limits.staging_bytes:
        raise StagingFull(STAGING_FULL)
    if shutil.disk_usage(staging).free < expected:
        raise StagingFull(STAGING_FULL)  # the volume is smaller than STAGING_MAX_BYTES says


def _serialise_inits(session: Session, org_id: int) -> None:
    """Lock the bidder's registrations (its interest rows, in id order) so that its upload inits
    take turns: two counted at the same instant both saw a free place and passed a cap by one.
    Taken after the tender (``_accepting``), as every lock of ours is. Not the organisation row: a
    completion holds its tender row and then inserts a bid referring to the organisation, which
    waits on that row's lock while this init, holding it, would wait on the tender (a deadlock).
    Nothing that locks a tender refers to an interest row."""
    session.execute(locked(select(Interest.id).where(Interest.org_id == org_id).order_by(Interest.id))).all()


def init_upload(
    session: Session,
    user: User,
    tender: Tender,
    lot_number: int,
    size: int,
    head: bytes,
    trust: TrustStore,
    limits: UploadLimits = UploadLimits(),
) -> BidUpload:
    org_id, credit_code = _bidder_org(user)
    now = clock.now()
    _accepting(session, tender, now)
    lot = _lot(tender, lot_number)
    if get_interest(session, tender, user) is None:
        raise Forbidden("请先报名本项目", code="not_registered")
    if not 0 < size <= MAX_BID_BYTES:
        raise InvalidInput(f"投标文件大小应在 1 字节到 {MAX_BID_BYTES} 字节之间", fields={"size": "越界"})
    src = io.BytesIO(head)
    try:
        header = read_header(src)
    except SigningError as exc:
        raise InvalidInput(f"不是有效的加密投标文件：{exc}", code=exc.code) from None
    if src.tell() != len(head):
        raise InvalidInput("文件头之后不应附带其他数据", code="not_an_envelope")
    try:
        cert = header.verify(trust, at=now, tender_id=tender.code, lot_id=str(lot.number), bidder_id=credit_code)
    except SigningError as exc:
        raise InvalidInput(f"加密投标文件校验失败：{exc}", code=exc.code) from None
    registered = current_certificate(session, user, Usage.SIGN)
    if registered is None or registered.der != cert.der:
        raise Forbidden("投标文件的签名证书不是您登记的签名证书", code="certificate_not_registered")
    if size != header.envelope_size:
        raise InvalidInput(f"声明的大小 {size} 与文件头计算的大小 {header.envelope_size} 不符", code="size_mismatch")
    _serialise_inits(session, org_id)
    _check_limits(session, org_id, lot, size, now, limits)
    upload = BidUpload(
        id=uuid.uuid4().hex,
        tender_id=tender.id,
        lot_id=lot.id,
        org_id=org_id,
        user_id=user.id,
        state=UploadState.OPEN,
        declared_size=size,
        part_size=PART_SIZE,
        head=head,
        received=0,
        parts=0,
        prefix_sm3=sm3_hex(b""),
        created_at=now,
        updated_at=now,
        expires_at=now + UPLOAD_LIFETIME,
    )
    session.add(upload)
    session.flush()
    return upload


def get_upload(session: Session, user: User, upload_id: str, *, for_update: bool = False) -> BidUpload:
    q = select(BidUpload).where(BidUpload.id == upload_id)
    if for_update:
        q = locked(q)
    upload = session.scalar(q)
    if upload is None or upload.org_id != user.organisation_id:
        raise NotFound("上传任务不存在")
    return upload


def put_part(
    session: Session,
    staging: pathlib.Path,
    upload: BidUpload,
    number: int,
    body: IO[bytes],
    prefix_sm3: str,
    limits: UploadLimits = UploadLimits(),
) -> BidUpload:
    """Append part ``number``; ``prefix_sm3`` is the client's SM3 of the file up to this part's end."""
    if upload.state is not UploadState.OPEN:
        raise Conflict("上传任务已结束", code="upload_closed")
    now = clock.now()
    # An upload that stopped counting against the caps must not resume past them: the sweep takes it.
    live = session.scalar(select(BidUpload.id).where(BidUpload.id == upload.id, _live(now, limits.idle)))
    if live is None:
        raise UploadExpired("上传任务已过期或投标已截止，请重新上传", code="upload_expired")
    if number <= upload.parts and number == upload.parts and prefix_sm3 == upload.prefix_sm3:
        return upload  # a retry of the last accepted part: already have it
    if number != upload.parts + 1:
        raise Conflict(f"分片顺序错误：应上传第 {upload.parts + 1} 片", code="part_out_of_order")
    expected = min(upload.part_size, upload.declared_size - upload.received)
    if expected <= 0:
        raise Conflict("已收到全部数据，请完成上传", code="part_out_of_order")
    staged = staged_path(staging, upload.id)
    staging.mkdir(parents=True, exist_ok=True)
    _check_staging(session, staging, expected, limits)
    h = _running_hash(upload, staged) if upload.received else SM3()
    got = 0
    with staged.open("r+b" if staged.exists() else "w+b") as f:
        f.truncate(upload.received)  # whatever a killed process left beyond the committed length
        f.seek(upload.received)
        first = upload.received == 0
        with BackgroundSM3(h) as hashing:  # hashes on another core while this thread receives
            while True:
                chunk = body.read(1 << 20)
                if not chunk:
                    break
                if first and got == 0 and not chunk.startswith(upload.head[: len(chunk)]):
                    f.truncate(upload.received)
                    raise InvalidInput("第 1 片的文件头与初始化时提交的不一致", code="header_mismatch")
                got += len(chunk)
                if got > expected:
                    f.truncate(upload.received)
                    raise InvalidInput(f"分片长度应为 {expected} 字节", code="part_size")
                hashing.update(chunk)
                f.write(chunk)
            h, _ = hashing.finish()
        if got != expected:
            f.truncate(upload.received)
            raise InvalidInput(f"分片长度应为 {expected} 字节，收到 {got} 字节", code="part_size")
        if h.hexdigest() != prefix_sm3.lower():
            f.truncate(upload.received)
            _forget(upload.id)
            raise InvalidInput("分片校验失败：SM3 不符，请重传此片", code="part_digest_mismatch")
        start_writeback(f, upload.received, got)  # the fsync at completion then has little left to do
    upload.received += got
    upload.parts += 1
    upload.prefix_sm3 = h.hexdigest()
    upload.updated_at = clock.now()
    session.flush()
    _remember(upload.id, upload.received, h)
    return upload


def complete_upload(
    session: Session, store: ObjectStore, keys: PlatformKeys, staging: pathlib.Path, user: User, upload: BidUpload
) -> Bid:
    """Accept the bid: store it, then decide by the server clock with the tender row locked."""
    if upload.state is not UploadState.OPEN:
        raise Conflict("上传任务已结束", code="upload_closed")
    if upload.received != upload.declared_size:
        raise Conflict(f"尚未收到全部数据（{upload.received}/{upload.declared_size} 字节）", code="upload_incomplete")
    tender = session.get(Tender, upload.tender_id)
    assert tender is not None
    staged = staged_path(staging, upload.id)
    if not staged.exists() or staged.stat().st_size < upload.received:
        upload.received, upload.parts, upload.prefix_sm3 = 0, 0, sm3_hex(b"")
        raise StagingLost("暂存文件不完整，请从第 1 片重新上传", code="staging_lost")
    with _hashers_lock:
        cached = _hashers.get(upload.id)
    if cached is None or cached[0] != upload.received:
        _running_hash(upload, staged)  # after a restart: prove the staged bytes are the acknowledged ones
    with staged.open("r+b") as f:
        f.truncate(upload.received)
    # Store first (may take seconds for S3): an unreferenced object is harmless if we refuse below.
    obj = store.adopt_file(str(staged), upload.prefix_sm3, upload.received)
    _forget(upload.id)
    tender = get_tender(session, tender.code, for_update=True)  # serialises completions per tender
    now = clock.now()  # the completion instant, inside the accepting transaction
    try:
        _accepting(session, tender, now)
    except DomainError:
        upload.state, upload.updated_at = UploadState.ABANDONED, now
        raise
    lot = session.get(Lot, upload.lot_id)
    assert lot is not None
    previous = session.scalar(
        locked(select(Bid).where(Bid.lot_id == lot.id, Bid.org_id == upload.org_id, Bid.status == BidState.ACCEPTED))
    )
    header = read_header(io.BytesIO(upload.head))
    if previous is not None:
        previous.status = BidState.SUPERSEDED
        session.flush()
    org = user.organisation
    assert org is not None
    body = {
        "tender": tender.code,
        "lot": lot.number,
        "bidder": org.credit_code,
        "ciphertext_sm3": obj.sm3,
        "size": upload.received,
        "header_sm3": sm3_hex(header.raw),
        "received_at": now.isoformat(),
        "replaces": previous.ciphertext_sm3 if previous else None,
    }
    receipt = sign_statement("bid_receipt", body, key=keys.sign_key, cert=keys.sign_cert, now=now)
    bid = Bid(
        tender_id=tender.id,
        lot_id=lot.id,
        org_id=upload.org_id,
        user_id=user.id,
        status=BidState.ACCEPTED,
        object_key=obj.key,
        ciphertext_sm3=obj.sm3,
        size=upload.received,
        header_sm3=body["header_sm3"],
        signer_cert_sm3=header.signer_cert.fingerprint,
        received_at=now,
        receipt=receipt.to_json().decode(),
        replaces_id=previous.id if previous else None,
    )
    session.add(bid)
    upload.state, upload.updated_at = UploadState.COMPLETED, now
    session.flush()
    commitment = bid.commitment
    record_event(
        session,
        _sealed(commitment),
        "bid.submit",
        ("bid", commitment[:32]),
        {"commitment": commitment, "ciphertext_sm3": obj.sm3},
    )
    return bid


# ---------------------------------------------------------------- reading and withdrawing
def my_bids(session: Session, user: User, tender: Tender | None = None) -> list[Bid]:
    if user.organisation_id is None:
        return []
    q = select(Bid).where(Bid.org_id == user.organisation_id)
    if tender is not None:
        q = q.where(Bid.tender_id == tender.id)
    return list(session.scalars(q.order_by(Bid.id.desc())))


def get_my_bid(session: Session, user: User, ciphertext_sm3: str) -> Bid:
    q = select(Bid).where(Bid.ciphertext_sm3 == ciphertext_sm3, Bid.org_id == user.organisation_id)
    bid = session.scalar(q.order_by(Bid.id.desc()).limit(1))
    if bid is None:
        raise NotFound("投标文件不存在")
    return bid


def withdraw_bid(session: Session, keys: PlatformKeys, user: User, bid: Bid, signature_b64: str) -> str:
    """ACCEPTED → WITHDRAWN before the deadline, signed by the bidder; returns the signed confirmation."""
    tender = session.get(Tender, bid.tender_id)
    lot = session.get(Lot, bid.lot_id)
    assert tender is not None and lot is not None and user.organisation is not None
    # the tender's lock first, then the bid's: the order a completion takes them in (a replacement
    # supersedes this bid under the tender's lock), so the two wait for each other, never deadlock
    tender = get_tender(session, tender.code, for_update=True)
    bid = session.scalars(locked(select(Bid).where(Bid.id == bid.id))).one()
    now = clock.now()
    _accepting(session, tender, now)
    if bid.status is not BidState.ACCEPTED:
        raise Conflict(f"该投标文件状态为“{bid.status.label}”，不能撤回", code="wrong_state")
    cert = registered_signing_cert(session, user, trust_store(session, keys))  # revoked UKeys cannot withdraw
    statement = bid_withdrawal_statement(tender.code, lot.number, user.organisation.credit_code, bid.ciphertext_sm3)
    check_signature(cert, statement, signature_b64, "撤回声明")
    bid.status, bid.withdrawn_at, bid.withdrawal = BidState.WITHDRAWN, now, signature_b64
    session.flush()
    confirmation = sign_statement(
        "bid_withdrawal",
        {
            "tender": tender.code,
            "lot": lot.number,
            "bidder": user.organisation.credit_code,
            "ciphertext_sm3": bid.ciphertext_sm3,
            "withdrawn_at": now.isoformat(),
        },
        key=keys.sign_key,
        cert=keys.sign_cert,
        now=now,
    )
    commitment = sm3_hex(confirmation.statement)
    record_event(session, _sealed(commitment), "bid.withdraw", ("bid", commitment[:32]), {"commitment": commitment})
    return confirmation.to_json().decode()


def open_uploads(session: Session, user: User) -> list[BidUpload]:
    """The caller's organisation's uploads still open (to resume one, or give it up)."""
    q = select(BidUpload).where(BidUpload.org_id == user.organisation_id, BidUpload.state == UploadState.OPEN)
    return list(session.scalars(q.order_by(BidUpload.created_at)))


def abandon_upload(session: Session, staging: pathlib.Path, upload: BidUpload) -> None:
    """The bidder gives up an open upload (locked by the caller): its staged bytes are deleted and
    it no longer counts against the caps. Nothing is recorded: the upload was never a bid, and an
    event would tell, before the deadline, that this bidder is bidding."""
    if upload.state is not UploadState.OPEN:
        raise Conflict("上传任务已结束", code="upload_closed")
    upload.state, upload.updated_at = UploadState.ABANDONED, clock.now()
    staged_path(staging, upload.id).unlink(missing_ok=True)
    _forget(upload.id)
    session.flush()


def abandon_expired(
    session: Session, staging: pathlib.Path, now: dt.datetime, idle: dt.timedelta = UploadLimits().idle
) -> int:
    """The scheduler's sweep: uploads no longer live (expired, idle for ``idle``, or their tender's
    deadline passed) are abandoned and their staged bytes deleted, each in a transaction of its own
    (``each_apart``), so one that cannot be moved holds up no other. No audit event: an upload is
    not a bid, and an event would show who is bidding before the deadline."""
    due = select(BidUpload.id).where(BidUpload.state == UploadState.OPEN, not_(_live(now, idle)))
    ids = list(session.scalars(due).all())
    return each_apart(
        session, ids, lambda upload_id: abandon_one(session, staging, upload_id, now, idle), "abandon_uploads"
    )


def abandon_one(
    session: Session, staging: pathlib.Path, upload_id: str, now: dt.datetime, idle: dt.timedelta = UploadLimits().idle
) -> bool:
    """Abandon one upload no longer live; a request still writing to it or completing it (holding
    its row) is skipped until the next sweep."""
    upload = session.scalar(
        locked(
            select(BidUpload).where(
                BidUpload.id == upload_id, BidUpload.state == UploadState.OPEN, not_(_live(now, idle))
            ),
            skip_locked=True,
        )
    )
    if upload is None:
        return False
    upload.state, upload.updated_at = UploadState.ABANDONED, now
    session.flush()
    staged_path(staging, upload.id).unlink(missing_ok=True)
    _forget(upload.id)
    return True
