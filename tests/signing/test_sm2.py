"""SM2 round trips, bad input, OpenSSL interop both ways, and the gmssl cross-check."""

import pathlib
import subprocess

import pytest
from gmssl import sm2 as gm_sm2
from hypothesis import given, settings
from hypothesis import strategies as st

from signing.errors import DecryptionFailed, InvalidSignature, KeyFormatError, WrongPassword
from signing.sm2 import PrivateKey, PublicKey, der_to_raw

KEY = PrivateKey.generate()


def openssl(*args: str, input: bytes | None = None) -> bytes:
    return subprocess.run(["openssl", *args], check=True, capture_output=True, input=input).stdout


@given(st.binary(max_size=300))
@settings(max_examples=30, deadline=None)
def test_sign_verify_round_trip(msg: bytes) -> None:
    sig = KEY.sign(msg)
    KEY.public_key.verify(sig, msg)
    KEY.public_key.verify_raw(der_to_raw(sig), msg)
    with pytest.raises(InvalidSignature):
        KEY.public_key.verify(sig, msg + b"x")


def test_signatures_are_randomised() -> None:
    assert KEY.sign(b"m") != KEY.sign(b"m")


def test_custom_user_id_and_stream() -> None:
    import io

    sig = KEY.sign(b"hello", user_id=b"alice@example.cn")
    KEY.public_key.verify(sig, b"hello", user_id=b"alice@example.cn")
    with pytest.raises(InvalidSignature):
        KEY.public_key.verify(sig, b"hello")
    big = b"x" * 3_000_000
    KEY.public_key.verify(KEY.sign_stream(io.BytesIO(big)), big)


@given(st.binary(min_size=1, max_size=255))
@settings(max_examples=20, deadline=None)
def test_encrypt_round_trip(msg: bytes) -> None:
    assert KEY.decrypt(KEY.public_key.encrypt(msg)) == msg


def test_decrypt_with_wrong_key_or_damage() -> None:
    ct = KEY.public_key.encrypt(b"0123456789abcdef")
    with pytest.raises(DecryptionFailed):
        PrivateKey.generate().decrypt(ct)
    damaged = bytearray(ct)
    damaged[-1] ^= 1
    with pytest.raises(DecryptionFailed):
        KEY.decrypt(bytes(damaged))
    with pytest.raises(DecryptionFailed):
        KEY.decrypt(b"\x04abc")


def test_key_formats_round_trip_and_bad_input() -> None:
    assert PrivateKey.from_pem(KEY.to_pem()).public_key == KEY.public_key
    assert PrivateKey.from_der(KEY.to_der(b"pw-long-enough"), b"pw-long-enough").public_key == KEY.public_key
    enc = KEY.to_pem(b"secret-enough-1")
    assert b"ENCRYPTED" in enc
    with pytest.raises(WrongPassword):
        PrivateKey.from_pem(enc, b"wrong")
    with pytest.raises(WrongPassword):
        PrivateKey.from_pem(enc)
    with pytest.raises(KeyFormatError):
        PrivateKey.from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(KeyFormatError):
        PublicKey.from_point(b"\x04" + b"\x01" * 64)  # not on the curve
    assert PublicKey.from_der(KEY.public_key.to_der()) == KEY.public_key


def test_non_sm2_key_refused(tmp_path: pathlib.Path) -> None:
    p256 = openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
    with pytest.raises(KeyFormatError):
        PrivateKey.from_pem(p256)


# --- OpenSSL interop, both directions ---


def test_our_signature_verifies_with_openssl(tmp_path: pathlib.Path) -> None:
    (tmp_path / "pub.pem").write_bytes(KEY.public_key.to_pem())
    (tmp_path / "msg").write_bytes(b"tender T-1 bidder B-1")
    (tmp_path / "sig").write_bytes(KEY.sign(b"tender T-1 bidder B-1"))
    out = openssl(
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        str(tmp_path / "pub.pem"),
        "-rawin",
        "-digest",
        "sm3",
        "-pkeyopt",
        "distid:1234567812345678",
        "-in",
        str(tmp_path / "msg"),
        "-sigfile",
        str(tmp_path / "sig"),
    )
    assert b"Verified Successfully" in out


def test_openssl_signature_and_key_verify_here(tmp_path: pathlib.Path) -> None:
    key_pem = openssl("genpkey", "-algorithm", "SM2")
    (tmp_path / "k.pem").write_bytes(key_pem)
    (tmp_path / "msg").write_bytes(b"opening record")
    sig = openssl(
        "pkeyutl",
        "-sign",
        "-inkey",
        str(tmp_path / "k.pem"),
        "-rawin",
        "-digest",
        "sm3",
        "-pkeyopt",
        "distid:1234567812345678",
        "-in",
        str(tmp_path / "msg"),
    )
    key = PrivateKey.from_pem(key_pem)
    pub_pem = openssl("pkey", "-in", str(tmp_path / "k.pem"), "-pubout")
    assert PublicKey.from_pem(pub_pem) == key.public_key
    key.public_key.verify(sig, b"opening record")


def test_encrypted_private_key_interop(tmp_path: pathlib.Path) -> None:
    (tmp_path / "ours.pem").write_bytes(KEY.to_pem(b"pw123-long-enough"))
    out = openssl("pkey", "-in", str(tmp_path / "ours.pem"), "-passin", "pass:pw123-long-enough", "-pubout")
    assert PublicKey.from_pem(out) == KEY.public_key
    theirs = openssl("genpkey", "-algorithm", "SM2", "-aes-256-cbc", "-pass", "pass:pw9")
    assert PrivateKey.from_pem(theirs, b"pw9").public_key.point[0] == 4


def test_encryption_interop_both_ways(tmp_path: pathlib.Path) -> None:
    (tmp_path / "k.pem").write_bytes(KEY.to_pem())
    (tmp_path / "pub.pem").write_bytes(KEY.public_key.to_pem())
    (tmp_path / "ct").write_bytes(KEY.public_key.encrypt_der(b"sm4 key 16 bytes"))
    assert openssl("pkeyutl", "-decrypt", "-inkey", str(tmp_path / "k.pem"), "-in", str(tmp_path / "ct")) == (
        b"sm4 key 16 bytes"
    )
    theirs = openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", str(tmp_path / "pub.pem"), input=b"from openssl")
    assert KEY.decrypt_der(theirs) == b"from openssl"


# --- independent cross-check with gmssl (explicit nonces, 0x04-free keys) ---


def _gmssl_friendly_key() -> PrivateKey:
    while True:  # gmssl strips leading "0"/"4" hex digits of a public key (upstream bug)
        k = PrivateKey.generate()
        if k.public_key.point[1:].hex()[0] not in "04":
            return k


def test_gmssl_cross_check_signatures() -> None:
    k = _gmssl_friendly_key()
    d = k.to_der()
    scalar = PrivateKey.from_der(d)  # round trip before use
    g = gm_sm2.CryptSM2(private_key=_scalar_hex(scalar), public_key=k.public_key.point[1:].hex())
    ours = der_to_raw(k.sign(b"bid digest")).hex()
    assert g.verify_with_sm3(ours, b"bid digest")
    theirs = g.sign_with_sm3(b"bid digest", "6" * 64)  # explicit nonce, never gmssl's random
    k.public_key.verify_raw(bytes.fromhex(theirs), b"bid digest")


def test_gmssl_cross_check_encryption() -> None:
    k = _gmssl_friendly_key()
    g = gm_sm2.CryptSM2(private_key=_scalar_hex(k), public_key=k.public_key.point[1:].hex(), mode=1)
    ct = k.public_key.encrypt(b"content key 16b!")
    assert g.decrypt(ct[1:]) == b"content key 16b!"  # gmssl omits the 04 of C1


def _scalar_hex(k: PrivateKey) -> str:
    out = subprocess.run(
        ["openssl", "pkey", "-noout", "-text"], input=k.to_pem(), capture_output=True, check=True
    ).stdout.decode()
    hexdigits = "".join(out.split("priv:")[1].split("pub:")[0].split()).replace(":", "")
    return hexdigits[-64:].rjust(64, "0")
