"""A lot's documents (出让文件、评估报告摘要、宗地图 …): uploaded by staff while the lot is a draft,
listed in the signed announcement by SM3, public, and served only as the bytes that SM3 names
(``trading.core.checked_download``).

Uploads are bounded (``MAX_DOCUMENT_BYTES`` each, ``MAX_DOCUMENTS`` a lot), their names checked
(``trading.core.schemas.file_name``: no paths, controls or bidi tricks), stored by SM3 in the object
store. A registration's own documents (资格证明) are the registrations' business, not listed here.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import IO, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import Actor, record_event
from archive.objectstore import ObjectStore, ObjectTooLarge
from trading.accounts.models import User
from trading.accounts.permissions import Permission, has
from trading.auctions.models import Auction, AuctionDocument, AuctionState
from trading.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from trading.core.schemas import file_name

MIB = 1 << 20
MAX_DOCUMENT_BYTES = 50 * MIB
MAX_DOCUMENTS = 30


def lot_documents(session: Session, a: Auction) -> list[AuctionDocument]:
    """The lot's own documents (not those of its registrations), in upload order."""
    q = (
        select(AuctionDocument)
        .where(AuctionDocument.auction_id == a.id, AuctionDocument.registration_id.is_(None))
        .order_by(AuctionDocument.id)
    )
    return list(session.scalars(q))


def upload_document(
    session: Session, store: ObjectStore, user: User, a: Auction, name: str, src: IO[bytes]
) -> AuctionDocument:
    """Store one document of a draft lot; refused by name when too large, empty, misnamed, or late."""
    if not has(user, Permission.AUCTION_MANAGE):
        raise Forbidden("只有交易中心工作人员可以上传标的文件")
    name = file_name(name, "file")
    if a.state is not AuctionState.DRAFT:
        raise Conflict("标的发布后不能再上传文件：公告已签名列出每个文件的 SM3", code="wrong_state")
    docs = lot_documents(session, a)
    if len(docs) >= MAX_DOCUMENTS:
        raise InvalidInput(f"每个标的最多上传 {MAX_DOCUMENTS} 个文件", fields={"file": f"最多 {MAX_DOCUMENTS} 个"})
    if any(d.name == name for d in docs):
        raise InvalidInput(f"已有同名文件“{name}”", fields={"file": "同名文件已上传"})
    doc = stored_document(session, store, user, a, name, src, MAX_DOCUMENT_BYTES)
    record_event(
        session,
        user,
        "auction_document.upload",
        a,
        {"document": doc.id, "name": name, "sm3": doc.sm3, "size": doc.size},
    )
    return doc


def stored_document(
    session: Session,
    store: ObjectStore,
    user: User,
    a: Auction,
    name: str,
    src: IO[bytes],
    limit: int,
    registration_id: int | None = None,
) -> AuctionDocument:
    """Store ``src`` (at most ``limit`` bytes, not empty) by its SM3 and record it as a document of
    the lot or of one registration (flushed): the one way both are stored."""
    try:
        obj = store.put_stream(src, max_size=limit)
    except ObjectTooLarge:
        raise InvalidInput(
            f"文件超过 {limit // MIB} 兆字节", code="object_too_large", fields={"file": f"至多 {limit // MIB} 兆字节"}
        ) from None
    if obj.size == 0:
        raise InvalidInput("文件是空的", fields={"file": "空文件"})
    doc = AuctionDocument(
        auction_id=a.id,
        registration_id=registration_id,
        name=name,
        object_key=obj.key,
        size=obj.size,
        sm3=obj.sm3,
        uploaded_by=user.id,
        uploaded_at=clock.now(),
    )
    session.add(doc)
    session.flush()
    return doc


def get_document(session: Session, a: Auction, document_id: int) -> AuctionDocument:
    doc = session.get(AuctionDocument, document_id)
    if doc is None or doc.auction_id != a.id or doc.registration_id is not None:
        raise NotFound("标的文件不存在")
    return doc


def open_document(store: ObjectStore, doc: AuctionDocument) -> AbstractContextManager[BinaryIO]:
    return store.open(doc.object_key)


def record_damaged_read(session: Session, actor: Actor, a: Auction, doc: AuctionDocument, sm3: str, size: int) -> None:
    """The bytes served for ``doc`` did not hash to its SM3 (the stored object is damaged; the
    transfer was broken off): the trail says what was expected and what was read."""
    record_event(
        session,
        actor,
        "auction_document.read_damaged",
        a,
        {"document": doc.id, "expected_sm3": doc.sm3, "served_sm3": sm3, "size": size},
    )
