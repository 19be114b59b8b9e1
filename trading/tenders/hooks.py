"""The moments of a tender that later stages react to (``trading.app.connect_stages`` wires them).

Tenders come before the opening and the evaluation and never name them: publication calls
``tender_published`` (the opening makes each lot's ceremony), termination calls
``tender_terminated`` (the opening cancels the rooms that have not opened), and the tender page
asks ``tender_page_context`` for the links each later stage adds (opening rooms, the deadline
commitment, the publicity of the candidates). Every function runs in the caller's transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from trading.core.config import Settings
from trading.core.hooks import Hook
from trading.tenders.models import Tender

#: SUBMITTED → PUBLISHED, after the status and the announcement are written; ``settings`` locate
#: the key that wraps each new ceremony's private key.
tender_published: Hook[[Session, Tender, Settings], object] = Hook("tender_published", required=True)

#: → TERMINATED (终止招标), before the termination notice is published.
tender_terminated: Hook[[Session, Tender], object] = Hook("tender_terminated", required=True)

#: The tender page's extra template context: each function returns a dict merged into it.
tender_page_context: Hook[[Session, Tender], dict[str, Any]] = Hook("tender_page_context")
