"""Key files at rest: PBKDF2-HMAC-SHA256 at today's work factor, one minimum password length, and
files from older tools (2,048 iterations) still read."""

from __future__ import annotations

import pathlib
import subprocess

import pytest
from tongsuopy.crypto import serialization as ser

from signing.errors import WeakPassword
from signing.sm2 import (
    KEY_FILE_ITERATIONS,
    MIN_KEY_PASSWORD_CHARS,
    PrivateKey,
    PublicKey,
    check_key_password,
    key_file_iterations,
)

KEY = PrivateKey.generate()
PW = b"correct horse battery"


def test_the_default_work_factor_is_owasp_2023_and_openssl_reads_it(tmp_path: pathlib.Path) -> None:
    pem = KEY.to_pem(PW)  # the default, as ggzy-bid keygen writes it: the one slow test
    assert KEY_FILE_ITERATIONS >= 600_000
    assert key_file_iterations(pem) == KEY_FILE_ITERATIONS
    (tmp_path / "k.pem").write_bytes(pem)
    out = subprocess.run(
        ["openssl", "pkey", "-in", str(tmp_path / "k.pem"), "-passin", f"pass:{PW.decode()}", "-pubout"],
        capture_output=True,
        check=True,
    ).stdout
    assert PublicKey.from_pem(out) == KEY.public_key
    parsed = subprocess.run(
        ["openssl", "asn1parse", "-in", str(tmp_path / "k.pem")], capture_output=True, check=True, text=True
    ).stdout
    assert "PBKDF2" in parsed and "hmacWithSHA256" in parsed and "aes-256-cbc" in parsed


def test_a_lowered_count_is_honoured_and_read_back() -> None:
    pem = KEY.to_pem(PW, iterations=1000)
    assert key_file_iterations(pem) == 1000
    assert PrivateKey.from_pem(pem, PW).public_key == KEY.public_key
    assert key_file_iterations(KEY.to_der(PW, iterations=1000)) == 1000
    assert key_file_iterations(KEY.to_pem()) is None


@pytest.mark.parametrize("password", [b"x", b"short-pw", "十一个汉字的口令不够长".encode()])
def test_short_passwords_are_refused_for_every_encrypted_form(password: bytes) -> None:
    assert len(password.decode()) < MIN_KEY_PASSWORD_CHARS
    for write in (KEY.to_pem, KEY.to_der):
        with pytest.raises(WeakPassword):
            write(password, iterations=1000)
    with pytest.raises(WeakPassword):
        check_key_password(password)


def test_twelve_characters_of_any_script_are_enough() -> None:
    check_key_password("十二个汉字组成的私钥口令足够".encode())
    check_key_password(b"a" * MIN_KEY_PASSWORD_CHARS)


def test_files_of_the_old_tool_are_still_read(tmp_path: pathlib.Path) -> None:
    # what ggzy-bid keygen wrote before (tongsuopy's BestAvailableEncryption: 2,048 iterations)
    old = KEY._key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.BestAvailableEncryption(b"pw"))
    assert key_file_iterations(old) == 2048
    assert PrivateKey.from_pem(old, b"pw").public_key == KEY.public_key
