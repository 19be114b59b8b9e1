"""``ggzy`` as operators run it: init, users, certificates (the demo, and what it leaves for ``ggzy audit
verify`` and ``ggzy-bid``: ``tests/trading/test_demo.py``)."""

from __future__ import annotations

import pathlib
import shutil

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, inspect, select

from archive.audit import AuditEvent
from tests.conftest import fresh_pg_database
from trading.cli import main
from trading.core.config import ConfigError


def demo_environment(monkeypatch: pytest.MonkeyPatch, inst: pathlib.Path) -> None:
    monkeypatch.setenv("GGZY_INSTANCE", str(inst))
    monkeypatch.setenv("GGZY_ENV", "demo")
    monkeypatch.setenv("ARGON2_MEMORY_KIB", "8")  # the test cost; the default is checked in test_accounts
    monkeypatch.setenv("ARGON2_TIME_COST", "1")
    for var in ("DATABASE_URL", "OBJECT_STORE_URL", "ARCHIVE_STORE_URL", "SECRET_KEY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def instance(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    inst = tmp_path / "instance"
    demo_environment(monkeypatch, inst)
    return inst


def test_users_and_certificates(instance: pathlib.Path, tmp_path: pathlib.Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    r = runner.invoke(
        main,
        [
            "users",
            "add-org",
            "--name",
            "某公司",
            "--credit-code",
            "91350100M000100Y44",
            "--kind",
            "enterprise",
            "--region",
            "350100",
        ],
    )
    assert r.exit_code != 0 and "校验位错误" in r.output
    r = runner.invoke(
        main,
        [
            "users",
            "add-org",
            "--name",
            "某公司",
            "--credit-code",
            "91350100M000100Y43",
            "--kind",
            "enterprise",
            "--region",
            "350100",
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        main,
        ["users", "add", "--username", "zhangsan", "--name", "张三", "--org", "1", "--role", "bidder"],
        input="a long password\na long password\n",
    )
    assert r.exit_code == 0, r.output
    from signing.sm2 import PrivateKey

    (tmp_path / "k.pub").write_bytes(PrivateKey.generate().public_key.to_pem())
    r = runner.invoke(
        main,
        ["ca", "issue", str(tmp_path / "k.pub"), "--usage", "sign", "--cn", "张三", "--out", str(tmp_path / "k.crt")],
    )
    assert r.exit_code == 0, r.output
    (tmp_path / "bad.pub").write_bytes(b"not a key")
    r = runner.invoke(
        main,
        ["ca", "issue", str(tmp_path / "bad.pub"), "--usage", "sign", "--cn", "x", "--out", str(tmp_path / "bad.crt")],
    )
    assert r.exit_code != 0 and not (tmp_path / "bad.crt").exists()


def test_init_never_makes_new_keys_for_a_database_that_holds_a_trail(
    instance: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0  # pins its root certificate in the trail
    keys = instance / "ca"
    root = (keys / "root.crt").read_bytes()
    keys.rename(tmp_path / "ca-offline")  # a new host, or a lost keys folder
    r = runner.invoke(main, ["init"])
    assert r.exit_code == 1 and "离线备份" in r.output and "root.crt" in r.output, r.output
    assert not keys.exists()
    shutil.copytree(tmp_path / "ca-offline", keys)
    (keys / "kek.key").unlink()  # a partial restore: a new KEK would not open the old rows
    r = runner.invoke(main, ["init"])
    assert r.exit_code == 1 and "kek.key" in r.output, r.output
    assert not (keys / "kek.key").exists()

    other = tmp_path / "other"  # another instance's complete folder (staging's, say)
    monkeypatch.setenv("GGZY_INSTANCE", str(other))
    assert runner.invoke(main, ["init"]).exit_code == 0
    monkeypatch.setenv("GGZY_INSTANCE", str(instance))
    shutil.rmtree(keys)
    shutil.copytree(other / "ca", keys)
    r = runner.invoke(main, ["init"])
    assert r.exit_code == 2 and "不是本数据库审计日志记录的根证书" in r.output, r.output

    shutil.rmtree(keys)
    (tmp_path / "ca-offline").rename(keys)  # the keys put back: init is a no-op again
    assert runner.invoke(main, ["init"]).exit_code == 0
    assert (keys / "root.crt").read_bytes() == root


def test_init_names_a_partial_keys_folder_and_an_unreachable_database(
    instance: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (instance / "ca").mkdir(parents=True)
    (instance / "ca" / "platform.key").write_bytes(b"left over")
    r = CliRunner().invoke(main, ["init"])
    assert r.exit_code == 1 and "不完整" in r.output and r.exception is not None, r.output
    assert not (instance / "ggzy.db").exists() and not (instance / "ca" / "root.crt").exists()
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:9/nope")
    r = CliRunner().invoke(main, ["init"])
    assert r.exit_code == 1 and "无法连接数据库" in r.output, r.output


def test_production_init_without_a_key_password_touches_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    with fresh_pg_database("ggzy_init_nopw") as url:
        for k, v in {
            "GGZY_ENV": "production",
            "GGZY_INSTANCE": str(tmp_path / "instance"),
            "DATABASE_URL": url,
            "OBJECT_STORE_URL": "minio://a:b@127.0.0.1:9/objects",
            "ARCHIVE_STORE_URL": "minio://a:b@127.0.0.1:9/archive",
            "SECRET_KEY": "x" * 40,
        }.items():
            monkeypatch.setenv(k, v)
        for var in ("PLATFORM_KEY_PASSWORD", "PLATFORM_KEYS_DIR"):
            monkeypatch.delenv(var, raising=False)
        r = CliRunner().invoke(main, ["init"])
        assert r.exit_code == 2 and "PLATFORM_KEY_PASSWORD" in r.output, r.output
        engine = create_engine(url)
        try:
            assert inspect(engine).get_table_names() == []  # no schema made before the refusal
        finally:
            engine.dispose()
        assert not (tmp_path / "instance" / "ca").exists()


def test_a_trail_from_before_the_pin_is_pinned_only_to_the_keys_that_signed_it(
    instance: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archive import transparency as log
    from archive.audit import SYSTEM, record_event
    from trading.cli.common import settings
    from trading.core.db import Database, upgrade
    from trading.core.platform_identity import PINNED
    from trading.core.platform_keys import ensure_platform_keys
    from trading.core.services import Services

    s = settings()  # a platform made before init pinned anything: events and a signed checkpoint
    upgrade(s.database_url)
    keys = ensure_platform_keys(s)
    with Database.of(s).session() as session:
        record_event(session, SYSTEM, "holiday.set", ("holiday", "2026-10-01"), {})
        log.request_checkpoint(session, "test_moment")
        log.sign_pending(session, keys.sign_key, keys.sign_cert)
    runner = CliRunner()
    monkeypatch.setenv("GGZY_INSTANCE", str(tmp_path / "other"))
    assert runner.invoke(main, ["init"]).exit_code == 0
    monkeypatch.setenv("GGZY_INSTANCE", str(instance))
    (instance / "ca").rename(tmp_path / "ca-own")
    shutil.copytree(tmp_path / "other" / "ca", instance / "ca")
    r = runner.invoke(main, ["init"])  # another instance's complete folder: its keys signed nothing here
    assert r.exit_code == 2 and "最近的签名检查点" in r.output, r.output
    shutil.rmtree(instance / "ca")
    (tmp_path / "ca-own").rename(instance / "ca")
    assert runner.invoke(main, ["init"]).exit_code == 0  # its own keys: pinned now
    with Database.of(s).session() as session:
        assert session.scalar(select(func.count()).where(AuditEvent.action == PINNED)) == 1

    # every process checks the pin before it signs: the app, the scheduler, the workers
    shutil.rmtree(instance / "ca")
    shutil.copytree(tmp_path / "other" / "ca", instance / "ca")
    with pytest.raises(ConfigError, match="不是本数据库审计日志记录的根证书"):
        _ = Services(settings()).keys
