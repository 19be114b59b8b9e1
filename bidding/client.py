"""The HTTP side of ``ggzy-bid``: a small client of the platform's JSON API (standard library only),
with streamed, resumable bid uploads."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import pathlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from bidding import install_id, part_digests
from signing.digest import SM3
from signing.envelope import read_header

BUSY_RETRIES = 3  # a request the platform answers 503 busy_retry is sent again this many times
# A part the platform answers 507 staging_full (its staging volume is full for now: other uploads
# finish or are swept) is sent again this many times, after Retry-After or STAGING_WAIT seconds.
STAGING_RETRIES = 5
STAGING_WAIT = 30.0
#: The most of an answer read into memory (JSON, an error, a receipt): the platform's largest
#: listing is far below it, and a hostile or broken server's endless body is cut off here.
MAX_RESPONSE = 16 << 20
CONFIG = pathlib.Path(os.environ.get("GGZY_BID_CONFIG", pathlib.Path.home() / ".config" / "ggzy-bid" / "config.json"))


def _retry_after(header: str | None) -> float:
    """Seconds to wait before sending again (the platform sends a number; at most 5)."""
    try:
        return min(max(float(header or 1), 0.0), 5.0)
    except ValueError:
        return 1.0


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"{message} [{code}, HTTP {status}]")
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


def _read_capped(resp: http.client.HTTPResponse, limit: int = MAX_RESPONSE) -> bytes:
    """The answer's body, at most ``limit`` bytes: a larger one (said so in Content-Length, or
    found by reading one byte past the limit) is a named error, never held whole in memory."""
    declared = resp.getheader("Content-Length") or ""
    over = declared.isdigit() and int(declared) > limit
    raw = b"" if over else resp.read(limit + 1)
    if over or len(raw) > limit:
        resp.close()  # the rest unread: this connection cannot carry another request
        raise ApiError(
            0,
            "response_too_large",
            f"平台的回复超过 {limit:,} 字节，已停止接收 (the platform's answer exceeds {limit:,} bytes)",
        )
    return raw


class Requester(Protocol):
    """What the bidder-side flows need of a client: ``Client`` over HTTP, or the demo's actors."""

    def request(self, method: str, path: str, body: Any = None) -> Any: ...


@dataclass
class Client:
    server: str
    token: str | None = None
    timeout: float = 120

    @classmethod
    def from_config(cls, server: str | None = None) -> Client:
        cfg: dict[str, Any] = json.loads(CONFIG.read_text()) if CONFIG.exists() else {}
        server = server or os.environ.get("GGZY_SERVER") or cfg.get("server")
        if not server:
            raise ApiError(0, "not_logged_in", "请先运行 ggzy-bid login (run `ggzy-bid login` first)")
        return cls(server.rstrip("/"), os.environ.get("GGZY_TOKEN") or cfg.get("token"))

    def save(self) -> None:
        CONFIG.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(CONFIG, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"server": self.server, "token": self.token}, f)

    def _conn(self) -> http.client.HTTPConnection:
        u = urlsplit(self.server)
        cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
        return cls(u.hostname or "127.0.0.1", u.port, timeout=self.timeout)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        conn: http.client.HTTPConnection | None = None,
    ) -> Any:
        h = dict(headers or {})
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        data: bytes | None = None
        if body is not None and not isinstance(body, bytes | bytearray):
            data, h["Content-Type"] = json.dumps(body).encode(), "application/json"
        elif body is not None:
            data = bytes(body)
        own = conn is None
        for attempt in range(BUSY_RETRIES + 1):
            c = conn or self._conn()
            try:
                c.request(method, path, body=data, headers=h)
                resp = c.getresponse()
                raw = _read_capped(resp)
            finally:
                if own:
                    c.close()
            if resp.status != 503 or b'"busy_retry"' not in raw or attempt == BUSY_RETRIES:
                break
            # the platform rolled the request back whole (contention): the same request again
            time.sleep(_retry_after(resp.getheader("Retry-After")))
        if resp.status >= 400:
            wait = resp.getheader("Retry-After")
            try:
                after = float(wait) if wait is not None else None
            except ValueError:
                after = None
            try:
                err = json.loads(raw)["error"]
                code, message = err["code"], err["message"]
            except (ValueError, KeyError, TypeError):
                code, message = f"http_{resp.status}", raw[:200].decode(errors="replace")
            raise ApiError(resp.status, code, message, after)
        if resp.getheader("Content-Type", "").startswith("application/json"):
            return json.loads(raw)
        return raw

    def login(self, username: str, password: str) -> dict[str, Any]:
        body = self.request(
            "POST", "/api/v1/auth/token", {"username": username, "password": password, "name": "ggzy-bid"}
        )
        self.token = body["token"]
        return dict(body)

    def login_sm2(self, username: str, key: Any) -> dict[str, Any]:
        """UKey-style login: sign the server's one-time statement with the registered signing key."""
        ch = self.request("POST", "/api/v1/auth/challenge", {"username": username})
        signature = base64.b64encode(key.sign(ch["statement"].encode())).decode()
        body = self.request(
            "POST", "/api/v1/auth/sm2", {"challenge_id": ch["challenge_id"], "signature": signature, "name": "ggzy-bid"}
        )
        self.token = body["token"]
        return dict(body)

    def download(
        self, path: str, dst: pathlib.Path, progress: Callable[[int], None] | None = None, *, limit: int
    ) -> dict[str, str]:
        """Write the file at ``path`` to ``dst``, at most ``limit`` bytes (the size the platform
        declared for it): a server sending more is stopped there, with ``download_too_large``, and
        the partial file deleted, rather than filling the disk before the SM3 check could refuse it."""
        c = self._conn()
        try:
            c.request("GET", path, headers={"Authorization": f"Bearer {self.token}"} if self.token else {})
            resp = c.getresponse()
            if resp.status >= 400:
                raw = _read_capped(resp)
                try:
                    err = json.loads(raw)["error"]
                    code, message = err["code"], err["message"]
                except (ValueError, KeyError, TypeError):
                    code, message = f"http_{resp.status}", raw[:200].decode(errors="replace")
                raise ApiError(resp.status, code, message)
            declared = resp.getheader("Content-Length") or ""
            written = 0
            try:
                if declared.isdigit() and int(declared) > limit:
                    raise _oversize(limit)
                with dst.open("wb") as f:
                    while chunk := resp.read(min(1 << 20, limit + 1 - written)):
                        written += len(chunk)
                        if written > limit:
                            raise _oversize(limit)
                        f.write(chunk)
                        if progress:
                            progress(len(chunk))
            except BaseException:
                resp.close()
                dst.unlink(missing_ok=True)
                raise
            return {k.lower(): v for k, v in resp.getheaders()}
        finally:
            c.close()


def _oversize(limit: int) -> ApiError:
    return ApiError(
        0,
        "download_too_large",
        f"平台发来的文件超过其公布的大小 {limit:,} 字节，已停止并删除 (the file exceeds its declared size; deleted)",
    )


def head_length(path: pathlib.Path) -> int:
    with path.open("rb") as f:
        read_header(f)
        return f.tell()


def open_uploads(client: Requester, tender: str | None = None) -> list[dict[str, Any]]:
    """The organisation's unfinished uploads (all of them, or one tender's)."""
    items = client.request("GET", "/api/v1/bids/uploads")["items"]
    return [dict(u) for u in items if tender is None or u["tender"] == tender]


def abandon_upload(client: Requester, upload_id: str) -> None:
    """Give up an unfinished upload: the platform deletes its bytes and it no longer counts."""
    client.request("DELETE", f"/api/v1/bids/uploads/{quote(upload_id, safe='')}")


def upload_sealed(
    client: Client,
    sealed: pathlib.Path,
    tender: str,
    lot: int,
    progress: Callable[[int], None] | None = None,
    wait: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Upload in parts; resumable: the upload id is kept beside the file until the receipt arrives,
    and without that side file an unfinished upload of the same file (same tender, lot, size and
    header SM3) is found on the platform and resumed rather than a new one begun (a new one would
    count against the bidder's caps, 409 too_many_open_uploads).

    Prefix digests recorded by ``ggzy-bid seal`` are used when present; if the server refuses one
    (the file changed since), the upload goes on hashing the file here. A part refused with 507
    staging_full is sent again after ``wait`` (Retry-After, else STAGING_WAIT), STAGING_RETRIES times.
    """
    known = part_digests.load(sealed)
    for attempt in range(3):
        try:
            return _upload(client, sealed, tender, lot, progress, known, wait)
        except ApiError as exc:
            if exc.code == "part_digest_mismatch" and part_digests.sidecar(sealed).exists():
                part_digests.sidecar(sealed).unlink()
                known = None
            elif exc.code != "upload_expired" or attempt:
                raise
            # upload_expired: a resumed upload idle too long (or swept); begin a new one, once. Past
            # the deadline the new one is refused with deadline_passed, which says so.
    raise AssertionError("unreachable")


def _drop(client: Client, upload_id: str) -> None:
    with contextlib.suppress(ApiError):  # already closed or swept
        abandon_upload(client, upload_id)


def _find_own_upload(client: Client, tender: str, lot: int, size: int, head: bytes) -> str | None:
    """An open upload of this very file, begun by an earlier run whose side file is lost."""
    head_sm3 = SM3(head).hexdigest()
    for u in open_uploads(client, tender):
        if u["lot"] == lot and u["declared_size"] == size and u.get("head_sm3") == head_sm3:
            return str(u["upload_id"])
    return None


def _still_open(client: Client, upload_id: str) -> bool:
    try:
        return bool(client.request("GET", f"/api/v1/bids/uploads/{quote(upload_id, safe='')}")["state"] == "open")
    except ApiError as exc:
        if exc.status != 404:
            raise
        return False


def _upload(
    client: Client,
    sealed: pathlib.Path,
    tender: str,
    lot: int,
    progress: Callable[[int], None] | None,
    known: part_digests.PartDigests | None,
    wait: Callable[[float], None],
) -> dict[str, Any]:
    state_file = sealed.with_name(sealed.name + ".upload.json")
    size = sealed.stat().st_size
    state = json.loads(state_file.read_text()) if state_file.exists() else None
    if state is not None and (state.get("server") != client.server or not _still_open(client, state["upload_id"])):
        state = None  # given up, swept, or another platform's: begin again
    if state is None:
        head = _read_head(sealed)
        upload_id = _find_own_upload(client, tender, lot, size, head)
        if upload_id is None:
            up = client.request(
                "POST",
                "/api/v1/bids/uploads",
                {"tender": tender, "lot": lot, "size": size, "head": base64.b64encode(head).decode()},
                install_header(client, tender),
            )
            upload_id = up["upload_id"]
        state = {"server": client.server, "upload_id": upload_id}
        state_file.write_text(json.dumps(state))
    up = client.request("GET", f"/api/v1/bids/uploads/{state['upload_id']}")
    part_size, received, part = up["part_size"], up["received"], up["next_part"]
    if known is not None and part_size % known.step:
        known = None
    conn = client._conn()  # one keep-alive connection: the server keeps the running hash in memory
    parts: queue.Queue[tuple[int, bytes, str] | BaseException | None] = queue.Queue(maxsize=2)
    whole: list[str] = []

    def produce() -> None:
        """Read (and, without recorded digests, hash) ahead while the previous part is on the wire."""
        try:
            with sealed.open("rb") as f:
                h = None
                if known is None:
                    h = SM3()
                    left = received
                    while left:  # the prefix the server already has, hashed again here
                        chunk = f.read(min(left, 1 << 20))
                        h.update(chunk)
                        left -= len(chunk)
                else:
                    f.seek(received)
                number, end = part, received
                while data := f.read(part_size):
                    end += len(data)
                    if h is not None:
                        h.update(data)
                    prefix = h.hexdigest() if h is not None else known.prefix(end) if known else None
                    assert prefix is not None  # part_size is a multiple of the recorded step
                    parts.put((number, data, prefix))
                    number += 1
            whole.append(h.hexdigest() if h is not None else known.sm3 if known else "")
            parts.put(None)
        except BaseException as exc:  # handed to the uploading thread
            parts.put(exc)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    if progress:
        progress(received)
    try:
        while (item := parts.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            number, data, prefix = item
            path = f"/api/v1/bids/uploads/{state['upload_id']}/parts/{number}"
            headers = {"X-Prefix-SM3": prefix, "Content-Type": "application/octet-stream"}
            for attempt in range(STAGING_RETRIES + 1):
                try:
                    conn = _resending(client, conn, "PUT", path, data, headers)
                    break
                except ApiError as exc:
                    if exc.code == "upload_expired":
                        _drop(client, state["upload_id"])  # dead: else it would be found and resumed again
                        state_file.unlink(missing_ok=True)
                    if exc.code != "staging_full" or attempt == STAGING_RETRIES:
                        raise
                    # the progress so far is kept; a new connection, as the refused body may be unread
                    conn.close()
                    wait(min(exc.retry_after if exc.retry_after is not None else STAGING_WAIT, 300.0))
                    conn = client._conn()
            if progress:
                progress(len(data))
        bid = _complete(client, conn, state["upload_id"], tender)
    finally:
        conn.close()
    sealed.with_name(sealed.name + ".receipt.json").write_text(bid["receipt"])
    state_file.unlink(missing_ok=True)
    if whole and bid["ciphertext_sm3"] != whole[0]:
        raise ApiError(0, "receipt_mismatch", "回执中的 SM3 与本地加密投标文件不符 (receipt does not match the file)")
    return dict(bid)


def install_header(client: Client, tender: str) -> dict[str, str]:
    """``X-GGZY-Install``: this installation's salted id for the platform and tender
    (bidding/install_id.py); none when the configuration folder cannot hold the salt (the upload
    goes on without it)."""
    try:
        return {install_id.HEADER: install_id.install_id(client.server, tender, CONFIG.parent)}
    except OSError:
        return {}


def _complete(client: Client, conn: http.client.HTTPConnection, upload_id: str, tender: str) -> dict[str, Any]:
    """Complete the upload; if the answer was lost with the connection, ask which bid it became."""
    try:
        return dict(
            client.request(
                "POST", f"/api/v1/bids/uploads/{upload_id}/complete", headers=install_header(client, tender), conn=conn
            )
        )
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
        pass
    try:
        return dict(
            client.request("POST", f"/api/v1/bids/uploads/{upload_id}/complete", headers=install_header(client, tender))
        )
    except ApiError as exc:
        if exc.code != "upload_closed":
            raise
    up = client.request("GET", f"/api/v1/bids/uploads/{upload_id}")
    for bid in client.request("GET", f"/api/v1/bids?tender={quote(tender)}")["items"]:
        if bid["ciphertext_sm3"] == up["prefix_sm3"]:
            return dict(bid)
    raise ApiError(0, "upload_closed", "上传任务已结束，但未找到对应的投标 (the upload ended without a bid)")


def _resending(
    client: Client, conn: http.client.HTTPConnection, method: str, path: str, body: bytes, headers: dict[str, str]
) -> http.client.HTTPConnection:
    """Send a part; if the server dropped the keep-alive connection (an idle close racing our
    request), send it again on a new one. Safe: the server takes a repeated last part as done and
    discards a part that did not arrive whole."""
    for attempt in range(3):
        try:
            client.request(method, path, body, headers, conn=conn)
            return conn
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            conn.close()
            if attempt == 2:
                raise
            conn = client._conn()
    raise AssertionError("unreachable")


def _read_head(path: pathlib.Path) -> bytes:
    n = head_length(path)
    with path.open("rb") as f:
        return f.read(n)


def document_path(code: str, doc_id: int) -> str:
    return f"/api/v1/tenders/{quote(code)}/documents/{doc_id}"
