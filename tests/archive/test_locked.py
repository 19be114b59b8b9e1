"""Every row lock of ours is taken through archive.db.locked, which also re-reads the rows: a bare
with_for_update keeps the copy the session read before the lock (two publications of one tender,
tests/trading/tenders/test_races.py)."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from archive.audit import AuditHead
from archive.db import locked
from tests.conftest import REPO

PACKAGES = ("signing", "archive", "trading", "bidding", "infra")


def test_no_lock_bypasses_locked() -> None:
    bare = re.compile(r"\.with_for_update\(")
    offenders = [
        f"{path.relative_to(REPO)}:{n}"
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        if path != REPO / "archive" / "db.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if bare.search(line)
    ]
    assert offenders == []
    assert (REPO / "archive" / "db.py").read_text(encoding="utf-8").count("with_for_update(") == 1


def test_locked_asks_for_the_lock_and_fresh_rows() -> None:
    stmt = locked(select(AuditHead).where(AuditHead.id == 1), skip_locked=True)
    assert stmt.get_execution_options()["populate_existing"] is True
    assert str(stmt.compile(dialect=postgresql.dialect())).endswith("FOR UPDATE SKIP LOCKED")
