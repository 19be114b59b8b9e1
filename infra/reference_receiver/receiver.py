#!/usr/bin/env python3
"""A reference receiver of the national data-exchange records (参考数据交换接收端): its own
process, as the upper platform's intake would be. It verifies every envelope it is sent (the
platform's signature over the record, the source event and its SM3, the attached document, each
bound field, the checkpoint's signature and the event's inclusion proof; ``verify.py``) against the
platform certificate it is configured to trust, stores what it accepts, and refuses the rest with a
named error. Run it with

    python -m infra.reference_receiver.receiver --platform-cert platform.pem --db received.db \
        [--host 127.0.0.1] [--port 5007] [--platform-code CODE] [--report text]

and point the platform at it (EXCHANGE_PUSH_URL=http://127.0.0.1:5007/records).

    POST /records   one envelope → 201 accepted | 200 duplicate (the same record again), each
                    answering {status, table, data_key, digest, envelope_sm3: SM3 of the bytes received} |
                    409 conflicting_record | 422 a named refusal (JSON: code, message)
    GET  /records[?table=…]   what was accepted;   GET /refusals;   GET /health
"""

from __future__ import annotations

import argparse
import json
import pathlib
import signal
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from infra.reference_receiver.store import ReceiverStore
from infra.reference_receiver.verify import Refused, parse_envelope, printable, verify_envelope
from signing.canonical import canonical_json
from signing.certs import Certificate
from signing.digest import sm3_hex

MAX_BODY = 4 << 20
TABLE_WORDS = {
    "TENDER_PROJECT": "招标项目",
    "BID_SECTION": "标段",
    "TENDER_BULLETIN": "公告",
    "BID_OPEN_DETAIL": "开标记录",
    "EVALUATION_SCORE_DETAIL": "评分明细",
    "WIN_CANDIDATE_BULLETIN": "中标候选人公示",
    "WIN_BID_BULLETIN": "中标结果",
    "OBJECTION": "异议",
    "OBJECTION_REPLY": "异议答复",
}


class Receiver:
    """The verifying intake; ``serve`` wraps it in HTTP."""

    def __init__(self, store: ReceiverStore, trusted: Certificate, platform_code: str | None = None) -> None:
        self.store, self.trusted, self.platform_code = store, trusted, platform_code
        self.report: Any = None  # called with (status, answer) after each record (the text report)

    def receive(self, body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            if len(body) > MAX_BODY:
                raise Refused("too_large", "记录过大 (envelope too large)", 413)
            try:
                env = parse_envelope(body)
                verified = verify_envelope(env, self.trusted, self.platform_code)
                # what is kept is the verified envelope's canonical form, not the bytes received
                kept = canonical_json(env).decode("utf-8")
            except Refused:
                raise
            except Exception as exc:  # whatever a hostile envelope provokes is a refusal, named
                raise Refused("unverifiable", f"无法核验的信封 (could not be verified): {type(exc).__name__}") from exc
            answer = self.store.accept(verified, kept)
            answer["envelope_sm3"] = sm3_hex(body)  # the sender counts it pushed only on this
            status = 201 if answer["status"] == "accepted" else 200
        except Refused as exc:
            return self.refuse(exc)
        if self.report is not None:
            self.report(status, answer)
        return status, answer

    def refuse(self, exc: Refused) -> tuple[int, dict[str, Any]]:
        """Keep and tell the refusal; its answer."""
        self.store.refusal(exc)
        answer = {"code": exc.code, "message": exc.message}
        if self.report is not None:
            self.report(exc.status, answer)
        return exc.status, answer


def body_length(header: str | None) -> tuple[int, Refused | None]:
    """The body's length from its Content-Length, or the refusal: none (411), not a plain decimal
    number (a sign, letters, spaces: 400), over MAX_BODY (413). Nothing is read without it."""
    if header is None:
        return 0, Refused("length_required", "缺少 Content-Length (length required)", 411)
    if not (header.isascii() and header.isdigit()) or len(header) > 12:
        return 0, Refused("bad_length", "Content-Length 不是非负整数 (bad Content-Length)", 400)
    length = int(header)
    if length > MAX_BODY:
        return 0, Refused("too_large", "记录过大 (envelope too large)", 413)
    return length, None


def handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/records":
                self._send(404, {"code": "not_found", "message": "没有这个地址 (no such path)"})
                return
            length, refusal = body_length(self.headers.get("Content-Length"))
            if refusal is not None:
                self.close_connection = True  # the body, if any, is not read
                self._send(*receiver.refuse(refusal))
                return
            status, answer = receiver.receive(self.rfile.read(length))
            self._send(status, answer)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/health":
                self._send(200, {"ok": True})
            elif url.path == "/records":
                table = parse_qs(url.query).get("table", [None])[0]
                self._send(200, receiver.store.records(table))
            elif url.path == "/refusals":
                self._send(200, receiver.store.refusals())
            else:
                self._send(404, {"code": "not_found", "message": "没有这个地址 (no such path)"})

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the report says what matters; access lines would bury it

    return Handler


def serve(receiver: Receiver, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A started server (in a daemon thread); ``server.server_address`` tells its port."""
    server = ThreadingHTTPServer((host, port), handler_for(receiver))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class TextReport:
    """What ``ggzy demo`` shows in its terminal: the records accepted, told once a burst of pushes
    is over (a line per table, not per record), and every refusal at once."""

    def __init__(self, quiet_seconds: float = 1.0) -> None:
        self.quiet_seconds = quiet_seconds
        self._lock = threading.Lock()
        self._accepted: Counter[str] = Counter()
        self._total = 0
        self._timer: threading.Timer | None = None

    def __call__(self, status: int, answer: dict[str, Any]) -> None:
        if status >= 400:
            code, message = printable(answer.get("code")), printable(answer.get("message"))
            print(f"参考数据交换接收端：拒收一条记录（{code}：{message}）", flush=True)
            return
        if status != 201:
            return  # a retry acknowledged again: nothing new
        with self._lock:
            self._accepted[str(answer.get("table"))] += 1
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.quiet_seconds, self.flush)
            self._timer.daemon = True
            self._timer.start()

    def flush(self) -> None:
        with self._lock:
            if not self._accepted:
                return
            n = sum(self._accepted.values())
            self._total += n
            order = list(TABLE_WORDS)  # a tender's life: the project first, the objections last
            told = sorted(self._accepted.items(), key=lambda tc: order.index(tc[0]) if tc[0] in order else len(order))
            parts = "、".join(f"{TABLE_WORDS.get(t, printable(t))} {c}" for t, c in told)
            self._accepted.clear()
        print(f"参考数据交换接收端：核验并接收 {n} 条记录（{parts}），累计 {self._total} 条", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument(
        "--platform-cert", type=pathlib.Path, required=True, help="the platform's signing certificate (PEM)"
    )
    ap.add_argument("--db", type=pathlib.Path, required=True, help="where accepted records are kept (SQLite)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5007)
    ap.add_argument("--platform-code", help="accept only this PLATFORM_CODE")
    ap.add_argument("--report", choices=("json", "text"), default="json")
    ap.add_argument("--quiet-seconds", type=float, default=1.0, help="text report: told after this long without a push")
    args = ap.parse_args(argv)
    trusted = Certificate.load(args.platform_cert.read_bytes())
    receiver = Receiver(ReceiverStore(args.db), trusted, args.platform_code)
    if args.report == "text":
        receiver.report = report = TextReport(args.quiet_seconds)
    else:
        receiver.report = lambda status, answer: print(
            printable(json.dumps({"status": status, **answer}, ensure_ascii=False)), flush=True
        )
    server = ThreadingHTTPServer((args.host, args.port), handler_for(receiver))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stopped by ggzy demo: tell what is untold
    try:
        server.serve_forever()
    finally:
        if args.report == "text":
            report.flush()
        server.server_close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl+C in the terminal of ggzy demo reaches every process it runs
        sys.exit(130)
