"""One demo for the open-data tests (``ggzy demo --no-serve``, as tests/trading/test_demo.py plays
it), swept once into OCDS releases; a copy of its database from before the sweep, for the tests
that change data."""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
import sqlite3
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy.orm import Session

from archive import clock
from tests.trading.test_cli import demo_environment
from trading.cli import main
from trading.core.config import Settings, load_settings
from trading.core.db import make_engine
from trading.opendata.publish import sweep

PREFIX = "ocds-test01"


@dataclasses.dataclass
class Demo:
    instance: pathlib.Path
    settings: Settings
    pristine: pathlib.Path  # the database before any sweep
    made: int

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


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    inst = tmp_path_factory.mktemp("ocds-demo") / "instance"
    with pytest.MonkeyPatch.context() as mp:
        demo_environment(mp, inst)
        mp.chdir(inst.parent)
        r = CliRunner().invoke(main, ["demo", "--no-serve"])
    assert r.exit_code == 0, r.output
    pristine = inst.parent / "pristine.db"
    copy_database(inst / "ggzy.db", pristine)
    env = {"GGZY_ENV": "demo", "GGZY_INSTANCE": str(inst), "OCDS_OCID_PREFIX": PREFIX}
    env |= {"ARGON2_MEMORY_KIB": "8", "ARGON2_TIME_COST": "1"}
    settings = load_settings(env)
    engine = make_engine(settings.database_url)
    with Session(engine) as s:
        made = sweep(s, settings.ocds_ocid_prefix, clock.now())
    engine.dispose()
    return Demo(inst, settings, pristine, made)


@pytest.fixture(scope="session")
def demo_app(demo: Demo) -> Iterator[Flask]:
    from trading.app import create_app

    app = create_app(demo.settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["ggzy.db"].engine.dispose()
