"""The decryption window's races on PostgreSQL, each forced to happen at its worst instant
(tests.races): the request, the worker and the scheduler's sweep run on connections of their own
and commit, as in production."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from archive import clock
from tests.races import when_statement
from tests.trading.opening.test_ceremony import open_tender, release, signin_sig
from trading.core.services import services
from trading.opening import ceremonies, stages, tasks
from trading.opening.decryption import run_pending
from trading.opening.models import Ceremony, CeremonyBidder, CeremonyEvent, DecryptionJob, Outcome, Stage

pytestmark = pytest.mark.integration


def decrypting_room(app: Flask) -> dict[str, Any]:
    """A lot of three bids in its decryption window, every bidder signed in (the clock frozen there)."""
    client, db = app.test_client(), app.extensions["ggzy.db"]
    with db.session() as session:
        t = open_tender(client, session, app, 3)
    room = f"/api/v1/ceremonies/{t['cid']}"
    t["at"] = t["deadline"] + dt.timedelta(seconds=1)
    with clock.frozen(t["at"]):
        for i, b in enumerate(t["bidders"]):
            r = client.post(
                f"{room}/signin", json={"signature": signin_sig(b, t["cid"], t["code"])}, headers=t["headers"][i]
            )
            assert r.status_code == 200
        client.post(f"{room}/advance", headers=t["staff"])
        assert client.post(f"{room}/advance", headers=t["staff"]).get_json()["stage"] == "decrypting"
    with db.session() as s:
        ends = s.get(Ceremony, t["cid"]).stage_ends_at  # type: ignore[union-attr]
    t["ends"], t["client"], t["room"] = ends, client, room
    return t


def test_the_bidder_never_sees_a_finished_attempt_without_its_outcome(pg_app: Flask) -> None:
    """The worker commits between the request's read of the seats and its read of the attempt:
    the answer still shows the attempt and its outcome together (``ggzy-bid decrypt`` had read
    "done" beside "pending" and reported a failed decryption)."""
    app, t = pg_app, decrypting_room(pg_app)
    client, room, db = t["client"], t["room"], pg_app.extensions["ggzy.db"]
    with clock.frozen(t["at"]):
        assert release(client, t, 0).status_code == 202
        with when_statement(app, "SELECT ceremony_bidder", lambda: run_pending(db, services(app)), after=True) as fired:
            me = client.get(room, headers=t["headers"][0]).get_json()["me"]
        assert fired[0]
    assert me["last_attempt"]["state"] == "done"
    assert me["outcome"] == "decrypted"


def test_a_key_released_as_the_window_closes_is_decrypted_or_refused_never_both(pg_app: Flask) -> None:
    """The sweep that closes the window runs while a bidder's key release is being written. Either
    the release is refused and the bid is 撤销, or it is accepted and the bid is decrypted before
    the price reading: never a job queued after the bid was classified (before, the sweep closed
    the window under the request, read no job, and marked the bid 撤销 no_key_released while the
    key release went on to be accepted and decrypted)."""
    app, t = pg_app, decrypting_room(pg_app)
    client, db = t["client"], pg_app.extensions["ggzy.db"]
    late = t["ends"] + dt.timedelta(seconds=1)
    swept: list[int] = []

    def close_the_window() -> None:
        with db.session() as s:
            swept.append(tasks.sweep(s, late, services(app)))

    with clock.frozen(t["ends"] - dt.timedelta(seconds=1)):
        for i in (1, 2):
            assert release(client, t, i).status_code == 202
        assert run_pending(db, services(app)) == 2
        with when_statement(app, "INSERT INTO decryption_job", close_the_window, after=False) as fired:
            r = release(client, t, 0)
        assert fired[0] and swept == [0]  # the room was held by the request: the sweep left it
    run_pending(db, services(app))
    with db.session() as s:
        tasks.sweep(s, late, services(app))
    with db.session() as s:
        c = s.get(Ceremony, t["cid"])
        assert c is not None and c.stage is Stage.READING
        seat = s.scalar(
            select(CeremonyBidder).where(
                CeremonyBidder.ceremony_id == c.id, CeremonyBidder.org_id == t["bidders"][0].user.organisation_id
            )
        )
        assert seat is not None
        jobs = s.scalars(select(DecryptionJob).where(DecryptionJob.ceremony_bidder_id == seat.id)).all()
        (reading,) = [
            e.payload
            for e in s.scalars(
                select(CeremonyEvent).where(CeremonyEvent.ceremony_id == c.id, CeremonyEvent.kind == "stage")
            )
            if e.payload["stage"] == "reading"
        ]
    (published,) = [
        row for row in reading["table"] if row["credit_code"] == t["bidders"][0].user.organisation.credit_code
    ]
    if r.status_code == 202:  # accepted: decrypted in its window, its price read with the others
        assert len(jobs) == 1 and seat.outcome is Outcome.DECRYPTED
        assert published["outcome"] == "decrypted" and published["price"] == "9000000.00"
    else:  # refused: nothing queued, and the reading says 撤销
        assert r.get_json()["error"]["code"] == "wrong_stage"
        assert not jobs and seat.outcome is Outcome.REVOKED and published["outcome"] == "revoked"


def test_classification_reads_the_seats_as_they_are_now(pg_app: Flask) -> None:
    """A session that read the seats before a worker recorded a decryption closes the window: the
    bid it still holds as pending is decrypted, not 撤销."""
    app, t = pg_app, decrypting_room(pg_app)
    client, db = t["client"], pg_app.extensions["ggzy.db"]
    with clock.frozen(t["at"]):
        for i in range(3):
            assert release(client, t, i).status_code == 202
    with db.session() as s:
        c = ceremonies.get_ceremony(s, t["cid"])
        assert all(seat.outcome is Outcome.PENDING for seat in c.bidders)  # held by this session
        worker = threading.Thread(target=run_pending, args=(db, services(app)))
        worker.start()
        worker.join(30)
        stages.ensure_current(s, c, services(app), t["ends"] + dt.timedelta(seconds=1))
        assert c.stage is Stage.READING
    with db.session() as s:
        outcomes = s.scalars(select(CeremonyBidder.outcome).where(CeremonyBidder.ceremony_id == t["cid"])).all()
    assert outcomes == [Outcome.DECRYPTED] * 3
