"""The salted installation id ``ggzy-bid`` sends with a bid's upload (``X-GGZY-Install``).

On first use a random 32-byte salt is written beside the configuration (``install-salt``, mode
0600); the id for one tender is ``SM3(salt ‖ platform base URL ‖ NUL ‖ tender code)`` in lower-case
hex. It links the uploads one installation makes for one tender, so that the platform can tell,
after the opening, that two bidders' bids left the same copy of the tool (a collusion signal,
docs/signals.md). Per tender, so that an id the committee saw for one tender is no use to anyone
wanting to plant a false signal against that installation's bids in another.

It is not a hardware or user fingerprint: nothing about the machine goes into it, another
platform sees an unrelated id, and a bidder can delete the salt (a new id follows) or copy it
(two machines then share one). It proves nothing alone; it is a fact for people to weigh.
"""

from __future__ import annotations

import os
import pathlib
import secrets

from signing.digest import SM3

SALT_FILE = "install-salt"
SALT_BYTES = 32
HEADER = "X-GGZY-Install"


def salt(directory: pathlib.Path) -> bytes:
    """This installation's salt, made on first use (a damaged one is replaced)."""
    path = directory / SALT_FILE
    try:
        data = path.read_bytes()
        if len(data) == SALT_BYTES:
            return data
    except FileNotFoundError:
        pass
    directory.mkdir(parents=True, exist_ok=True)
    data = secrets.token_bytes(SALT_BYTES)
    tmp = path.with_name(f"{SALT_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return data


def install_id(server: str, tender: str, directory: pathlib.Path) -> str:
    """The id this installation sends to the platform at ``server`` (its base URL) for ``tender``."""
    return SM3(salt(directory) + server.rstrip("/").encode() + b"\x00" + tender.encode()).hexdigest()
