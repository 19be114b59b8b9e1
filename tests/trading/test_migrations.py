"""The schema comes only from migrations: they match the models, and downgrade really works."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from tests.conftest import fresh_pg_database
from trading.core.db import downgrade, make_engine, upgrade
from trading.models import METADATAS


def _check(url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), METADATAS)
    assert diff == [], diff
    downgrade(url, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(url)
    with engine.connect() as conn:
        assert conn.execute(text("select seq from audit_head where id = 1")).scalar_one() == 0
        assert conn.execute(text("select holder from scheduler_lease where id = 1")).scalar_one() == ""
    engine.dispose()


def test_sqlite_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _check(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.integration
def test_postgresql_round_trip() -> None:
    with fresh_pg_database("ggzy_mig") as url:
        _check(url)


def _lot_in_its_opening(url: str) -> None:
    """A tender whose lot's ceremony is signing in, as 0018 left such a lot (status "bidding")."""
    import datetime as dt

    from sqlalchemy.orm import Session as OrmSession

    from archive import clock
    from tests.factories import make_user, tender_body
    from trading.accounts.models import Role
    from trading.opening.models import Ceremony, Stage
    from trading.tenders.drafting import create_tender
    from trading.tenders.schemas import TenderIn

    engine = make_engine(url)
    with OrmSession(engine) as s:
        user = make_user(s, Role.TENDEREE)
        tender = create_tender(s, user, TenderIn(**tender_body(clock.now() + dt.timedelta(days=30))))
        lot = tender.lots[0]
        s.add(
            Ceremony(
                tender_id=tender.id,
                lot_id=lot.id,
                stage=Stage.SIGN_IN,
                stage_started_at=clock.now(),
                windows={},
                public_key=b"\x04" + bytes(64),
            )
        )
        s.commit()
    engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_0019_names_a_lot_caught_in_its_opening_both_ways(tmp_path, kind: str) -> None:  # type: ignore[no-untyped-def]
    """With rows that point at ``lot`` (its ceremony), the table is rebuilt on SQLite (foreign keys
    off for the migration, checked after it) and the lot's status follows its ceremony."""

    def status(url: str) -> str:
        engine = make_engine(url)
        with engine.connect() as conn:
            found = conn.execute(text("select status from lot")).scalar_one()
        engine.dispose()
        return str(found)

    def run(url: str) -> None:
        upgrade(url)
        _lot_in_its_opening(url)
        engine = make_engine(url)
        with engine.begin() as conn:  # as 0018 knew it
            conn.execute(text("update lot set status = 'opening'"))
        engine.dispose()
        downgrade(url, "0018")
        assert status(url) == "bidding"
        upgrade(url)
        assert status(url) == "opening"

    if kind == "sqlite":
        run(f"sqlite:///{tmp_path / 'm.db'}")
    else:
        with fresh_pg_database("ggzy_mig19") as url:
            run(url)
