import pathlib
from typing import Any

import pytest

from trading.app import create_app
from trading.core.config import ConfigError, load_settings

PROD = {
    "GGZY_ENV": "production",
    "DATABASE_URL": "postgresql+psycopg://x/y",
    "OBJECT_STORE_URL": "minio://a:b@h/b",
    "ARCHIVE_STORE_URL": "minio://a:b@h/c",
}


@pytest.mark.parametrize("secret", ["", "demo", "changeme", "short-but-not-demo"])
def test_production_refuses_missing_or_demo_secret(secret: str, tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings(PROD | {"SECRET_KEY": secret, "GGZY_INSTANCE": str(tmp_path)})


def test_production_needs_real_stores(tmp_path: pathlib.Path) -> None:
    env = PROD | {"SECRET_KEY": "x" * 40, "GGZY_INSTANCE": str(tmp_path)}
    del env["OBJECT_STORE_URL"]
    with pytest.raises(ConfigError, match="OBJECT_STORE_URL"):
        load_settings(env)


def test_production_with_real_secret_starts(tmp_path: pathlib.Path) -> None:
    s = load_settings(PROD | {"SECRET_KEY": "k" * 40, "GGZY_INSTANCE": str(tmp_path)})
    assert s.is_production and s.secret_key == "k" * 40 and not s.scheduler_in_process


def test_demo_secret_is_random_per_instance(tmp_path: pathlib.Path) -> None:
    a = load_settings({"GGZY_INSTANCE": str(tmp_path / "a")})
    b = load_settings({"GGZY_INSTANCE": str(tmp_path / "b")})
    assert a.secret_key != b.secret_key and len(a.secret_key) >= 32
    assert load_settings({"GGZY_INSTANCE": str(tmp_path / "a")}).secret_key == a.secret_key
    assert (tmp_path / "a" / "secret_key").stat().st_mode & 0o077 == 0
    assert a.database_url.startswith("sqlite:///") and a.archive_retention_years == 15


def test_bad_values(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigError):
        load_settings({"GGZY_ENV": "staging", "GGZY_INSTANCE": str(tmp_path)})
    with pytest.raises(ConfigError, match="LOGIN_MAX_FAILURES"):
        load_settings({"LOGIN_MAX_FAILURES": "five", "GGZY_INSTANCE": str(tmp_path)})
    for threads in ("0", "-2", "65"):
        with pytest.raises(ConfigError, match="WEB_THREADS"):
            load_settings({"WEB_THREADS": threads, "GGZY_INSTANCE": str(tmp_path)})
    assert load_settings({"WEB_THREADS": "2", "GGZY_INSTANCE": str(tmp_path)}).web_threads == 2
    # the pages append /live/…: a trailing slash would make it //live/…
    assert load_settings({"LIVE_URL": "https://x.cn/", "GGZY_INSTANCE": str(tmp_path)}).live_url == "https://x.cn"
    for lease in ("4", "0", "3601", "soon"):
        with pytest.raises(ConfigError, match="SCHEDULER_LEASE_SECONDS"):
            load_settings({"SCHEDULER_LEASE_SECONDS": lease, "GGZY_INSTANCE": str(tmp_path)})
    assert load_settings({"GGZY_INSTANCE": str(tmp_path)}).scheduler_lease_seconds == 30
    for name, bad in (("DATABASE_POOL_SIZE", "0"), ("DATABASE_MAX_OVERFLOW", "-1"), ("DATABASE_POOL_SIZE", "201")):
        with pytest.raises(ConfigError, match=name):
            load_settings({name: bad, "GGZY_INSTANCE": str(tmp_path)})
    with pytest.raises(ConfigError, match="DATABASE_POOL_SIZE"):  # a setting passed in code is checked too
        load_settings({"GGZY_INSTANCE": str(tmp_path)}, database_pool_size=0)


def test_a_process_opens_at_most_its_pool(pg_url: str, tmp_path: pathlib.Path) -> None:
    """DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW bound one process's connections: the next
    checkout waits for one to come back rather than opening one more."""
    import threading

    from trading.core.db import Database

    s = load_settings(
        {"GGZY_INSTANCE": str(tmp_path), "DATABASE_URL": pg_url, "DATABASE_POOL_SIZE": "1"},
        database_max_overflow=1,
    )
    db = Database.of(s)
    held = [db.engine.connect(), db.engine.connect()]
    got: list[Any] = []
    third = threading.Thread(target=lambda: got.append(db.engine.connect()))
    try:
        third.start()
        third.join(0.5)
        assert third.is_alive() and not got  # waiting: a third connection was not opened
        held.pop().close()
        third.join(10)
        assert len(got) == 1
    finally:
        for c in [*held, *got]:
            c.close()
        db.engine.dispose()


def test_create_app_refuses_demo_secret_in_production(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in (PROD | {"SECRET_KEY": "demo", "GGZY_INSTANCE": str(tmp_path)}).items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError):
        create_app()


def test_a_rating_setting_out_of_bounds_refuses_to_start(tmp_path: pathlib.Path) -> None:
    from trading.app import create_app
    from trading.core.config import ConfigError, load_settings

    env = {"GGZY_ENV": "test", "GGZY_INSTANCE": str(tmp_path), "SECRET_KEY": "x" * 40}
    assert load_settings({**env, "GGZY_RATING_WINDOW": "3"}).ratings == {"GGZY_RATING_WINDOW": "3"}
    with pytest.raises(ConfigError, match="GGZY_RATING_THRESHOLD"):
        create_app(load_settings({**env, "GGZY_RATING_THRESHOLD": "5.5"}))
