"""``ggzy`` as operators run it: init, users, certificates (the demo, and what it leaves for ``ggzy audit
verify`` and ``ggzy-bid``: ``tests/trading/test_demo.py``)."""

from __future__ import annotations

import pathlib

import pytest
from click.testing import CliRunner

from trading.cli import main


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
