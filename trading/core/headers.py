"""The security headers every answer carries, the app's and the live server's alike: one place, so
the two processes cannot drift apart (no Flask here: the live server does not import it)."""

from __future__ import annotations

#: Not to be framed (clickjacking of staff and bidder buttons), not sniffed, no referrer to other sites.
SECURITY_HEADERS: dict[str, str] = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
#: For answers that are data, never a page (the live server's event streams and JSON): nothing loads.
DATA_CSP = "default-src 'none'; frame-ancestors 'none'"
