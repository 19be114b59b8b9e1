"""What the reference receiver keeps: every accepted record (SQLite, one row per key) and every
refusal. The key is (PLATFORM_CODE, table, DATA_KEY, DATA_TIMESTAMP): a record sent again under its
key with the same signed content is acknowledged again (the sender's retry), with other content it
is refused (``conflicting_record``): one key, one record, forever."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import sqlite3
import threading
from typing import Any

from infra.reference_receiver.verify import Refused, Verified

SCHEMA = """
CREATE TABLE IF NOT EXISTS received (
    platform_code TEXT NOT NULL, table_name TEXT NOT NULL, data_key TEXT NOT NULL, data_timestamp TEXT NOT NULL,
    digest TEXT NOT NULL, seq INTEGER NOT NULL, envelope TEXT NOT NULL, received_at TEXT NOT NULL,
    acknowledged INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (platform_code, table_name, data_key, data_timestamp)
);
CREATE TABLE IF NOT EXISTS refused (
    id INTEGER PRIMARY KEY, code TEXT NOT NULL, message TEXT NOT NULL, received_at TEXT NOT NULL
);
"""


class ReceiverStore:
    def __init__(self, path: pathlib.Path | str) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.executescript(SCHEMA)

    def accept(self, v: Verified, envelope: str) -> dict[str, Any]:
        """Store ``v`` with ``envelope``, the canonical form of the envelope verified (never the bytes
        received: those may hold what the verification did not read), or acknowledge it again;
        raises Refused on a conflicting record."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        key = (v.platform_code, v.table, v.data_key, v.data_timestamp)
        with self._lock:
            row = self._db.execute(
                "SELECT digest FROM received WHERE platform_code=? AND table_name=? AND data_key=? AND data_timestamp=?",
                key,
            ).fetchone()
            if row is not None:
                if row[0] != v.digest:
                    raise Refused(
                        "conflicting_record",
                        "同一 DATA_TIMESTAMP 下已收到内容不同的记录 (a different record under the same key)",
                        409,
                    )
                self._db.execute(
                    "UPDATE received SET acknowledged = acknowledged + 1 WHERE platform_code=? AND table_name=?"
                    " AND data_key=? AND data_timestamp=?",
                    key,
                )
                return {"status": "duplicate", "table": v.table, "data_key": v.data_key, "digest": v.digest}
            self._db.execute(
                "INSERT INTO received VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)", (*key, v.digest, v.seq, envelope, now)
            )
        return {"status": "accepted", "table": v.table, "data_key": v.data_key, "digest": v.digest}

    def refusal(self, exc: Refused) -> None:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._lock:
            self._db.execute(
                "INSERT INTO refused (code, message, received_at) VALUES (?, ?, ?)", (exc.code, exc.message, now)
            )

    def records(self, table: str | None = None) -> list[dict[str, Any]]:
        q = "SELECT table_name, envelope, acknowledged FROM received"
        args: tuple[str, ...] = ()
        if table:
            q, args = q + " WHERE table_name = ?", (table,)
        with self._lock:
            rows = self._db.execute(q + " ORDER BY seq, table_name, data_key", args).fetchall()
        return [{"table": t, "record": json.loads(env)["record"], "acknowledged": n} for t, env, n in rows]

    def refusals(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT code, message, received_at FROM refused ORDER BY id").fetchall()
        return [{"code": c, "message": m, "received_at": at} for c, m, at in rows]

    def close(self) -> None:
        self._db.close()
