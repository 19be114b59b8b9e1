"""Password hashing (Argon2id, RFC 9106) with a work factor that is a setting.

Production and the demo keep argon2-cffi's defaults (64 MiB, 3 passes, the RFC's second
recommended option); ``GGZY_ENV=test`` lowers them so a fixture that makes a dozen accounts does
not spend seconds on hashing. Production refuses anything below OWASP's floor for Argon2id
(19 MiB, 2 passes)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: argon2-cffi's defaults (RFC 9106, second recommended option)
DEFAULT_MEMORY_KIB = 65536
DEFAULT_TIME_COST = 3
#: OWASP Password Storage Cheat Sheet's minimum for Argon2id
PRODUCTION_MIN_MEMORY_KIB = 19456
PRODUCTION_MIN_TIME_COST = 2
#: the test configuration: the lowest the library accepts for one lane
TEST_MEMORY_KIB = 8
TEST_TIME_COST = 1


class Passwords:
    """One hasher, replaced whole when the composition root sets the cost."""

    def __init__(self) -> None:
        self.configure(DEFAULT_MEMORY_KIB, DEFAULT_TIME_COST)

    def configure(self, memory_kib: int, time_cost: int) -> None:
        lanes = 1 if memory_kib < 8 * 4 else 4
        self._hasher = PasswordHasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=lanes)
        # Checked against when the name is unknown, so that a miss costs what a hit costs.
        self._dummy = self._hasher.hash("timing-equaliser-not-a-password")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """True if ``password`` matches ``stored``; ``None`` (no such user) is checked against a
        dummy hash of the same cost and is always False."""
        try:
            self._hasher.verify(stored if stored is not None else self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return stored is not None

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)


passwords = Passwords()
