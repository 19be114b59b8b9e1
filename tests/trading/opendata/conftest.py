"""One demo for the open-data tests (``ggzy demo --no-serve``, as tests/trading/test_demo.py plays
it; its history already publishes releases, as the scheduler would have), swept once more into OCDS
releases; a copy of its database with no open data yet, for the tests that change data."""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
import sqlite3
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import clock
from tests.trading.test_cli import demo_environment
from trading.cli import main
from trading.core.config import Settings, load_settings
from trading.core.db import make_engine
from trading.opendata.models import OcdsRelease
from trading.opendata.publish import sweep

PREFIX = "ocds-test01"


@dataclasses.dataclass
class Demo:
    instance: pathlib.Path
    settings: Settings
    pristine: pathlib.Path  # the database with no open data yet
    made: int  # the releases of the demo

    def session(self) -> Session:
        return Session(make_engine(self.settings.database_url))

    def copy(self, to: pathlib.Path) -> str:
        """A database URL of a fresh copy of the unswept demo."""
        copy_database(self.pristine, to)
        return f"sqlite:///{to}"


def copy_database(src: pathlib.Path, to: pathlib.Path) -> None:
    """SQLite's backup: a file copy would miss what is still in the write-ahead log."""
    with contextlib.closing(sqlite3.connect(src)) as a, contextlib.closing(sqlite3.connect(to)) as b:
        a.backup(b)


def forget_open_data(path: pathlib.Path) -> None:
    """The demo's database as it was before any sweep (the audit trail keeps its ``ocds.*`` events,
    which no sweep reads)."""
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        for table in ("ocds_release", "ocds_cursor", "ocds_held", "ocds_bulk"):
            db.execute(f"DELETE FROM {table}")


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    inst = tmp_path_factory.mktemp("ocds-demo") / "instance"
    with pytest.MonkeyPatch.context() as mp:
        demo_environment(mp, inst)
        mp.setenv("OCDS_OCID_PREFIX", PREFIX)
        mp.chdir(inst.parent)
        r = CliRunner().invoke(main, ["demo", "--no-serve"])
    assert r.exit_code == 0, r.output
    pristine = inst.parent / "pristine.db"
    copy_database(inst / "ggzy.db", pristine)
    forget_open_data(pristine)
    env = {"GGZY_ENV": "demo", "GGZY_INSTANCE": str(inst), "OCDS_OCID_PREFIX": PREFIX}
    env |= {"ARGON2_MEMORY_KIB": "8", "ARGON2_TIME_COST": "1"}
    settings = load_settings(env)
    engine = make_engine(settings.database_url)
    with Session(engine) as s:
        sweep(s, settings.ocds_ocid_prefix, clock.now())
        made = s.scalar(select(func.count()).select_from(OcdsRelease)) or 0
    engine.dispose()
    return Demo(inst, settings, pristine, made)


@pytest.fixture(scope="session")
def demo_app(demo: Demo) -> Iterator[Flask]:
    from trading.app import create_app

    app = create_app(demo.settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["ggzy.db"].engine.dispose()
