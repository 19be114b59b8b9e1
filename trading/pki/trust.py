"""The trust store a request checks certificates against: the platform's CA, any extra roots the
deployment names, and the revocations on record."""

from __future__ import annotations

from flask import current_app

from signing.certs import TrustStore
from trading.accounts import web
from trading.core.platform_keys import load_platform_keys
from trading.pki.operations import trust_store


def trust() -> TrustStore:
    return trust_store(web.db(), load_platform_keys(current_app.extensions["ggzy.settings"]))
