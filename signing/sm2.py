"""SM2 (GB/T 32918) keys, signatures and encryption, in C through Tongsuo.

Signatures use the Z value with a user ID (default ``1234567812345678``, GM/T 0009) and are
DER-encoded by default (what OpenSSL and certificates use); ``*_raw`` gives r ‖ s.
Ciphertexts are C1C3C2 with an uncompressed C1 (the GB/T 32918.4 order); conversion to and
from the GM/T 0009 ASN.1 form and the legacy C1C2C3 order is provided.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, BinaryIO, ClassVar

from asn1crypto import core, keys, pem
from asn1crypto.algos import DSASignature
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from tongsuopy.crypto import serialization as ser
from tongsuopy.crypto.asymciphers import ec

from signing import _tongsuo
from signing.digest import BLOCK, SM3
from signing.errors import DecryptionFailed, InvalidSignature, KeyFormatError, WeakPassword, WrongPassword

#: PBKDF2-HMAC-SHA256 work factor of the key files we write (OWASP Password Storage Cheat Sheet,
#: 2023: 600,000 iterations for PBKDF2-HMAC-SHA256). PBKDF2 rather than scrypt because the room
#: page reads key files with WebCrypto, which has PBKDF2 only; OpenSSL reads either.
KEY_FILE_ITERATIONS = 600_000
#: Shortest password a key file may be written with, from every path that writes one.
MIN_KEY_PASSWORD_CHARS = 12

DEFAULT_USER_ID = b"1234567812345678"

# GB/T 32918.5 recommended curve parameters, needed for Z (they enter the hash verbatim).
_A = bytes.fromhex("fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc")
_B = bytes.fromhex("28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93")
_GX = bytes.fromhex("32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7")
_GY = bytes.fromhex("bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0")
_C3_LEN = 32
_C1_LEN = 65


class _SM2Cipher(core.Sequence):  # type: ignore[misc]  # asn1crypto ships no type hints
    """GM/T 0009 SM2Cipher ::= SEQUENCE { x INTEGER, y INTEGER, hash OCTET STRING, c OCTET STRING }."""

    _fields: ClassVar[list[tuple[str, type]]] = [
        ("x", core.Integer),
        ("y", core.Integer),
        ("hash", core.OctetString),
        ("ciphertext", core.OctetString),
    ]


def _check_curve(key: Any) -> None:
    if getattr(getattr(key, "curve", None), "name", None) != "SM2":
        raise KeyFormatError("不是 SM2 密钥 (not an SM2 key)")


class PublicKey:
    """An SM2 public key."""

    __slots__ = ("_key", "_point")

    def __init__(self, key: Any) -> None:
        _check_curve(key)
        self._key = key
        self._point: bytes = key.public_bytes(ser.Encoding.X962, ser.PublicFormat.UncompressedPoint)

    # --- loading and dumping ---
    @classmethod
    def from_point(cls, point: bytes) -> PublicKey:
        """From the 65-byte uncompressed point 04 ‖ x ‖ y (or 64 bytes x ‖ y)."""
        if len(point) == 64:
            point = b"\x04" + point
        try:
            return cls(ec.EllipticCurvePublicKey.from_encoded_point(ec.SM2(), point))
        except Exception as exc:
            raise KeyFormatError("SM2 公钥点无效 (invalid SM2 public point)") from exc

    @classmethod
    def from_der(cls, der: bytes) -> PublicKey:
        """From a DER SubjectPublicKeyInfo."""
        try:
            return cls(ser.load_der_public_key(der))
        except KeyFormatError:
            raise
        except Exception as exc:
            raise KeyFormatError("无法读取公钥 (cannot read public key)") from exc

    @classmethod
    def from_pem(cls, pem: bytes) -> PublicKey:
        try:
            return cls(ser.load_pem_public_key(pem))
        except KeyFormatError:
            raise
        except Exception as exc:
            raise KeyFormatError("无法读取公钥 (cannot read public key)") from exc

    def to_der(self) -> bytes:
        return bytes(self._key.public_bytes(ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo))

    def to_pem(self) -> bytes:
        return bytes(self._key.public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo))

    @property
    def point(self) -> bytes:
        return self._point

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other._point == self._point

    def __hash__(self) -> int:
        return hash(self._point)

    # --- Z and message digests ---
    def z(self, user_id: bytes = DEFAULT_USER_ID) -> bytes:
        """Z_A = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA)."""
        if len(user_id) * 8 > 0xFFFF:
            raise ValueError("user ID too long")
        h = SM3((len(user_id) * 8).to_bytes(2, "big") + user_id)
        h.update(_A + _B + _GX + _GY + self._point[1:])
        return h.digest()

    def hasher(self, user_id: bytes = DEFAULT_USER_ID) -> SM3:
        """An SM3 already fed Z: feed the message, then sign/verify its ``digest()`` as e."""
        return SM3(self.z(user_id))

    def e(self, message: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
        h = self.hasher(user_id)
        h.update(message)
        return h.digest()

    # --- operations ---
    def verify_digest(self, signature_der: bytes, e: bytes) -> None:
        if not _tongsuo.verify_digest(self._key._evp_pkey, e, signature_der):
            raise InvalidSignature("SM2 签名验证失败 (SM2 signature does not verify)")

    def verify(self, signature_der: bytes, message: bytes, user_id: bytes = DEFAULT_USER_ID) -> None:
        """Raise :class:`InvalidSignature` unless ``signature_der`` signs ``message``."""
        self.verify_digest(signature_der, self.e(message, user_id))

    def verify_raw(self, signature_rs: bytes, message: bytes, user_id: bytes = DEFAULT_USER_ID) -> None:
        self.verify(raw_to_der(signature_rs), message, user_id)

    def verify_stream(self, signature_der: bytes, src: BinaryIO, user_id: bytes = DEFAULT_USER_ID) -> None:
        h = self.hasher(user_id)
        while chunk := src.read(BLOCK):
            h.update(chunk)
        self.verify_digest(signature_der, h.digest())

    def encrypt(self, plaintext: bytes) -> bytes:
        """SM2 encryption, C1C3C2 (C1 uncompressed)."""
        return der_to_c1c3c2(self.encrypt_der(plaintext))

    def encrypt_der(self, plaintext: bytes) -> bytes:
        """SM2 encryption in the GM/T 0009 ASN.1 form."""
        if not plaintext:
            raise ValueError("SM2 cannot encrypt an empty message")
        return _tongsuo.encrypt_der(self._key._evp_pkey, plaintext)


class PrivateKey:
    """An SM2 private key (with its public key)."""

    __slots__ = ("_key", "public_key")

    def __init__(self, key: Any) -> None:
        _check_curve(key)
        self._key = key
        self.public_key = PublicKey(key.public_key())

    @classmethod
    def generate(cls) -> PrivateKey:
        """A fresh key from Tongsuo's CSPRNG (seeded by the operating system)."""
        return cls(ec.generate_private_key(ec.SM2()))

    @classmethod
    def from_scalar(cls, d: bytes | int) -> PrivateKey:
        value = int.from_bytes(d, "big") if isinstance(d, bytes) else d
        try:
            return cls(ec.derive_private_key(value, ec.SM2()))
        except Exception as exc:
            raise KeyFormatError("SM2 私钥无效 (invalid SM2 private key)") from exc

    @classmethod
    def from_pem(cls, pem: bytes, password: bytes | None = None) -> PrivateKey:
        return cls._load(ser.load_pem_private_key, pem, password)

    @classmethod
    def from_der(cls, der: bytes, password: bytes | None = None) -> PrivateKey:
        return cls._load(ser.load_der_private_key, der, password)

    @classmethod
    def _load(cls, loader: Any, data: bytes, password: bytes | None) -> PrivateKey:
        try:
            key = loader(data, password)
        except TypeError as exc:  # password given/missing
            raise WrongPassword("私钥口令不匹配 (private key password missing or not needed)") from exc
        except ValueError as exc:
            if password is not None and b"ENCRYPTED" in data[:64]:
                raise WrongPassword("私钥口令错误 (wrong private key password)") from exc
            raise KeyFormatError("无法读取私钥 (cannot read private key)") from exc
        except Exception as exc:
            raise KeyFormatError("无法读取私钥 (cannot read private key)") from exc
        return cls(key)

    def to_pem(self, password: bytes | None = None, *, iterations: int = KEY_FILE_ITERATIONS) -> bytes:
        """PKCS#8 PEM, encrypted when a password is given (PBES2: PBKDF2-HMAC-SHA256 with
        ``iterations``, AES-256-CBC; what OpenSSL and WebCrypto both read)."""
        if password is None:
            return bytes(self._key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()))
        return bytes(pem.armor("ENCRYPTED PRIVATE KEY", self.to_der(password, iterations=iterations)))

    def to_der(self, password: bytes | None = None, *, iterations: int = KEY_FILE_ITERATIONS) -> bytes:
        plain = bytes(self._key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.PKCS8, ser.NoEncryption()))
        return plain if password is None else pbes2_encrypt(plain, password, iterations)

    def sign_digest(self, e: bytes) -> bytes:
        """Sign e = SM3(Z ‖ M) (32 bytes) → DER."""
        if len(e) != 32:
            raise ValueError("e must be 32 bytes")
        return _tongsuo.sign_digest(self._key._evp_pkey, e)

    def sign(self, message: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
        """DER SM2 signature with Z (user ID default ``1234567812345678``)."""
        return self.sign_digest(self.public_key.e(message, user_id))

    def sign_raw(self, message: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
        return der_to_raw(self.sign(message, user_id))

    def sign_stream(self, src: BinaryIO, user_id: bytes = DEFAULT_USER_ID) -> bytes:
        h = self.public_key.hasher(user_id)
        while chunk := src.read(BLOCK):
            h.update(chunk)
        return self.sign_digest(h.digest())

    def decrypt(self, ciphertext: bytes) -> bytes:
        """Decrypt C1C3C2 (raw) → plaintext; :class:`DecryptionFailed` on a wrong key."""
        try:
            der = c1c3c2_to_der(ciphertext)
        except ValueError as exc:
            raise DecryptionFailed("SM2 密文格式错误 (malformed SM2 ciphertext)") from exc
        return self.decrypt_der(der)

    def decrypt_der(self, ciphertext_der: bytes) -> bytes:
        try:
            return _tongsuo.decrypt_der(self._key._evp_pkey, ciphertext_der)
        except ValueError as exc:
            raise DecryptionFailed("SM2 解密失败：私钥不匹配或密文损坏 (wrong key or damaged ciphertext)") from exc


# --- key files ---
def check_key_password(password: bytes) -> None:
    """The one rule for a new key file's password: at least ``MIN_KEY_PASSWORD_CHARS`` characters."""
    if len(password.decode("utf-8", "replace")) < MIN_KEY_PASSWORD_CHARS:
        raise WeakPassword(
            f"私钥口令至少 {MIN_KEY_PASSWORD_CHARS} 个字符 "
            f"(key password must be at least {MIN_KEY_PASSWORD_CHARS} characters)"
        )


def pbes2_encrypt(pkcs8_der: bytes, password: bytes, iterations: int = KEY_FILE_ITERATIONS) -> bytes:
    """EncryptedPrivateKeyInfo (RFC 8018 PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC) of a PKCS#8 key.
    Written here because tongsuopy fixes the iteration count at 2,048."""
    check_key_password(password)
    if iterations < 1:
        raise ValueError("iterations must be positive")
    salt, iv = os.urandom(16), os.urandom(16)
    kek = hashlib.pbkdf2_hmac("sha256", password, salt, iterations, 32)
    padder = padding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(kek), modes.CBC(iv)).encryptor()
    body = enc.update(padder.update(pkcs8_der) + padder.finalize()) + enc.finalize()
    info = keys.EncryptedPrivateKeyInfo(
        {
            "encryption_algorithm": {
                "algorithm": "pbes2",
                "parameters": {
                    "key_derivation_func": {
                        "algorithm": "pbkdf2",
                        "parameters": {
                            "salt": core.OctetString(salt),
                            "iteration_count": iterations,
                            "prf": {"algorithm": "sha256"},
                        },
                    },
                    "encryption_scheme": {"algorithm": "aes256_cbc", "parameters": iv},
                },
            },
            "encrypted_data": body,
        }
    )
    return bytes(info.dump())


def key_file_iterations(data: bytes) -> int | None:
    """The PBKDF2 iteration count of an encrypted key file (PEM or DER); None if it is not one."""
    try:
        if pem.detect(data):
            _, _, data = pem.unarmor(data)
        info = keys.EncryptedPrivateKeyInfo.load(data)
        alg = info["encryption_algorithm"]
        if alg["algorithm"].native != "pbes2":
            return None
        kdf = alg["parameters"]["key_derivation_func"]
        if kdf["algorithm"].native != "pbkdf2":
            return None
        return int(kdf["parameters"]["iteration_count"].native)
    except Exception:
        return None


# --- encodings ---
def der_to_raw(signature_der: bytes) -> bytes:
    """DER SEQUENCE { r, s } → r ‖ s (32 bytes each)."""
    try:
        return bytes(DSASignature.load(signature_der).to_p1363())
    except Exception as exc:
        raise InvalidSignature("签名格式错误 (malformed signature)") from exc


def raw_to_der(signature_rs: bytes) -> bytes:
    if len(signature_rs) != 64:
        raise InvalidSignature("签名长度应为 64 字节 (raw signature must be 64 bytes)")
    return bytes(DSASignature.from_p1363(signature_rs).dump())


def der_to_c1c3c2(der: bytes) -> bytes:
    """GM/T 0009 ASN.1 ciphertext → 04 ‖ x ‖ y ‖ C3 ‖ C2."""
    try:
        seq = _SM2Cipher.load(der, strict=True)
        x, y = int(seq["x"].native), int(seq["y"].native)
        c3, c2 = bytes(seq["hash"].native), bytes(seq["ciphertext"].native)
    except Exception as exc:
        raise ValueError("malformed SM2 ciphertext") from exc
    if len(c3) != _C3_LEN or not 0 <= x < 2**256 or not 0 <= y < 2**256:
        raise ValueError("malformed SM2 ciphertext")
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big") + c3 + c2


def c1c3c2_to_der(raw: bytes) -> bytes:
    if len(raw) < _C1_LEN + _C3_LEN + 1 or raw[0] != 4:
        raise ValueError("malformed SM2 ciphertext")
    x = int.from_bytes(raw[1:33], "big")
    y = int.from_bytes(raw[33:65], "big")
    c3, c2 = raw[65:97], raw[97:]
    return bytes(_SM2Cipher({"x": x, "y": y, "hash": c3, "ciphertext": c2}).dump())


def c1c2c3_to_c1c3c2(raw: bytes) -> bytes:
    """Legacy order (GB/T 32918-2012 drafts, some UKeys) → standard order."""
    if len(raw) < _C1_LEN + _C3_LEN + 1 or raw[0] != 4:
        raise ValueError("malformed SM2 ciphertext")
    return raw[:_C1_LEN] + raw[-_C3_LEN:] + raw[_C1_LEN:-_C3_LEN]


def c1c3c2_to_c1c2c3(raw: bytes) -> bytes:
    if len(raw) < _C1_LEN + _C3_LEN + 1 or raw[0] != 4:
        raise ValueError("malformed SM2 ciphertext")
    return raw[:_C1_LEN] + raw[_C1_LEN + _C3_LEN :] + raw[_C1_LEN : _C1_LEN + _C3_LEN]
