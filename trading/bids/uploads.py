"""Staged uploads of a sealed bid (分片上传): init (the envelope's header checked), parts (each
hashed once as it streams in), and giving up, by the bidder or by the sweep. What one bidder may
hold open, and what all open uploads together may stage, is capped; an upload is never a bid
until ``acceptance.complete_upload`` accepts it, and nothing of it is recorded in the audit trail
(an event would tell, before the deadline, who is bidding)."""

from __future__ import annotations

import datetime as dt
import io
import pathlib
import re
import shutil
import uuid
from dataclasses import dataclass
from typing import IO, cast

from sqlalchemy import ColumnElement, and_, func, not_, select
from sqlalchemy.orm import Session

from archive import clock
from archive.db import locked
from archive.objectstore.base import ObjectStore, start_writeback
from signing.certs import TrustStore, Usage
from signing.digest import SM3, BackgroundSM3, sm3_hex
from signing.envelope import read_header
from signing.errors import SigningError
from trading.accounts.models import User
from trading.bids.acceptance import bidder_org, ensure_accepting, lot_numbered
from trading.bids.lifecycle import ensure_open, move_upload
from trading.bids.models import Bid, BidOrigin, BidUpload, UploadState
from trading.bids.staging import Staging, discard, forget, part_name, remember, running_hash, staged_path
from trading.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from trading.core.scheduler import each_apart
from trading.pki.operations import current_certificate
from trading.tenders.documents import get_interest
from trading.tenders.models import Interest, Lot, Tender, TenderState

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


def _check_staging(session: Session, staging: Staging, expected: int, limits: UploadLimits) -> None:
    """Refuse a part the staging volume cannot take: past STAGING_MAX_BYTES counted in bytes
    actually staged by open uploads (idle ones too, until the sweep deletes their files), or past
    the volume's free room. Two parts written at the same instant may pass the budget by a part."""
    staged = session.scalar(
        select(func.coalesce(func.sum(BidUpload.received), 0)).where(BidUpload.state == UploadState.OPEN)
    )
    if int(staged or 0) + expected > limits.staging_bytes:
        raise StagingFull(STAGING_FULL)
    if isinstance(staging, pathlib.Path) and shutil.disk_usage(staging).free < expected:
        raise StagingFull(STAGING_FULL)  # the volume is smaller than STAGING_MAX_BYTES says


def _serialise_inits(session: Session, org_id: int) -> None:
    """Lock the bidder's registrations (its interest rows, in id order) so that its upload inits
    take turns: two counted at the same instant both saw a free place and passed a cap by one.
    Taken after the tender (``ensure_accepting``), as every lock of ours is. Not the organisation
    row: a completion holds its tender row and then inserts a bid referring to the organisation,
    which waits on that row's lock while this init, holding it, would wait on the tender (a
    deadlock). Nothing that locks a tender refers to an interest row."""
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
    started_from: str = "",
) -> BidUpload:
    """Open an upload; ``started_from`` is the network address that began it (kept for the
    collusion signals computed after the opening, shown to nobody before)."""
    org_id, credit_code = bidder_org(user)
    now = clock.now()
    ensure_accepting(session, tender, now)
    lot = lot_numbered(tender, lot_number)
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
        started_from=started_from[:64],
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


#: What ``ggzy-bid`` sends as ``X-GGZY-Install``: SM3 hex of its salt and the platform's address.
INSTALL_ID = re.compile(r"[0-9a-f]{64}")


def record_origin(
    session: Session, upload: BidUpload, bid: Bid, completed_from: str, install_id: str | None, user_agent: str
) -> BidOrigin:
    """Where the bid's upload came from (the addresses that began and completed it, the salted
    ``ggzy-bid`` installation id when it is well formed, the client's User-Agent). As secret as the
    bid: only the collusion signals read it, after the opening; no event names it."""
    origin = BidOrigin(
        bid_id=bid.id,
        started_from=upload.started_from[:64],
        completed_from=completed_from[:64],
        install_id=install_id if install_id and INSTALL_ID.fullmatch(install_id) else None,
        user_agent=user_agent[:200],
    )
    session.add(origin)
    session.flush()
    return origin


def get_upload(session: Session, user: User, upload_id: str, *, for_update: bool = False) -> BidUpload:
    q = select(BidUpload).where(BidUpload.id == upload_id)
    if for_update:
        q = locked(q)
    upload = session.scalar(q)
    if upload is None or upload.org_id != user.organisation_id:
        raise NotFound("上传任务不存在")
    return upload


def open_uploads(session: Session, user: User) -> list[BidUpload]:
    """The caller's organisation's uploads still open (to resume one, or give it up)."""
    q = select(BidUpload).where(BidUpload.org_id == user.organisation_id, BidUpload.state == UploadState.OPEN)
    return list(session.scalars(q.order_by(BidUpload.created_at)))


def put_part(
    session: Session,
    staging: Staging,
    upload: BidUpload,
    number: int,
    body: IO[bytes],
    prefix_sm3: str,
    limits: UploadLimits = UploadLimits(),
) -> BidUpload:
    """Append part ``number``; ``prefix_sm3`` is the client's SM3 of the file up to this part's end."""
    ensure_open(upload)
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
    if isinstance(staging, ObjectStore):
        _check_staging(session, staging, expected, limits)
        h = _put_staged_part(staging, upload, number, body, prefix_sm3, expected)
        return _acknowledge(session, upload, expected, h)
    staged = staged_path(staging, upload.id)
    staging.mkdir(parents=True, exist_ok=True)
    _check_staging(session, staging, expected, limits)
    h = running_hash(upload, staging) if upload.received else SM3()
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
                if first and not head_agrees(upload.head, got, chunk):
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
            forget(upload.id)
            raise InvalidInput("分片校验失败：SM3 不符，请重传此片", code="part_digest_mismatch")
        start_writeback(f, upload.received, got)  # the fsync at completion then has little left to do
    return _acknowledge(session, upload, got, h)


def _acknowledge(session: Session, upload: BidUpload, got: int, h: SM3) -> BidUpload:
    upload.received += got
    upload.parts += 1
    upload.prefix_sm3 = h.hexdigest()
    upload.updated_at = clock.now()
    session.flush()
    remember(upload.id, upload.received, h)
    return upload


def head_agrees(head: bytes, offset: int, chunk: bytes) -> bool:
    """``chunk``, read at ``offset`` of the first part, agrees with the header given at init (over
    however many reads the header arrives in)."""
    if offset >= len(head):
        return True
    return head[offset : offset + len(chunk)] == chunk[: len(head) - offset]


class _PartBody:
    """A part's body as the object store reads it: no more than ``expected`` bytes, the first
    part's start checked against the header given at init, every byte hashed into ``h``."""

    def __init__(self, body: IO[bytes], expected: int, head: bytes | None, h: SM3) -> None:
        self.body, self.expected, self.head, self.h, self.got = body, expected, head, h, 0

    def read(self, n: int = -1) -> bytes:
        chunk = self.body.read(min(1 << 20, n) if n and n > 0 else 1 << 20)
        if not chunk:
            return b""
        if self.head is not None and not head_agrees(self.head, self.got, chunk):
            raise InvalidInput("第 1 片的文件头与初始化时提交的不一致", code="header_mismatch")
        self.got += len(chunk)
        if self.got > self.expected:
            raise InvalidInput(f"分片长度应为 {self.expected} 字节", code="part_size")
        self.h.update(chunk)
        return chunk


def _put_staged_part(
    store: ObjectStore, upload: BidUpload, number: int, body: IO[bytes], prefix_sm3: str, expected: int
) -> SM3:
    """Stage part ``number`` in the object store (a retry replaces it) and return the running SM3;
    refused by name when it is not the part the client says it is."""
    h = running_hash(upload, store) if upload.received else SM3()
    reader = _PartBody(body, expected, upload.head if upload.received == 0 else None, h)
    got = store.put_staged(part_name(upload.id, number), cast(IO[bytes], reader))
    if got != expected:
        raise InvalidInput(f"分片长度应为 {expected} 字节，收到 {got} 字节", code="part_size")
    if h.hexdigest() != prefix_sm3.lower():
        forget(upload.id)
        raise InvalidInput("分片校验失败：SM3 不符，请重传此片", code="part_digest_mismatch")
    return h


def abandon_upload(session: Session, staging: Staging, upload: BidUpload) -> None:
    """The bidder gives up an open upload (locked by the caller): its staged bytes are deleted and
    it no longer counts against the caps. Nothing is recorded: the upload was never a bid, and an
    event would tell, before the deadline, that this bidder is bidding."""
    ensure_open(upload)
    move_upload(session, upload, UploadState.ABANDONED, now=clock.now())
    discard(staging, upload.id)


def abandon_expired(
    session: Session, staging: Staging, now: dt.datetime, idle: dt.timedelta = UploadLimits().idle
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
    session: Session, staging: Staging, upload_id: str, now: dt.datetime, idle: dt.timedelta = UploadLimits().idle
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
    move_upload(session, upload, UploadState.ABANDONED, now=now)
    discard(staging, upload.id)
    return True
