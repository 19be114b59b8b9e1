"""Downloading a tender document: the read is recorded (and committed) first, then the bytes stream,
checked against the SM3 the event names."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response, current_app

from trading.accounts import web
from trading.accounts.models import User
from trading.core.checked_download import checked_response
from trading.core.db import Database
from trading.core.services import object_store
from trading.tenders import documents as docs
from trading.tenders.loading import kek
from trading.tenders.models import Tender, TenderDocument


def stream_document(tender: Tender, document_id: int) -> Response:
    """Record the download (committed first), then stream the bytes, checked against the SM3 the
    event names (``trading.core.checked_download``): a damaged stored document breaks the transfer off
    and is recorded as ``tender_document.read_damaged`` (sealed for a bidder)."""
    user, key = web.require_user(), kek()
    doc, handle = docs.open_document(web.db(), object_store(current_app), user, tender, document_id, kek=key)
    web.commit()
    # The damage is recorded in a session of its own, so it takes ids, not the request's rows.
    database: Database = current_app.extensions["ggzy.db"]
    ids = (user.id, tender.id, doc.id)

    def damaged(served_sm3: str, served_size: int) -> None:
        with database.session() as s:
            reader, t, d = s.get(User, ids[0]), s.get(Tender, ids[1]), s.get(TenderDocument, ids[2])
            assert reader is not None and t is not None and d is not None
            docs.record_damaged_read(s, reader, t, d, served_sm3, served_size, kek=key)

    return checked_response(
        handle,
        sm3=doc.sm3,
        size=doc.size,
        # names the stored object (operators must repair it), never the reader
        what=f"tender document {doc.id}",
        on_damage=damaged,
        mimetype="application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(doc.name)}",
            "X-Content-SM3": doc.sm3,
            "X-Signature": doc.signature,
        },
    )
