"""What a tender page or tender API request loads: the tender the caller may see (with the bid
deadline enforced now), the announcements it may see, and the platform's key-encryption key for
the sealed events a request records."""

from __future__ import annotations

from flask import current_app

from trading.accounts import web
from trading.core.platform_keys import key_encryption_key
from trading.core.services import services
from trading.tenders import operations as ops
from trading.tenders.models import Announcement, AnnouncementState, Tender


def load(code: str, *, for_update: bool = False) -> Tender:
    """A tender the current user may see, with its deadline enforced now."""
    tender = ops.visible_tender(web.db(), code, web.current_user())
    if for_update:
        tender = ops.get_tender(web.db(), code, for_update=True)
    ops.ensure_current(web.db(), tender)
    return tender


def kek() -> bytes:
    """The platform's key-encryption key, for the sealed events of a bidder's interest."""
    return key_encryption_key(services(current_app).settings)


def visible_announcements(tender: Tender) -> list[Announcement]:
    """Every announcement for the tender's managers and the platform's readers; the published ones for others."""
    user = web.current_user()
    if tender.can_manage(user) or (user is not None and web.has_permission("tender:tender:read")):
        return list(tender.announcements)
    return [a for a in tender.announcements if a.status is AnnouncementState.PUBLISHED]
