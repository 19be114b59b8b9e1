"""ggzy-bid's key files: one minimum password length from the prompt and from GGZY_KEY_PASSWORD,
today's work factor, and old (2,048-iteration) files read with a warning and re-saved by rekey."""

from __future__ import annotations

import pathlib

from click.testing import CliRunner
from tongsuopy.crypto import serialization as ser

from bidding.cli import main
from signing.sm2 import KEY_FILE_ITERATIONS, PrivateKey, key_file_iterations


def test_keygen_refuses_a_short_password_from_the_variable(tmp_path: pathlib.Path) -> None:
    r = CliRunner(env={"GGZY_KEY_PASSWORD": "x"}).invoke(main, ["keygen", "--out", str(tmp_path / "k")])
    assert r.exit_code == 2 and "weak_password" in r.output
    assert not list((tmp_path / "k").glob("*.key"))


def test_keygen_refuses_a_short_password_from_the_prompt(tmp_path: pathlib.Path) -> None:
    r = CliRunner(env={"GGZY_KEY_PASSWORD": ""}).invoke(
        main, ["keygen", "--out", str(tmp_path / "k")], input="eleven-char\neleven-char\n"
    )
    assert r.exit_code == 2 and "weak_password" in r.output
    assert not list((tmp_path / "k").glob("*.key"))


def test_keygen_writes_todays_work_factor(tmp_path: pathlib.Path) -> None:
    r = CliRunner(env={"GGZY_KEY_PASSWORD": "twelve-chars"}).invoke(main, ["keygen", "--out", str(tmp_path / "k")])
    assert r.exit_code == 0, r.output
    for name in ("sign.key", "enc.key"):
        assert key_file_iterations((tmp_path / "k" / name).read_bytes()) == KEY_FILE_ITERATIONS


def test_old_key_files_are_read_with_a_warning_and_rekey_upgrades_them(tmp_path: pathlib.Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    for kind in ("sign", "enc"):
        k = PrivateKey.generate()
        old = k._key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.BestAvailableEncryption(b"old"))
        (keys / f"{kind}.key").write_bytes(old)
        (keys / f"{kind}.pub").write_bytes(k.public_key.to_pem())
    runner = CliRunner(env={"GGZY_KEY_PASSWORD": "old", "GGZY_NEW_KEY_PASSWORD": "short"})
    r = runner.invoke(main, ["rekey", "--keys", str(keys)])
    assert "PBKDF2 2048" in r.output  # read, with a warning naming the remedy
    assert r.exit_code == 2 and "weak_password" in r.output
    assert key_file_iterations((keys / "sign.key").read_bytes()) == 2048  # untouched
    runner = CliRunner(env={"GGZY_KEY_PASSWORD": "old", "GGZY_NEW_KEY_PASSWORD": "a-new-long-password"})
    r = runner.invoke(main, ["rekey", "--keys", str(keys)])
    assert r.exit_code == 0, r.output
    for kind in ("sign", "enc"):
        data = (keys / f"{kind}.key").read_bytes()
        assert key_file_iterations(data) == KEY_FILE_ITERATIONS
        assert (keys / f"{kind}.key").stat().st_mode & 0o077 == 0
        pub = PrivateKey.from_pem(data, b"a-new-long-password").public_key.to_pem()
        assert pub == (keys / f"{kind}.pub").read_bytes()
