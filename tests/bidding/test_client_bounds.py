"""``ggzy-bid`` keeps a misbehaving platform's answers bounded: a document larger than declared is
stopped at the declared size and deleted (not written whole before the SM3 check refuses it), a JSON
answer past 16 MiB is a named error (not read whole into memory), and following notices remembers
and pages a bounded number however many the platform sends."""

from __future__ import annotations

import datetime as dt
import pathlib
from typing import Any, BinaryIO

import pytest

from bidding.cli import account
from bidding.client import MAX_RESPONSE, ApiError, Client
from tests.bidding.hostile_server import as_json, serving

CHUNK = b"x" * (64 << 10)


def endless(most: int) -> Any:
    """A body without Content-Length: bytes until the client hangs up (or ``most`` sent)."""

    def write(out: BinaryIO) -> None:
        for _ in range(most // len(CHUNK)):
            out.write(CHUNK)

    return write


def test_a_download_stops_at_the_declared_size_and_is_deleted(tmp_path: pathlib.Path) -> None:
    routes = {
        "/streamed": (200, {"Content-Type": "application/octet-stream"}, endless(8 << 20)),
        "/declared": (200, {"Content-Type": "application/octet-stream", "Content-Length": str(300 << 20)}, b""),
        "/honest": (200, {"Content-Type": "application/octet-stream"}, b"0123456789"),
    }
    with serving(routes) as server:
        c = Client(server)
        for path in ("/streamed", "/declared"):
            dst = tmp_path / "招标文件.pdf"
            got: list[int] = []
            with pytest.raises(ApiError) as refused:
                c.download(path, dst, got.append, limit=10)
            assert refused.value.code == "download_too_large" and not dst.exists() and sum(got) <= 10
        c.download("/honest", dst, limit=10)
        assert dst.read_bytes() == b"0123456789"


def test_a_json_answer_past_16_mib_is_refused_by_name() -> None:
    json_head = {"Content-Type": "application/json"}
    routes = {
        "/api/v1/streamed": (200, json_head, endless(MAX_RESPONSE + (1 << 20))),
        "/api/v1/declared": (200, {**json_head, "Content-Length": str(1 << 30)}, b""),
        "/api/v1/error": (500, {"Content-Type": "text/plain"}, endless(MAX_RESPONSE + (1 << 20))),
        "/api/v1/fine": as_json({"items": []}),
    }
    with serving(routes) as server:
        c = Client(server)
        for path in ("/api/v1/streamed", "/api/v1/declared", "/api/v1/error"):
            with pytest.raises(ApiError) as refused:
                c.request("GET", path)
            assert refused.value.code == "response_too_large", path
        assert c.request("GET", "/api/v1/fine") == {"items": []}


class Flood:
    """A platform answering every poll with a full page of notices of one instant, ``more`` always."""

    def __init__(self) -> None:
        self.pages, self.next_id = 0, 0

    def request(self, method: str, path: str, body: Any = None) -> Any:
        self.pages += 1
        assert self.pages < 100, "asked for pages without end"
        at = "2026-12-05T01:00:00+00:00"
        items = [{"id": self.next_id + i, "created_at": at, "message": "通知"} for i in range(3000)]
        self.next_id += len(items)
        return {"server_time": at, "items": items, "more": True}


def test_following_notices_is_bounded_in_pages_and_memory(capsys: pytest.CaptureFixture[str]) -> None:
    flood = Flood()
    notices = account.Notices(flood)
    notices.show(notices.fetch())  # the first answer
    assert flood.pages == 1
    got = notices.fetch()  # `more` forever, after the first page never moving on: no loop without end
    assert flood.pages == 3 and len(got) == 6000
    notices.show(got)
    notices.show(notices.fetch())
    assert len(notices.seen) <= account.MAX_SEEN
    assert max(int(k) for k in notices.seen) == flood.next_id - 1  # the newest are the ones kept
    capsys.readouterr()


def test_pages_of_one_poll_are_bounded_even_when_they_move_on() -> None:
    class Moving(Flood):
        def request(self, method: str, path: str, body: Any = None) -> Any:
            self.pages += 1
            assert self.pages < 100, "asked for pages without end"
            at = (dt.datetime(2026, 12, 5, tzinfo=dt.UTC) + dt.timedelta(seconds=self.pages)).isoformat()
            return {"server_time": at, "items": [{"id": self.pages, "created_at": at, "message": "x"}], "more": True}

    moving = Moving()
    notices = account.Notices(moving)
    notices.fetch()
    assert len(notices.fetch()) == account.MAX_PAGES and moving.pages == 1 + account.MAX_PAGES
