"""The envelope a national record travels in: the record, its source event (the canonical fields the
log's leaf hash covers, and the payload), the document the payload names by SM3, the event's
inclusion proof to a platform-signed checkpoint, and the platform's SM2 signature over the record.

A receiver that trusts the platform's signing certificate checks, without asking the platform
anything (``infra/reference_receiver/verify.py`` is the reference):

1. the signature (type ``exchange_record``) over {format, table, record_sm3, event_sm3, bindings};
   the record's canonical JSON must hash to record_sm3 — a record changed in transit is refused;
2. SM3 of the canonical event = event_sm3; SM3 of the payload = the event's payload_sm3; SM3 of the
   attached document = the payload field ``attachment_of`` names;
3. every binding: the record's field equals the value in the event, payload or document;
4. the checkpoint's signature, and the event's leaf (SM3(0x00 ‖ event)) at index seq−1 proven
   into the checkpoint's root (RFC 9162).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy.orm import Session

from archive import transparency as log
from archive.audit import AuditEvent
from signing.canonical import canonical_json
from signing.digest import sm3_hex
from signing.statements import sign_statement
from trading.core.platform_keys import PlatformKeys
from trading.exchange.records import Built

FORMAT = "ggzy-exchange/1"
RECORD_TYPE = "exchange_record"


def signed_body(table: str, record: dict[str, Any], event_sm3: str, bindings: dict[str, str]) -> dict[str, Any]:
    """What the platform signs for a record (the receiver rebuilds it from the envelope)."""
    return {
        "format": FORMAT,
        "table": table,
        "record_sm3": sm3_hex(canonical_json(record)),
        "event_sm3": event_sm3,
        "bindings": bindings,
    }


def latest_checkpoint(session: Session) -> log.CheckpointView | None:
    """The largest public signed checkpoint: records are proven to it. The anchors stay unpublished,
    as they do on the public log API (they would tell the log's size every few seconds)."""
    found = log.signed_checkpoints(session, public=True)
    return max(found, key=lambda cp: cp.tree_size) if found else None


def seal(
    session: Session, ev: AuditEvent, built: Built, cp: log.CheckpointView, keys: PlatformKeys, now: dt.datetime
) -> dict[str, Any]:
    """The envelope of ``built`` (its event must be covered by ``cp``)."""
    if ev.seq > cp.tree_size:
        raise ValueError("the event is not covered by the checkpoint")
    canonical = ev.canonical()
    event_sm3 = sm3_hex(canonical)
    proof = log.inclusion_proof(session, ev.seq, cp.tree_size)
    body = signed_body(built.table, built.fields, event_sm3, built.bindings)
    signature = sign_statement(RECORD_TYPE, body, key=keys.sign_key, cert=keys.sign_cert, now=now)
    return {
        "format": FORMAT,
        "table": built.table,
        "record": built.fields,
        "source": {
            "event": json.loads(canonical),
            "event_sm3": event_sm3,
            "payload": ev.payload,
            "attachment": built.attachment,
            "attachment_of": built.attachment_of,
            "bindings": built.bindings,
        },
        "proof": {
            "leaf_index": ev.seq - 1,
            "tree_size": cp.tree_size,
            "hashes": [h.hex() for h in proof],
            "checkpoint": cp.statement,
        },
        "signature": signature.to_json().decode(),
    }
