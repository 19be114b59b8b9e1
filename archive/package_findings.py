"""What ``archive verify`` reports about a package: each check passed or failed, with a stable code
per finding (``archive/PACKAGE.md`` lists them)."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from signing.errors import SigningError

#: A credit snapshot (``credit/checks/<id>.json``) that is not the platform's signed statement as
#: it was signed (altered, re-signed, malformed), or one about another tender or lot.
CREDIT_CHECK_INVALID = "credit_check_invalid"
CREDIT_CHECK_FOREIGN = "credit_check_foreign"
#: The lot's collusion signals (``signals/signals.json``), likewise.
SIGNALS_INVALID = "signals_invalid"
SIGNALS_FOREIGN = "signals_foreign"


class Check(NamedTuple):
    what: str  # the check and the entry it concerns
    ok: bool
    detail: str
    code: str  # a stable name for the finding; when ok, "" or the name of an informational note


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    #: an auction package: the winner and price its bids replay to (``archive.package_auction``)
    replay: str = ""

    def add(self, what: str, ok: bool, detail: str = "", code: str = "") -> None:
        self.checks.append(Check(what, ok, detail, "" if ok else code or "failed"))

    def note(self, what: str, detail: str, code: str) -> None:
        """Something the reader should know that is not a failure (it leaves the verdict alone)."""
        self.checks.append(Check(what, True, detail, code))

    def fail(self, what: str, exc: BaseException) -> None:
        """A check that raised: named by what it was checking and the kind of damage."""
        self.add(what, False, describe(exc), finding_code(exc))

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[tuple[str, str]]:
        return [(c.what, f"[{c.code}] {c.detail}") for c in self.checks if not c.ok]

    def lines(self) -> Iterator[str]:
        for c in self.checks:
            if c.ok and c.code:
                yield f"说明 INFO  [{c.code}] {c.what}：{c.detail}"
            elif c.ok:
                yield f"通过 OK    {c.what}{'：' + c.detail if c.detail else ''}"
            else:
                yield f"失败 FAIL  [{c.code}] {c.what}{'：' + c.detail if c.detail else ''}"


class Damage(Exception):
    """Something in the package that is not as the format says, with its finding code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def finding_code(exc: BaseException) -> str:
    """Classify whatever a damaged or made-up byte can raise, so every finding has a stable name."""
    if isinstance(exc, Damage | SigningError):
        return exc.code
    if isinstance(exc, zipfile.BadZipFile):
        text = str(exc)
        for needle, code in (
            ("CRC", "bad_crc"),
            ("magic number", "bad_local_header"),
            ("differ", "name_mismatch"),
            ("Overlapped", "overlapping_entries"),
            ("Truncated", "truncated"),
            ("ip64", "bad_zip64"),
            ("extra", "bad_extra_field"),
        ):
            if needle in text:
                return code
        return "bad_zip"
    if isinstance(exc, EOFError):
        return "truncated"
    if isinstance(exc, zlib.error):
        return "decompression_error"
    if isinstance(exc, NotImplementedError):
        return "unsupported_compression"
    if isinstance(exc, UnicodeError):
        return "bad_encoding"
    if isinstance(exc, json.JSONDecodeError):
        return "bad_json"
    if isinstance(exc, struct.error):
        return "bad_zip"
    if isinstance(exc, KeyError | TypeError | AttributeError | IndexError | ValueError):
        return "malformed"
    if isinstance(exc, OSError):
        return "io_error"
    if isinstance(exc, MemoryError | RecursionError):
        return "too_complex"
    return "verifier_error"


def describe(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, KeyError):
        text = f"缺少字段 {text} (field missing)"
    return f"{type(exc).__name__}: {text}"[:500]
