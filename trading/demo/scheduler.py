"""The platform's scheduler in the demo. During the history its jobs run at the moments the real
scheduler would have run them (``History``), so what they make (checkpoints, archive packages,
released guarantees) is made by the platform's own code at an instant that happened. While the demo
serves, its scheduler process is ``ggzy scheduler`` with APScheduler's own English warnings kept
out of the demo's terminal (``python -m trading.demo.scheduler``)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from flask import Flask

from archive.clock import FrozenClock
from trading.app import import_job_modules
from trading.core.scheduler import LeaseScheduler
from trading.core.services import services


class History:
    """The scheduler as it ran during the history: one holder of the lease, each job run when told
    (the moment is the history's frozen clock, moved on by the job's own interval or so)."""

    def __init__(self, app: Flask) -> None:
        import_job_modules()
        self.scheduler = LeaseScheduler(app.extensions["ggzy.db"], services=services(app))

    def run(self, moment: FrozenClock, name: str, after_seconds: float) -> int:
        """``name``'s sweep ``after_seconds`` on; a job that failed stops the demo (it never would
        silently lack what the platform should have made)."""
        moment.advance(seconds=after_seconds)
        changed = self.scheduler.run_job(name)
        if changed is None:
            raise RuntimeError(f"demo: the scheduler's {name} failed at {moment.current}")
        return changed

    def archive(self, moment: FrozenClock) -> None:
        """What follows a closed opening or an award within seconds: the checkpoint asked for is
        signed (every 2 s), then the lot's archive package is built over it (every 10 s); within the
        minute, the open-data releases of what happened."""
        self.run(moment, "sign_checkpoints", 2)
        self.run(moment, "build_archives", 8)
        self.run(moment, "ocds_releases", 50)

    def open_data(self, moment: FrozenClock) -> None:
        """Within the minute after a public act (a publicity), its open-data release."""
        self.run(moment, "ocds_releases", 50)

    def finish(self, moment: FrozenClock) -> None:
        """The end of the history: the time-limit clocks and the statistics' facts of all that
        happened (their sweeps measure the whole log from the first run), the open data of what happened last, the bulk files of the
        days that are over (so the open-data page lists some), and the national exchange records of
        what the last public checkpoint covers (the served demo's scheduler pushes them)."""
        self.run(moment, "credit_proposals", 30)
        self.run(moment, "supervision_clocks", 30)
        self.run(moment, "supervision_facts", 30)
        self.run(moment, "ocds_releases", 60)
        self.run(moment, "ocds_bulk", 1)
        self.run(moment, "sign_checkpoints", 2)
        self.run(moment, "exchange_push", 8)


def main(argv: Sequence[str] | None = None) -> None:
    """``ggzy scheduler`` for the served demo. APScheduler warns in English when a job's run is
    skipped because the previous one still runs (a loaded machine; harmless: the sweep runs again at
    its next interval); the demo's terminal keeps what the demo told, in Chinese."""
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    from trading.cli import main as ggzy

    ggzy(["scheduler", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
