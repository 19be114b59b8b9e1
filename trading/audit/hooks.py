"""What the audit pages ask of later stages (``trading.app.connect_stages`` wires them).

The audit stage comes before tenders and never names them; to filter the trail by a tender's
code (项目编号) it asks ``tender_objects`` for the audit objects that belong to the tender: each
connected function returns ``(object_type, object_id)`` pairs, as ``AuditEvent`` stores them.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from trading.core.hooks import Hook

#: The audit objects of the tender with this code (none when there is no such tender). Before its
#: bid deadline the functions leave out what would tie a bidder to it (招标投标法第二十二条).
tender_objects: Hook[[Session, str], list[tuple[str, str]]] = Hook("tender_objects")
