"""The opened bids in the evaluation room: watermarked copies for committee members who pledged."""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy.orm import Session

from archive import clock
from archive.audit import record_event
from signing.digest import sm3_stream
from signing.errors import ArchiveRefused
from trading.accounts.models import User
from trading.core.errors import Conflict, NotFound
from trading.core.services import Services
from trading.evaluation.lifecycle import require_state
from trading.evaluation.models import (
    EvalState,
    Evaluation,
    Expert,
)
from trading.evaluation.room import bidder, my_seat
from trading.evaluation.watermark import seekable, watermark_zip


# ---------------------------------------------------------------- the opened bids
@dataclass
class BidCopy:
    """An expert's watermarked copy: an open, already unlinked temporary file, at its start."""

    name: str
    file: BinaryIO
    size: int


def bid_copy(session: Session, user: User, ev: Evaluation, bidder_id: int, services: Services) -> BidCopy:
    """A watermarked copy of an opened bid for a committee member who signed the pledge; every
    download is an audit event naming the copy's SM3 and number. Built on disk, never in memory:
    bids may be gigabytes (``MAX_BID_BYTES``)."""
    require_state(ev, EvalState.COMPLIANCE, EvalState.SCORING, EvalState.SIGNING)
    seat = my_seat(session, user, ev)
    seat.require_pledged("查阅投标文件")
    b = bidder(session, ev, bidder_id)
    if not b.plaintext_key:
        raise NotFound("该投标文件没有解密副本")
    expert = session.get(Expert, seat.expert_id)
    assert expert is not None
    number = secrets.token_hex(4)
    text = f"评标专用 专家 {expert.name}（{expert.id}） {clock.local(clock.now()):%Y-%m-%d %H:%M} 编号 {number}"
    # not a with-block: the file outlives this call; the response streams it, then closes it
    copy = tempfile.TemporaryFile(prefix="copy-", dir=services.scratch)  # noqa: SIM115
    unstamped: list[str] = []
    try:
        with services.store.open(b.plaintext_key) as stored, seekable(stored, services.scratch) as src:
            stamped = watermark_zip(src, copy, text, unstamped)
        copy.seek(0)
        digest, size = sm3_stream(copy)
        copy.seek(0)
    except ArchiveRefused as exc:
        copy.close()
        if exc.code == "archive_unreadable":
            raise Conflict("该投标文件不是有效的文件包（ZIP），无法生成水印副本", code="not_a_package") from None
        raise Conflict(f"该投标文件包超出读取限制，无法生成水印副本：{exc}", code=exc.code) from None
    except BaseException:
        copy.close()
        raise
    record_event(
        session,
        user,
        "evaluation.bid_access",
        ev,
        {
            "expert": seat.expert_id,
            "bidder": b.id,
            "copy": number,
            "copy_sm3": digest.hex(),
            "pdfs_stamped": stamped,
            "pdfs_unstamped": unstamped,
        },
    )
    return BidCopy(f"bid-{ev.id}-{b.id}-{number}.zip", copy, size)
