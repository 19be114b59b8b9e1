"""The HTTP answer that follows rooms' events, shared by one room's API and the joint room's: JSON
with ``?once=1``, else a Server-Sent Events stream that resumes at ``Last-Event-ID``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from flask import Response, current_app, jsonify, request, stream_with_context

from archive import clock
from trading.accounts import web
from trading.core.db import Database
from trading.opening.streams import Scopes, event_body, format_cursor, parse_position, visible_events
from trading.tenders.shapes import iso

#: How long one SSE response stays open before the browser reconnects with Last-Event-ID.
STREAM_SECONDS = 300


def events_response(scopes: Scopes, *, cursor: bool) -> Response:
    """The viewer's events of these rooms: JSON with ``?once=1``, else a stream (see ``event_stream``)."""
    after = parse_position(request.headers.get("Last-Event-ID") or request.args.get("after"), list(scopes))
    if request.args.get("once") == "1":
        rows = visible_events(web.db(), scopes, after)
        return jsonify({"items": [event_body(e) for e in rows], "server_time": iso(clock.now())})
    return event_stream(scopes, after, cursor=cursor)


def event_stream(scopes: Scopes, after: dict[int, int], *, cursor: bool) -> Response:
    """One SSE response: the viewer's events of these rooms from ``after`` on, polled from the
    database (so any app process serves any room), with the server time every 15 s to keep clocks
    in sync. The scopes are fixed when it starts: the stream outlives the request."""
    database: Database = current_app.extensions["ggzy.db"]
    seconds = float(current_app.config.get("LIVE_STREAM_SECONDS", STREAM_SECONDS))

    def stream() -> Iterator[str]:
        pos, started, beat = dict(after), time.monotonic(), 0.0
        yield "retry: 2000\n\n"
        while True:  # one poll at least, then until the response's time is up
            with database.session() as s:
                out = [(e.ceremony_id, e.id, event_body(e)) for e in visible_events(s, scopes, pos)]
            for room, eid, body in out:
                pos[room] = eid
                sse_id = format_cursor(pos) if cursor else str(eid)
                yield f"id: {sse_id}\nevent: {body['kind']}\ndata: {json.dumps(body, ensure_ascii=False)}\n\n"
            if time.monotonic() - beat > 15:
                beat = time.monotonic()
                yield f"event: time\ndata: {json.dumps({'server_time': iso(clock.now())})}\n\n"
            left = seconds - (time.monotonic() - started)
            if left <= 0:
                break
            time.sleep(min(0.5, left))

    return Response(
        stream_with_context(stream()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
