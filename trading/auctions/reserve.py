"""The reserve price (底价) kept secret until the lot ends (国土资源部令第39号).

At publication the platform draws a salt, publishes SM3(salt ‖ price) and keeps the price and the
salt wrapped with its key-encryption key, bound to the published commitment (a box cannot be moved
to another lot). At the end both are written in clear beside the commitment, so anyone can check
that the reserve applied is the one committed before the first bid.
"""

from __future__ import annotations

import json
from decimal import Decimal

from signing.canonical import canonical_json
from signing.statements import reserve_commitment
from trading.auctions import rules
from trading.core.platform_keys import unwrap_secret, wrap_secret


def _purpose(reserve_sm3: str) -> str:
    return f"auction-reserve:{reserve_sm3}"


def seal(kek: bytes, price: Decimal) -> tuple[str, bytes]:
    """(the public commitment, the wrapped price and salt) for ``price``."""
    text, salt = rules.amount_text(price), rules.new_salt()
    commitment = reserve_commitment(text, salt)
    return commitment, wrap_secret(kek, canonical_json({"price": text, "salt": salt}), _purpose(commitment))


def open_box(kek: bytes, reserve_sm3: str, box: bytes) -> tuple[Decimal, str]:
    """The price and salt in ``box``, checked against the commitment they were sealed under."""
    opened = json.loads(unwrap_secret(kek, box, _purpose(reserve_sm3)))
    price, salt = str(opened["price"]), str(opened["salt"])
    if reserve_commitment(price, salt) != reserve_sm3:
        raise ValueError("reserve box does not open its commitment")
    return Decimal(price), salt
