"""A newcomer follows only docs/bidders.md against the demo: the test runs the guide's ``sh`` blocks,
in order, in one shell state (each block's exports, functions and directory carry over), against a
finished ``ggzy demo`` served in a thread of this process. Where the guide tells a person to wait
(for the reference issuer, the deadline, the host), a ``<!-- docs-test: … -->`` mark tells the test
what the world does there: it moves the platform clock past the deadline and plays the host
through the room API. A wrong command, option, path or value in the guide fails the test."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from archive import clock
from bidding.client import Client
from tests.e2e.conftest import LiveServer, demo_environment

GUIDE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "bidders.md"
DOC_SERVER = "http://127.0.0.1:5000"
MARKS = ["issuer", "deadline", "stage decrypting", "stage confirming", "stage closed"]

Step = tuple[str, str]  # ("sh", commands) or ("mark", what the world does)


def guide_steps(text: str) -> list[Step]:
    """The guide's runnable blocks and marks, in order (other fenced blocks are illustrations)."""
    steps: list[Step] = []
    for m in re.finditer(r"^```sh\n(.*?)^```$|<!-- docs-test: ([a-z ]+) -->", text, re.S | re.M):
        steps.append(("sh", m.group(1)) if m.group(1) is not None else ("mark", m.group(2)))
    return steps


class OffsetClock:
    """Real time plus an offset the test moves forward, so the server sees the deadline arrive
    without waiting for it and never sees time go back."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset


@pytest.fixture
def demo(tmp_path: pathlib.Path) -> Iterator[dict[str, Any]]:
    """``ggzy demo --no-serve`` on SQLite, served by the app in a thread under a movable clock, with
    the decryption worker's loop in another thread (``ggzy serve`` starts it as processes)."""
    from trading.app import create_app
    from trading.core.config import load_settings
    from trading.core.services import services
    from trading.opening.decryption import run_pending

    inst = tmp_path / "instance"
    env = demo_environment(inst, f"sqlite:///{inst / 'ggzy.db'}", tmp_path / "unused.json")
    out = subprocess.run(
        [sys.executable, "-m", "trading.cli", "demo", "--no-serve"], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
    app = create_app(load_settings({k: env[k] for k in ("GGZY_ENV", "GGZY_INSTANCE", "DATABASE_URL")}))
    moved = OffsetClock()
    stop = threading.Event()

    def worker() -> None:
        while not stop.wait(0.2):
            run_pending(app.extensions["ggzy.db"], services(app), "docs-test")

    clock.set_clock(moved)
    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    try:
        with LiveServer(app) as srv:
            yield {"app": app, "inst": inst, "url": srv.url, "clock": moved, "printed": out.stdout}
    finally:
        stop.set()
        thread.join(10)
        clock.set_clock(None)
        app.extensions["ggzy.db"].engine.dispose()


class Shell:
    """Runs blocks as a person does in one terminal: exports, functions and ``cd`` carry over."""

    def __init__(self, work: pathlib.Path, env: dict[str, str]) -> None:
        self.work, self.env = work, env
        self.state = work.parent / "shell-state.sh"
        self.state.write_text("")
        self.cwd = work
        self.outputs: list[str] = []

    def run(self, block: str) -> str:
        script = (
            f"source {self.state}\nset -euo pipefail\n{block}\n"
            f"{{ export -p; declare -f; }} > {self.state}.next\npwd > {self.state}.cwd\n"
        )
        r = subprocess.run(
            ["bash", "-c", script],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 0, (
            f"the guide's block failed ({r.returncode}):\n{block}\n--- out\n{r.stdout}\n--- err\n{r.stderr}"
        )
        pathlib.Path(f"{self.state}.next").replace(self.state)
        self.cwd = pathlib.Path(pathlib.Path(f"{self.state}.cwd").read_text().strip())
        self.outputs.append(r.stdout)
        return r.stdout


def open_tender(app: Any) -> str:
    """The demo's tender taking bids (the one ``make demo`` prints with its near deadline)."""
    from trading.tenders.models import Tender, TenderState

    with app.extensions["ggzy.db"].session() as s:
        code = s.scalar(
            select(Tender.code)
            .where(Tender.status == TenderState.PUBLISHED, Tender.bid_deadline > clock.now())
            .order_by(Tender.bid_deadline)
            .limit(1)
        )
    assert isinstance(code, str), "the demo has no tender taking bids"
    return code


class World:
    """What happens while the guide tells its reader to wait: the demo's issuer answers, the
    deadline arrives, and the opening's host (交易中心 staff) moves the room, played through the
    room API as the guide asks a person to do on the room page."""

    def __init__(self, demo: dict[str, Any], code: str, staff_password: str, env: dict[str, str]) -> None:
        self.demo, self.code, self.env = demo, code, env
        self.api = Client(demo["url"])
        self.api.login("staff", staff_password)

    def room(self) -> dict[str, Any]:
        items = self.api.request("GET", f"/api/v1/tenders/{self.code}/ceremonies")["items"]
        found: dict[str, Any] = self.api.request("GET", f"/api/v1/ceremonies/{items[0]['id']}")
        return found

    def play(self, mark: str) -> None:
        if mark == "issuer":
            self.issuer_answers()
        elif mark == "deadline":
            self.deadline_arrives()
        else:
            self.host_moves_to(mark.removeprefix("stage "))

    def issuer_answers(self) -> None:
        """``make demo`` runs the reference issuer; here it polls once."""
        keys = self.demo["inst"] / "demo-keys" / "issuer"
        command = [sys.executable, "-m", "infra.reference_issuer.issuer", "--server", self.demo["url"]]
        command += ["--username", "issuer", "--keys", str(keys), "--once"]
        r = subprocess.run(
            command,
            env=self.env | {"GGZY_KEY_PASSWORD": "demo-key-password"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stdout + r.stderr

    def deadline_arrives(self) -> None:
        from trading.tenders.models import Tender

        with self.demo["app"].extensions["ggzy.db"].session() as s:
            deadline = s.scalar(select(Tender.bid_deadline).where(Tender.code == self.code))
        assert deadline is not None
        self.demo["clock"].offset = clock.as_utc(deadline) - dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)

    def host_moves_to(self, stage: str) -> None:
        room = self.room()
        for _ in range(4):
            if room["stage"] == stage:
                return
            for o in room.get("objections") or []:  # the guide: the host answers, then closes
                if not o.get("answer"):
                    self.api.request(
                        "POST", f"/api/v1/ceremonies/{room['id']}/objections/{o['id']}/answer", {"answer": "已核对。"}
                    )
            self.api.request("POST", f"/api/v1/ceremonies/{room['id']}/stages/{room['next_stages'][0]}")
            room = self.room()
        raise AssertionError(f"the room did not reach {stage}: {room['stage']}")


def test_a_newcomer_bids_and_opens_with_only_the_bidders_guide(demo: dict[str, Any], tmp_path: pathlib.Path) -> None:
    steps = guide_steps(GUIDE.read_text(encoding="utf-8"))
    assert [s for kind, s in steps if kind == "mark"] == MARKS, "the guide's waiting points moved"
    inst = demo["inst"]
    accounts = dict(line.split("\t")[:2] for line in (inst / "demo-accounts.txt").read_text().splitlines())
    code = open_tender(demo["app"])
    assert code in demo["printed"]  # the guide says to take it from what make demo prints

    work = tmp_path / "repo"  # the reader's repository folder: its instance/ is the demo's
    work.mkdir()
    (work / "instance").symlink_to(inst)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GGZY_", "DATABASE_URL"))}
    env |= {
        "HOME": str(tmp_path / "home"),  # ggzy-bid's default config goes here, not the real home
        "PATH": f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "GGZY_NO_PROGRESS": "1",
    }
    shell = Shell(work, env)
    world = World(demo, code, accounts["staff"], env)
    fill = {DOC_SERVER: demo["url"], "<项目编号>": code}
    for kind, body in steps:
        if kind == "mark":
            world.play(body)
            continue
        for placeholder, value in fill.items():
            body = body.replace(placeholder, value)
        left = re.findall(r"<[^<>\s]*[\u4e00-\u9fff][^<>\s]*>", body)
        assert not left, f"a placeholder the guide does not explain: {left}"
        shell.run(body)

    said = "\n".join(shell.outputs)
    for done in (
        "已登记，无需重复",
        "无需重复",
        "已提问",
        "投标成功",
        "回执有效",
        "已签到",
        "解密成功",
        "已确认开标记录",
    ):
        assert done in said, f"the guide's round never printed {done}"
    assert said.count("异议已提交") == 2  # in the opening and to the publicity
    # what the guide's commands left on the platform: its question, and bidder2's objection to the publicity
    asked = world.api.request("GET", f"/api/v1/tenders/{code}/questions")["items"]
    assert "第三章工程量清单中的暂列金额是否计入投标报价？" in [q["text"] for q in asked]
    objections = world.api.request("GET", "/api/v1/evaluations/1/publicity")["objections"]
    assert any("项目经理证书已过期" in o["text"] for o in objections)
    room = world.room()
    assert room["stage"] == "closed"
    final = world.api.request("GET", f"/api/v1/ceremonies/{room['id']}/record.json?final=1")
    mine = next(b for b in final["bidders"] if b["credit_code"] == "91350100070000005F")
    assert mine["signed_in_at"] and mine["outcome"] == "decrypted" and mine["confirmation"]["kind"] == "signed"
    assert mine["bond"]["status"] == "satisfied"  # the e-guarantee the guide applied for, verified
    assert [b["outcome"] for b in final["bidders"]] == ["decrypted"] * 3  # the room opened all three
