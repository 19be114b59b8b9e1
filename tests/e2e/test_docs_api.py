"""An outsider drives a whole tender with only docs/api.md: the test runs the guide's ``sh`` blocks,
in order, in one shell state, against a finished ``ggzy demo`` served in a thread under a movable
clock (the fixture and the shell of tests/e2e/test_docs_bidders.py). Where the guide waits, a
``<!-- docs-test: … -->`` mark tells the test what the world does: the bid deadline arrives, the
publicity's days run out, the scheduler builds the archive package. Then it checks, as an outsider
would, what the guide left behind: the opening record the reader downloaded against its signature."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import re
import sys
from typing import Any

from sqlalchemy import select

from archive import clock
from signing.certs import Certificate
from signing.digest import sm3_hex
from signing.statements import SignedStatement
from tests.e2e import test_docs_bidders as bidders_guide
from tests.e2e.test_docs_bidders import DOC_SERVER, Shell, guide_steps

GUIDE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "api.md"
MARKS = ["deadline", "publicity ends", "archive"]
demo = bidders_guide.demo  # the same fixture: a finished demo, served under a movable clock


class World:
    """What happens while the guide waits: time passes, and the scheduler runs."""

    def __init__(self, demo: dict[str, Any]) -> None:
        self.demo = demo
        self.db = demo["app"].extensions["ggzy.db"]

    def play(self, mark: str) -> None:
        from trading.evaluation.models import Evaluation
        from trading.tenders.models import Tender

        if mark == "archive":
            self.archive()
            return
        with self.db.session() as s:  # read, and end the read before the server writes (SQLite)
            if mark == "deadline":
                when = s.scalars(select(Tender.bid_deadline).order_by(Tender.id.desc()).limit(1)).one()
            else:
                when = s.scalars(select(Evaluation.publicity_ends_at).order_by(Evaluation.id.desc()).limit(1)).one()
        assert when is not None, f"nothing to wait for at {mark}"
        self.move_to(when)

    def move_to(self, when: dt.datetime) -> None:
        moved = self.demo["clock"]
        offset = clock.as_utc(when) - dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        moved.offset = max(moved.offset, offset)  # the platform's time never goes back

    def archive(self) -> None:
        """The scheduler's jobs a minute later: the award's checkpoint signed, the package built."""
        from trading.archives.building import build_due
        from trading.audit.tasks import sign_checkpoints_job
        from trading.core.services import services

        app = self.demo["app"]
        for job in (sign_checkpoints_job, lambda s, now, svc: build_due(s, svc, now)):
            with self.db.session() as s:
                job(s, clock.now(), services(app))
                s.commit()


def test_an_outsider_drives_a_whole_tender_with_only_the_api_guide(
    demo: dict[str, Any], tmp_path: pathlib.Path
) -> None:
    steps = guide_steps(GUIDE.read_text(encoding="utf-8"))
    assert [s for kind, s in steps if kind == "mark"] == MARKS, "the guide's waiting points moved"
    work = tmp_path / "repo"  # the reader's repository folder: its instance/ is the demo's
    work.mkdir()
    (work / "instance").symlink_to(demo["inst"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GGZY_", "DATABASE_URL"))}
    env |= {
        "HOME": str(tmp_path / "home"),
        "PATH": f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "GGZY_NO_PROGRESS": "1",
    }
    shell, world = Shell(work, env), World(demo)
    for kind, body in steps:
        if kind == "mark":
            world.play(body)
            continue
        body = body.replace(DOC_SERVER, demo["url"])
        assert not re.findall(r"<[^<>\s]*[\u4e00-\u9fff][^<>\s]*>", body), "a placeholder in a runnable block"
        shell.run(body)

    said = "\n".join(shell.outputs)
    for done in ("stage_not_next", "已签到", "解密成功", "已确认开标记录", "开标记录与签名一致"):
        assert done in said, f"the guide's round never printed {done}"
    assert '"stage":"closed","next_stages":[]' in said
    assert "awarded" in said  # the tenderee's award, and the final package's end state
    assert "档案包核验通过" in said  # the supervisor's verification of the final package

    # what the reader downloaded, checked again as any outsider would (not with the shell's tools)
    folder = work / "api-walkthrough"
    platform = Certificate.load((folder / "platform.pem").read_bytes())
    statement = SignedStatement.from_json((folder / "record.sig").read_bytes())
    body = statement.verify(trusted=platform, expected_type="opening_record")["body"]
    assert body["record_sm3"] == sm3_hex((folder / "record.json").read_bytes())
    assert body["pdf_sm3"] == sm3_hex((folder / "record.pdf").read_bytes())
    assert (folder / "中标通知书.pdf").read_bytes().startswith(b"%PDF")
