"""The users of bench/load.py, for locust (run by it, in a process of locust's own).

Bidders: each is one bidder of the plan (``LOAD_PLAN``, a JSON file bench/load.py wrote): it
reads two portal pages, registers for its tender, uploads its sealed bid (made beforehand) part
by part from disk and completes it; the platform's answer is written to the receipts file. Readers
read the portal's pages at a constant rate. Every 5xx is a failure; a named 4xx for a deadline that
passed is the expected answer to a late bid and is counted apart ("late refused").
"""

from __future__ import annotations

import io
import itertools
import json
import os
import random
import threading
from typing import Any

import gevent
from locust import HttpUser, between, constant_throughput, events, task
from locust.exception import StopUser

PLAN: dict[str, Any] = json.loads(open(os.environ["LOAD_PLAN"], encoding="utf-8").read())  # noqa: SIM115
TAKE = itertools.count()
DONE = itertools.count(1)
WRITE = threading.Lock()
TIMEOUT = 900  # a part waits for its turn behind hundreds of others at a busy deadline


class Slice(io.RawIOBase):
    """``size`` bytes of a file from ``start``, read as requests sends them (no part in memory)."""

    def __init__(self, path: str, start: int, size: int) -> None:
        self._f = open(path, "rb")  # noqa: SIM115  (closed with the slice)
        self._f.seek(start)
        self._left = size
        self._size = size

    def __len__(self) -> int:
        return self._size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._f.read(n)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._f.close()
        super().close()


def record(line: dict[str, Any]) -> None:
    with WRITE, open(PLAN["receipts"], "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


@events.request.add_listener
def count_server_errors(name: str, response: Any = None, **_: Any) -> None:
    """Every 5xx, and every request that got no answer at all (status 0), in the receipts file."""
    status = getattr(response, "status_code", None)
    if status is not None and (status >= 500 or status == 0):
        record({"outcome": "5xx", "name": name, "status": status})


def late(r: Any) -> bool:
    """The named refusals of a bid whose deadline passed: at init or completion
    ``deadline_passed``; for a part of an upload begun in time, ``upload_expired``."""
    return r.status_code == 409 and ("deadline_passed" in r.text or "upload_expired" in r.text)


class Bidder(HttpUser):
    fixed_count = len(PLAN["bidders"])
    wait_time = between(0, 1)

    def on_start(self) -> None:
        self.me = PLAN["bidders"][next(TAKE)]
        self.h = {"Authorization": f"Bearer {self.me['token']}"}

    def _finish(self, outcome: dict[str, Any]) -> None:
        record({"bidder": self.me["n"], "tender": self.me["tender"], **outcome})
        if next(DONE) == len(PLAN["bidders"]):
            # every bidder is done: the storm is over (quit from a greenlet of its own: quitting
            # stops every user, this one included, before the call would return)
            gevent.spawn(self.environment.runner.quit)
        raise StopUser()

    def _refused(self, r: Any, step: str) -> None:
        if late(r):
            events.request.fire(
                request_type="BID", name="late refused", response_time=0, response_length=0, exception=None
            )
            self._finish({"outcome": "late", "step": step})
        self._finish({"outcome": "refused", "step": step, "status": r.status_code, "body": r.text[:300]})

    def _step(self, method: str, url: str, name: str, ok: tuple[int, ...], step: str, **kw: Any) -> Any:
        """One request of the submission: a 5xx is a failure, a refusal ends this bidder's turn
        (named, as late or as refused), and the answer's JSON goes on."""
        with self.client.request(
            method, url, headers=self.h | kw.pop("headers", {}), name=name, catch_response=True, timeout=TIMEOUT, **kw
        ) as r:
            if r.status_code >= 500:
                r.failure(f"5xx {r.status_code}")
            else:
                r.success()
            if r.status_code not in ok:
                self._refused(r, step)
            return r.json()

    @task
    def submit(self) -> None:
        me = self.me
        for path in random.sample(PLAN["reads"], 2):
            self.client.get(path, name="portal read", timeout=TIMEOUT)
        self._step("POST", f"/api/v1/tenders/{me['tender']}/interest", "register", (200, 201), "register")
        init = {"tender": me["tender"], "lot": 1, "size": me["size"], "head": me["head"]}
        up = self._step("POST", "/api/v1/bids/uploads", "upload init", (201,), "init", json=init)
        ps, base = up["part_size"], f"/api/v1/bids/uploads/{up['upload_id']}"
        for n, prefix in enumerate(me["prefixes"], start=1):
            start = (n - 1) * ps
            body = Slice(me["sealed"], start, min(ps, me["size"] - start))
            headers = {"X-Prefix-SM3": prefix, "Content-Type": "application/octet-stream"}
            self._step("PUT", f"{base}/parts/{n}", "upload part", (200,), f"part {n}", data=body, headers=headers)
        got = self._step("POST", f"{base}/complete", "upload complete", (201,), "complete")
        self._finish({"outcome": "accepted", "sm3": got["ciphertext_sm3"], "received_at": got["received_at"]})


class Reader(HttpUser):
    """The public reading the portal: ``read_rps`` requests/s over all readers together."""

    fixed_count = PLAN["readers"]
    wait_time = constant_throughput(PLAN["read_rps"] / max(1, PLAN["readers"]))

    @task
    def read(self) -> None:
        self.client.get(random.choice(PLAN["reads"]), name="portal read", timeout=TIMEOUT)
