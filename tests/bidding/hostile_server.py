"""A platform that misbehaves, on 127.0.0.1, for what ``ggzy-bid`` must survive: text that would
drive the bidder's terminal, bodies larger than they said. ``routes`` maps a path (without its query)
to ``(status, headers, body)``; anything else is a 404."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

Answer = tuple[int, dict[str, str], bytes | Callable[[Any], None]]


def as_json(value: Any, status: int = 200) -> Answer:
    return status, {"Content-Type": "application/json"}, json.dumps(value).encode()


@contextlib.contextmanager
def serving(routes: dict[str, Answer]) -> Iterator[str]:
    """The server's address while the block runs. A body may be a callable writing to the socket
    itself (a stream longer than its Content-Length, say)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            status, headers, body = routes.get(self.path.split("?")[0], as_json({"error": {}}, 404))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            if callable(body):
                self.send_header("Connection", "close")
                self.end_headers()
                with contextlib.suppress(OSError):  # the client may hang up first: that is the point
                    body(self.wfile)
                self.close_connection = True
                return
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:  # quiet under pytest
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
