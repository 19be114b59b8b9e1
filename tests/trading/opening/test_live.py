"""The live server (`ggzy live`): signed tickets, the audience rule, Last-Event-ID resume, and an
event pushed to a connected watcher; and the scheduler's job that opens the room at the deadline."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from archive import clock
from tests.conftest import run_in_own_loop
from tests.trading.opening.test_ceremony import open_tender, signin_sig
from trading.core.services import services
from trading.opening import ceremonies
from trading.opening.live import make_app, make_ticket
from trading.opening.models import Audience, Stage
from trading.opening.tasks import open_ceremonies_job


def test_the_scheduler_opens_the_room_at_the_deadline(client: FlaskClient, session: Session, app: Flask) -> None:
    t = open_tender(client, session, app, 3)
    c = ceremonies.get_ceremony(session, t["cid"])
    assert open_ceremonies_job(session, t["deadline"] - dt.timedelta(seconds=1), services(app)) == 0
    assert c.stage is Stage.SCHEDULED
    assert open_ceremonies_job(session, t["deadline"] + dt.timedelta(seconds=1), services(app)) == 1
    assert c.stage is Stage.SIGN_IN and len(c.bidders) == 3
    assert open_ceremonies_job(session, t["deadline"] + dt.timedelta(seconds=2), services(app)) == 0  # idempotent
    # nobody signs in: the window runs out and the sweep moves on
    assert open_ceremonies_job(session, t["deadline"] + dt.timedelta(minutes=31), services(app)) == 1
    assert c.stage is Stage.BIDDERS


async def _read(resp: Any, n: int, timeout: float = 10) -> list[str]:
    """The ``data:`` lines of the next ``n`` events (heartbeats skipped)."""
    out: list[str] = []
    while len(out) < n:
        line = (await asyncio.wait_for(resp.content.readline(), timeout)).decode()
        if line.startswith("data: ") and "server_time" not in line:
            out.append(line[6:].strip())
    return out


@pytest.mark.integration
def test_live_server_fans_out_by_audience(settings_for: Any) -> None:
    """On a PostgreSQL database of its own: the live process reads committed rows, as in production."""
    from aiohttp.test_utils import TestClient, TestServer

    from tests.conftest import committing_pg_app

    with committing_pg_app(settings_for, "ggzy_live") as app:
        database = app.extensions["ggzy.db"]
        client = app.test_client()
        with database.session() as session:
            t = open_tender(client, session, app, 3)
            cid, code = t["cid"], t["code"]
            with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
                client.get(f"/api/v1/ceremonies/{cid}")
                for i in range(3):
                    r = client.post(
                        f"/api/v1/ceremonies/{cid}/signin",
                        json={"signature": signin_sig(t["bidders"][i], cid, code)},
                        headers=t["headers"][i],
                    )
                    assert r.status_code == 200
                r = client.post(
                    f"/api/v1/ceremonies/{cid}/messages", json={"text": "秘密消息"}, headers=t["headers"][0]
                )
                assert r.status_code == 201
            c = ceremonies.get_ceremony(session, cid)
            seat = ceremonies.my_seat(session, c, t["bidders"][0].user)
            assert seat is not None
            org0 = seat.org_id
        secret = app.extensions["ggzy.settings"].secret_key

        def add(kind: str, payload: dict[str, Any], audience: Audience) -> None:
            with database.session() as s:
                ceremonies.add_event(s, ceremonies.get_ceremony(s, cid), kind, payload, audience)

        async def scenario() -> None:
            server = TestServer(make_app(database, secret, interval=0.05))
            async with TestClient(server) as http:
                bad = await http.get(f"/live/ceremonies/{cid}?ticket=forged")
                assert bad.status == 403
                other = await http.get(f"/live/ceremonies/{cid + 1}?ticket={make_ticket(secret, {cid: (False, None)})}")
                assert other.status == 403
                public = await http.get(f"/live/ceremonies/{cid}?ticket={make_ticket(secret, {cid: (False, None)})}")
                bidder = await http.get(f"/live/ceremonies/{cid}?ticket={make_ticket(secret, {cid: (False, org0)})}")
                first = await _read(public, 4)  # the opening, then three sign-ins; never the chat
                assert all("秘密消息" not in e for e in first)
                mine = await _read(bidder, 5)
                assert "秘密消息" in mine[-1]
                last_id = int(first[-1].split('"id": ')[1].split(",")[0])
                resumed = await http.get(
                    f"/live/ceremonies/{cid}?ticket={make_ticket(secret, {cid: (True, None)})}",
                    headers={"Last-Event-ID": str(last_id)},
                )
                assert "秘密消息" in (await _read(resumed, 1))[0]  # staff see it; nothing before last_id again
                await asyncio.to_thread(add, "chat", {"from": "主持人", "text": "各位好"}, Audience.ROOM)
                assert "各位好" in (await _read(bidder, 1))[0]  # pushed to the watcher
                await asyncio.to_thread(add, "stage", {"label": "公开事件"}, Audience.PUBLIC)
                assert "公开事件" in (await _read(public, 1))[0]  # the public skipped the room's chat

        run_in_own_loop(scenario)
