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
