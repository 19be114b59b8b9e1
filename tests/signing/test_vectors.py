"""Every vector in ../shared/vectors passes through our interface (not through a library directly)."""

import io

import pytest
from cryptography.exceptions import InvalidTag
from gmssl import sm2 as gm_sm2

from signing.digest import SM3, sm3, sm3_stream
from signing.errors import InvalidSignature
from signing.sm2 import PrivateKey, PublicKey, der_to_raw, raw_to_der
from signing.sm4 import SM4Stream, gcm_open, gcm_seal, sm4_cbc_nopad
from tests.signing.conftest import load_vectors

V = load_vectors()
SM3_IDS = [k for k, v in V.items() if v["algorithm"] == "SM3"]


@pytest.mark.parametrize("vid", SM3_IDS)
def test_sm3_vectors_one_shot_and_streaming(vid: str) -> None:
    v = V[vid]
    msg = bytes.fromhex(v["message_hex"])
    assert sm3(msg).hex() == v["digest_hex"]
    h = SM3()
    for i in range(len(msg)):  # byte by byte: the streaming path
        h.update(msg[i : i + 1])
    assert h.hexdigest() == v["digest_hex"]
    assert sm3_stream(io.BytesIO(msg), block=7) == (bytes.fromhex(v["digest_hex"]), len(msg))


def test_sm4_single_block() -> None:
    v = V["sm4-ecb-example1"]
    key, pt = bytes.fromhex(v["key_hex"]), bytes.fromhex(v["plaintext_hex"])
    # ECB of one block == CBC with a zero IV
    enc = sm4_cbc_nopad(key, bytes(16))
    assert (enc.update(pt) + enc.finalize()).hex() == v["ciphertext_hex"]
    dec = sm4_cbc_nopad(key, bytes(16), encrypt=False)
    assert dec.update(bytes.fromhex(v["ciphertext_hex"])) + dec.finalize() == pt


@pytest.mark.slow
def test_sm4_iterated_million() -> None:
    v = V["sm4-ecb-example2-1000000"]
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key, block = bytes.fromhex(v["key_hex"]), bytes.fromhex(v["plaintext_hex"])
    # One ECB context, fed its own output: 1,000,000 single-block encryptions in C.
    ctx = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    for _ in range(int(v["iterations"])):
        block = ctx.update(block)
    assert block.hex() == v["ciphertext_hex"]


def test_sm4_cbc_streaming_matches_vector() -> None:
    v = V["sm4-cbc-ribose-8.4.1"]
    key, iv, pt = (bytes.fromhex(v[k]) for k in ("key_hex", "iv_hex", "plaintext_hex"))
    out = io.BytesIO()
    sm4_cbc_nopad(key, iv).stream(io.BytesIO(pt), out, block=16)
    assert out.getvalue().hex() == v["ciphertext_hex"]


def test_sm4_gcm_detects_flip() -> None:
    key, nonce = bytes(range(16)), bytes(12)
    sealed = bytearray(gcm_seal(key, nonce, b"price 1000000", b"aad"))
    assert gcm_open(key, nonce, bytes(sealed), b"aad") == b"price 1000000"
    sealed[3] ^= 1
    with pytest.raises(InvalidTag):
        gcm_open(key, nonce, bytes(sealed), b"aad")


def test_sm4_rejects_bad_key_length() -> None:
    from cryptography.hazmat.primitives.ciphers import modes

    with pytest.raises(Exception, match="16"):
        SM4Stream(b"short", modes.CTR(bytes(16)), True)


def test_sm2_annex_a_signature() -> None:
    v = V["sm2-sign-recommended-curve-annexA"]
    key = PrivateKey.from_scalar(bytes.fromhex(v["private_key_hex"]))
    pub = PublicKey.from_point(bytes.fromhex(v["public_key"]["uncompressed_hex"]))
    assert key.public_key == pub
    assert pub.z(bytes.fromhex(v["user_id_hex"])).hex() == v["za_hex"]
    msg = bytes.fromhex(v["message_hex"])
    assert pub.e(msg).hex() == v["e_hex"]
    pub.verify(bytes.fromhex(v["signature_der_hex"]), msg)
    pub.verify_raw(bytes.fromhex(v["signature_raw_r_s_hex"]), msg)
    assert der_to_raw(bytes.fromhex(v["signature_der_hex"])).hex() == v["signature_raw_r_s_hex"]
    assert raw_to_der(bytes.fromhex(v["signature_raw_r_s_hex"])).hex() == v["signature_der_hex"]
    assert PublicKey.from_pem(v["public_key_pem_spki"].encode()) == pub
    with pytest.raises(InvalidSignature):
        pub.verify(bytes.fromhex(v["signature_der_hex"]), msg + b"!")
    with pytest.raises(InvalidSignature):  # the ID is part of what is signed
        pub.verify(bytes.fromhex(v["signature_der_hex"]), msg, user_id=b"ALICE123@YAHOO.COM")


def test_sm2_annex_a_signature_reproduced_by_independent_gmssl_with_fixed_k() -> None:
    """gmssl (pure Python, independent code) fed the standard's k reproduces r, s; our e feeds it."""
    v = V["sm2-sign-recommended-curve-annexA"]
    pub = PublicKey.from_point(bytes.fromhex(v["public_key"]["uncompressed_hex"]))
    # The Annex A key's x starts with "09": gmssl's lstrip("04") bug would eat the 0, so pass the
    # public key without the 04 prefix through the object attribute directly.
    g = gm_sm2.CryptSM2(private_key=v["private_key_hex"], public_key="ff")
    g.public_key = pub.point[1:].hex()
    sig = g.sign(pub.e(bytes.fromhex(v["message_hex"])), v["k_hex"])
    assert sig == v["signature_raw_r_s_hex"]


def test_sm2_annex_c_decryption() -> None:
    v = V["sm2-encrypt-recommended-curve-annexC"]
    key = PrivateKey.from_scalar(bytes.fromhex(v["private_key_hex"]))
    msg = bytes.fromhex(v["message_hex"])
    assert key.decrypt(bytes.fromhex(v["ciphertext_c1c3c2_hex"])) == msg
    assert key.decrypt_der(bytes.fromhex(v["ciphertext_der_gmt0009_hex"])) == msg
    from signing.sm2 import c1c3c2_to_c1c2c3, c1c3c2_to_der, der_to_c1c3c2

    raw = bytes.fromhex(v["ciphertext_c1c3c2_hex"])
    assert c1c3c2_to_der(raw).hex() == v["ciphertext_der_gmt0009_hex"]
    assert der_to_c1c3c2(bytes.fromhex(v["ciphertext_der_gmt0009_hex"])) == raw
    legacy = c1c3c2_to_c1c2c3(raw)
    assert legacy[65:-32].hex() == v["c2_hex"] and legacy[-32:].hex() == v["c3_hex"]
    from signing.sm2 import c1c2c3_to_c1c3c2

    assert c1c2c3_to_c1c3c2(legacy) == raw


def test_test_curve_vectors_are_not_on_our_curve() -> None:
    """The Fp-256 *test curve* vectors use other parameters: our key type must refuse them rather
    than silently produce a different answer (they are kept for the gmssl cross-check only)."""
    v = V["sm2-sign-test-curve-fp256"]
    assert v["curve"] != "sm2p256v1"


def test_both_sm3_backends_agree() -> None:
    """hashlib's OpenSSL SM3 (preferred) and cryptography's (fallback) give the vector digests."""
    from signing import digest

    v = V["sm3-abcd-x16"]
    msg = bytes.fromhex(v["message_hex"])
    saved = digest.USE_HASHLIB
    try:
        for flag in (True, False):
            digest.USE_HASHLIB = flag
            h = SM3(msg[:5])
            h.update(msg[5:])
            assert h.hexdigest() == v["digest_hex"] == sm3(msg).hex()
            assert h.copy().hexdigest() == v["digest_hex"]
    finally:
        digest.USE_HASHLIB = saved
