"""Acceptance of a bid (投标文件的接收): whether a tender takes bids now, and the completion of an
upload into a bid with the platform's signed receipt.

The platform never holds a bid's plaintext or key: it checks the sealed envelope's header
(signature, certificate, binding to tender, lot and bidder), hashes the ciphertext once as it
streams in, and accepts the bid in one transaction that locks the tender row and reads the
server clock, so the completion instant alone decides whether a bid beat the deadline
(招标投标法第二十八条: a bid received after the deadline is refused).
"""

from __future__ import annotations

import datetime as dt
import io

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import record_event
from archive.db import locked
from archive.objectstore import ObjectStore
from archive.objectstore.base import ObjectMissing, ObjectTooLarge, StoredObject
from signing.digest import sm3_hex
from signing.envelope import read_header
from signing.statements import sign_statement
from trading.accounts.models import Role, User
from trading.bids.lifecycle import ensure_open, move_bid, move_upload
from trading.bids.models import Bid, BidState, BidUpload, UploadState
from trading.bids.staging import Staging, forget, part_name, running_hash, staged_path, start_over
from trading.core.errors import Conflict, DomainError, Forbidden, NotFound
from trading.core.platform_keys import PlatformKeys
from trading.tenders.models import Lot, Tender, TenderState
from trading.tenders.operations import ensure_current, get_tender
from trading.tenders.sealed import SEALED


class DeadlinePassed(Conflict):
    code = "deadline_passed"


def bidder_org(user: User) -> tuple[int, str]:
    """The bidder's organisation: its id and credit code."""
    if Role.BIDDER not in user.roles or user.organisation is None:
        raise Forbidden("只有投标人可以投标")
    return user.organisation.id, user.organisation.credit_code


def lot_numbered(tender: Tender, number: int) -> Lot:
    for lot in tender.lots:
        if lot.number == number:
            return lot
    raise NotFound(f"标段 {number} 不存在")


def ensure_accepting(session: Session, tender: Tender, now: dt.datetime) -> None:
    """The tender takes bids at ``now``: published, and its deadline not passed."""
    ensure_current(session, tender)
    if tender.status is TenderState.BIDDING_CLOSED or tender.deadline_passed(now):
        raise DeadlinePassed(
            f"投标截止时间 {clock.local(tender.bid_deadline):%Y-%m-%d %H:%M:%S} 已过，不再接受投标文件"
        )
    if tender.status is not TenderState.PUBLISHED:
        raise Conflict(f"项目当前状态为“{tender.status.label}”，不接受投标文件", code="wrong_state")


def _stored_whole(store: ObjectStore, staging: Staging, upload: BidUpload) -> StoredObject:
    """The acknowledged bytes stored as the bid's object (its key is its SM3). Staged parts are
    checked by the SM3 of the object they make; a staged file before it is adopted (after a restart
    or on another app process: they must be the acknowledged bytes)."""
    if isinstance(staging, ObjectStore):  # its parts, in order, made one object
        names = [part_name(upload.id, n) for n in range(1, upload.parts + 1)]
        try:
            obj = staging.assemble(names, max_size=upload.received)
        except (ObjectMissing, ObjectTooLarge):  # a part lost, or longer than acknowledged
            obj = None
        if obj is None or obj.sm3 != upload.prefix_sm3:
            raise start_over(upload, "暂存数据已损坏，请从第 1 片重新上传")
        return obj  # the parts are deleted once the bid is committed (``discard``)
    staged = staged_path(staging, upload.id)
    if not staged.exists() or staged.stat().st_size < upload.received:
        raise start_over(upload, "暂存文件不完整，请从第 1 片重新上传")
    running_hash(upload, staging)
    with staged.open("r+b") as f:
        f.truncate(upload.received)
    return store.adopt_file(str(staged), upload.prefix_sm3, upload.received)


def complete_upload(
    session: Session, store: ObjectStore, keys: PlatformKeys, staging: Staging, user: User, upload: BidUpload
) -> Bid:
    """Accept the bid: store it, then decide by the server clock with the tender row locked."""
    ensure_open(upload)
    if upload.received != upload.declared_size:
        raise Conflict(f"尚未收到全部数据（{upload.received}/{upload.declared_size} 字节）", code="upload_incomplete")
    tender = session.get(Tender, upload.tender_id)
    assert tender is not None
    # Store first (may take seconds for S3): an unreferenced object is harmless if we refuse below.
    obj = _stored_whole(store, staging, upload)
    forget(upload.id)
    tender = get_tender(session, tender.code, for_update=True)  # serialises completions per tender
    now = clock.now()  # the completion instant, inside the accepting transaction
    try:
        ensure_accepting(session, tender, now)
    except DomainError:
        move_upload(session, upload, UploadState.ABANDONED, now=now)
        raise
    lot = session.get(Lot, upload.lot_id)
    assert lot is not None
    previous = session.scalar(
        locked(select(Bid).where(Bid.lot_id == lot.id, Bid.org_id == upload.org_id, Bid.status == BidState.ACCEPTED))
    )
    header = read_header(io.BytesIO(upload.head))
    if previous is not None:
        move_bid(session, previous, BidState.SUPERSEDED, now=now)
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
    move_upload(session, upload, UploadState.COMPLETED, now=now)
    commitment = bid.commitment
    # the neutral actor of sealed events: the event carries a fresh commitment (SM3 of the signed
    # receipt), opened by the bidder's own receipt and the deadline commitment; no pseudonym
    record_event(
        session, SEALED, "bid.submit", ("bid", commitment[:32]), {"commitment": commitment, "ciphertext_sm3": obj.sm3}
    )
    return bid
