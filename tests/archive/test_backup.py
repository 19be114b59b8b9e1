"""``ggzy backup`` and ``ggzy restore`` of a platform that has run a whole tender up to its archive
package (PostgreSQL, the archive in an S3 bucket with object lock through the minio SDK): restored
into an empty database and empty stores, the audit log and the package verify there; a damaged
backup, or a database or store that is not empty, is refused before anything is written."""

from __future__ import annotations

import json
import pathlib
import shutil
import uuid
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, inspect, text

from archive.objectstore.factory import open_store
from signing.digest import sm3_hex
from tests.archive.test_package import built  # noqa: F401  (the fixture: one whole tender, archived)
from tests.conftest import fresh_pg_database
from trading.cli import main

pytestmark = pytest.mark.integration


def ggzy(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def tables(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


def elsewhere(tender: dict[str, Any], tmp: pathlib.Path, url: str, s3: str) -> dict[str, str]:
    """Another deployment: its own empty database, instance folder and archive bucket, the same
    platform keys (which a backup does not hold)."""
    return {
        **tender["env"],
        "GGZY_INSTANCE": str(tmp / "instance"),
        "DATABASE_URL": url,
        "ARCHIVE_STORE_URL": f"minio://ak:sk@{s3}/restored-{uuid.uuid4().hex[:8]}?lock=1",
        "PLATFORM_KEYS_DIR": str(tender["inst"] / "ca"),
    }


@pytest.mark.parametrize("built", ["minio"], indirect=True)
def test_a_backup_restored_into_an_empty_platform_verifies(
    built: dict[str, Any],  # noqa: F811
    s3_server: str,
    tmp_path: pathlib.Path,
) -> None:
    backup = tmp_path / "backup"
    took = ggzy(built["env"], "backup", str(backup))
    assert took.exit_code == 0, took.output
    assert "档案存储 " in took.output and (backup / "manifest.json").is_file()
    with pytest.raises(Exception):  # noqa: B017  (a second backup into the same folder)
        assert ggzy(built["env"], "backup", str(backup)).exit_code == 0

    with fresh_pg_database("ggzy_restored") as url:
        env = elsewhere(built, tmp_path / "b", url, s3_server)
        done = ggzy(env, "restore", str(backup))
        assert done.exit_code == 0, done.output
        for check in (("audit", "verify"), ("archive", "verify-log"), ("archive", "verify", str(built["id"]))):
            r = ggzy(env, *check)
            assert r.exit_code == 0, f"{check}: {r.output}"
        engine = create_engine(url)
        with engine.connect() as c:
            restored_head = c.execute(text("SELECT seq, chain_hash FROM audit_head")).one()
        engine.dispose()
        engine = create_engine(built["env"]["DATABASE_URL"])
        with engine.connect() as c:
            package = c.execute(
                text("SELECT object_key FROM archive_package WHERE id = :i"), {"i": built["id"]}
            ).scalar()
        engine.dispose()
        assert restored_head[0] >= 1
        restored = open_store(env["ARCHIVE_STORE_URL"])
        assert restored.read_bytes(str(package)) == built["data"]  # the package itself, retained there
        stat = restored.stat(str(package))
        assert stat is not None and stat.retain_until is not None

        again = ggzy(env, "restore", str(backup))  # into what is no longer empty
        assert again.exit_code == 1 and "空数据库" in again.output


@pytest.mark.parametrize("built", ["minio"], indirect=True)
def test_a_damaged_backup_is_refused_before_anything_is_written(
    built: dict[str, Any],  # noqa: F811
    s3_server: str,
    tmp_path: pathlib.Path,
) -> None:
    backup = tmp_path / "backup"
    assert ggzy(built["env"], "backup", str(backup)).exit_code == 0
    damaged = tmp_path / "damaged"
    shutil.copytree(backup, damaged)
    victim = sorted((damaged / "archive").rglob("*"))[-1]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    unfinished = tmp_path / "unfinished"
    shutil.copytree(backup, unfinished)
    (unfinished / "manifest.sig").unlink()
    edited = tmp_path / "edited"  # a dump of the attacker's, and the manifest made to match it
    shutil.copytree(backup, edited)
    manifest = json.loads((edited / "manifest.json").read_text(encoding="utf-8"))
    (edited / "database.dump").write_bytes(b"PGDMP not ours")
    manifest["database"] |= {"size": 14, "sm3": sm3_hex(b"PGDMP not ours")}
    (edited / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")

    with fresh_pg_database("ggzy_restored") as url:
        env = elsewhere(built, tmp_path / "b", url, s3_server)
        for src, said in ((damaged, "已损坏"), (unfinished, "没有做完"), (edited, "不是本平台")):
            r = ggzy(env, "restore", str(src))
            assert r.exit_code == 1 and said in r.output, r.output
        other = {**env, "PLATFORM_KEYS_DIR": str(tmp_path / "other-keys")}  # another platform's keys
        made = ggzy({**other, "GGZY_INSTANCE": str(tmp_path / "other"), "DATABASE_URL": ""}, "init")
        assert made.exit_code == 0, made.output
        r = ggzy(other, "restore", str(backup))
        assert r.exit_code == 1 and "不是本平台" in r.output, r.output
        assert tables(url) == []
        assert list(open_store(env["ARCHIVE_STORE_URL"]).list()) == []
        assert not (tmp_path / "b" / "instance" / "objects").exists() or not any(
            (tmp_path / "b" / "instance" / "objects").rglob("*")
        )


def test_the_embedded_platform_backs_up_and_restores_on_sqlite(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded default (SQLite, the filesystem stores): an audited, checkpointed log and a
    retained archive object come back whole in another instance folder."""
    import datetime as dt

    from archive import clock
    from archive.audit import ActorRef, record_event
    from trading.audit.tasks import sign_checkpoints_job
    from trading.cli.common import database
    from trading.core.config import load_settings
    from trading.core.services import Services

    first = {"GGZY_ENV": "test", "GGZY_INSTANCE": str(tmp_path / "a"), "PLATFORM_KEYS_DIR": str(tmp_path / "keys")}
    for var in ("DATABASE_URL", "OBJECT_STORE_URL", "ARCHIVE_STORE_URL", "SECRET_KEY"):
        first[var] = ""
    assert ggzy(first, "init").exit_code == 0
    monkeypatch.setenv("PLATFORM_KEYS_DIR", first["PLATFORM_KEYS_DIR"])  # for the calls made here
    settings = load_settings(first)
    services, db = Services(settings), database(settings)
    kept = services.archive_store.put_bytes("<b>档案</b>".encode())
    services.archive_store.set_retention(kept.key, clock.now() + dt.timedelta(days=3650))
    services.store.put_bytes(b"a bid file")
    with db.session() as s:
        for i in range(5):
            record_event(s, ActorRef("cli:test", "admin"), "test.event", ("test", str(i)), {"i": i})
    with db.session() as s:
        assert sign_checkpoints_job(s, clock.now(), services) >= 1
    db.engine.dispose()
    assert ggzy(first, "backup", str(tmp_path / "backup")).exit_code == 0

    second = {**first, "GGZY_INSTANCE": str(tmp_path / "b")}
    r = ggzy(second, "restore", str(tmp_path / "backup"))
    assert r.exit_code == 0, r.output
    assert "审计日志 " in r.output
    for check in (("audit", "verify"), ("archive", "verify-log")):
        r = ggzy(second, *check)
        assert r.exit_code == 0, f"{check}: {r.output}"
    restored = Services(load_settings(second)).archive_store
    assert restored.read_bytes(kept.key) == "<b>档案</b>".encode()
    stat = restored.stat(kept.key)
    assert stat is not None and stat.retain_until is not None
    assert ggzy(second, "restore", str(tmp_path / "backup")).exit_code == 1  # no longer empty
