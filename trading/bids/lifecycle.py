"""The lives of a bid and of an upload: the one place that writes ``Bid.status`` and
``BidUpload.state``.

Each ``move_*`` checks the move against its table (a named ``Conflict`` if the table forbids it),
writes the new state and, in the same transaction, the audit event. The operations keep their
own, more precise refusals (``wrong_state``; ``ensure_open``'s ``upload_closed`` before an upload's
bytes are touched) and never write a state.

- A bid (投标文件) is accepted when its upload completes; before the deadline its bidder may
  replace it (the new one supersedes it) or withdraw it (招标投标法第二十九条), signed. Both ends
  are final: after the deadline a bid is only opened (实施条例第三十五条: a withdrawal after the
  deadline forfeits the bond, a matter for the guarantee, not for the bid).
- An upload is open until it completes into a bid, or is abandoned: by its bidder, by the sweep
  when it expires or idles, or at completion when the deadline has passed.

Who bid, and how many, is secret until the opening (招标投标法第二十二条): a withdrawal's event
names only a fresh commitment (the SM3 of the platform's signed confirmation), with the neutral
actor of sealed events; a replacement has no event of its own (the new bid's receipt names the one
it replaces, and its ``bid.submit`` event is written in the same transaction); an upload has none
at all (it is not a bid, and an event would tell who is bidding).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from archive.audit import record_event
from trading.bids.models import Bid, BidState, BidUpload, UploadState
from trading.core.errors import Conflict
from trading.tenders.sealed import SEALED

BID_MOVES: dict[BidState, frozenset[BidState]] = {
    BidState.ACCEPTED: frozenset({BidState.SUPERSEDED, BidState.WITHDRAWN}),
    BidState.SUPERSEDED: frozenset(),
    BidState.WITHDRAWN: frozenset(),
}

UPLOAD_MOVES: dict[UploadState, frozenset[UploadState]] = {
    UploadState.OPEN: frozenset({UploadState.COMPLETED, UploadState.ABANDONED}),
    UploadState.COMPLETED: frozenset(),
    UploadState.ABANDONED: frozenset(),
}


class BidMoveRefused(Conflict):
    code = "bid_transition"


class UploadMoveRefused(Conflict):
    code = "upload_transition"


def move_bid(
    session: Session, bid: Bid, to: BidState, *, now: dt.datetime, withdrawal: tuple[str, str] | None = None
) -> None:
    """Move ``bid`` to ``to`` at ``now`` (``BidMoveRefused`` if the table forbids it). A withdrawal
    takes ``withdrawal``: the bidder's signature (base64 DER) and the commitment its event names."""
    frm = bid.status
    if to not in BID_MOVES[frm]:
        raise BidMoveRefused(f"投标文件状态为“{frm.label}”，不能改为“{to.label}”")
    if to is BidState.WITHDRAWN:
        if withdrawal is None:
            raise ValueError("a withdrawal is signed by the bidder")
        signature, commitment = withdrawal
        bid.status, bid.withdrawn_at, bid.withdrawal = to, now, signature
        session.flush()
        record_event(session, SEALED, "bid.withdraw", ("bid", commitment[:32]), {"commitment": commitment})
        return
    bid.status = to
    session.flush()  # before its replacement is inserted: one live bid per bidder and lot


def ensure_open(upload: BidUpload) -> None:
    """An upload takes parts, completes or is given up only while it is open."""
    if upload.state is not UploadState.OPEN:
        raise Conflict("上传任务已结束", code="upload_closed")


def move_upload(session: Session, upload: BidUpload, to: UploadState, *, now: dt.datetime) -> None:
    """Move ``upload`` to ``to`` at ``now`` (``UploadMoveRefused`` if the table forbids it)."""
    if to not in UPLOAD_MOVES[upload.state]:
        raise UploadMoveRefused("上传任务已结束")
    upload.state, upload.updated_at = to, now
    session.flush()
