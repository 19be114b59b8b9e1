"""Forcing a race at its worst instant: a hook on the app's engine runs the other party (a second
request, a worker, a sweep; on connections of its own, committing) right before or after the SQL
statement the race is about, in the thread under test. For committing PostgreSQL apps
(tests.conftest.pg_app): SQLite's BEGIN IMMEDIATE serialises writers before any such interleaving."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import event


@contextmanager
def when_statement(
    app: Flask, matches: str | Callable[[str], bool], run: Callable[[], None], *, after: bool, nth: int = 1
) -> Iterator[list[bool]]:
    """Once, in this thread, just before (or after) the ``nth`` SQL statement that ``matches`` (a
    predicate, or the text it starts with): ``run`` in a thread of its own, waited for. A party
    left waiting on a lock this thread holds is waited for 10 s, then again when the block ends
    (by then this thread's transaction is over), so it shows as a failure, not a hang. Yields [fired]."""
    engine = app.extensions["ggzy.db"].engine
    me, fired, seen, others = threading.get_ident(), [False], [0], []
    test = matches if callable(matches) else lambda sql: sql.lstrip().startswith(matches)

    def hook(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if fired[0] or threading.get_ident() != me or not test(statement):
            return
        seen[0] += 1
        if seen[0] < nth:
            return
        fired[0] = True
        other = threading.Thread(target=run)
        other.start()
        others.append(other)
        other.join(10)

    name = "after_cursor_execute" if after else "before_cursor_execute"
    event.listen(engine, name, hook)
    try:
        yield fired
    finally:
        event.remove(engine, name, hook)
        for other in others:  # one left waiting on a lock of ours goes on once we are done
            other.join(30)


def locking_read(table: str) -> Callable[[str], bool]:
    """Matches a ``SELECT … FOR UPDATE`` of ``table``'s rows (archive.db.locked's statements)."""
    return lambda sql: sql.lstrip().startswith(f"SELECT {table}.") and sql.rstrip().endswith("FOR UPDATE")
