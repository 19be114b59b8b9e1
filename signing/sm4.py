"""SM4 (GB/T 32907) through OpenSSL: streaming CTR and CBC, and one-shot GCM for chunks."""

from __future__ import annotations

from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from signing.digest import BLOCK
from signing.errors import SigningError

KEY_SIZE = 16
GCM_TAG_SIZE = 16
GCM_NONCE_SIZE = 12


class SM4Stream:
    """An SM4 encryptor or decryptor with ``update``/``finalize``, for data of any size."""

    def __init__(self, key: bytes, mode: modes.CTR | modes.CBC | modes.ECB, encrypt: bool) -> None:
        if len(key) != KEY_SIZE:
            raise SigningError("SM4 密钥必须为 16 字节 (SM4 key must be 16 bytes)")
        cipher = Cipher(algorithms.SM4(key), mode)
        self._ctx = cipher.encryptor() if encrypt else cipher.decryptor()

    def update(self, data: bytes | memoryview) -> bytes:
        return self._ctx.update(data)

    def finalize(self) -> bytes:
        return self._ctx.finalize()

    def stream(self, src: BinaryIO, dst: BinaryIO, block: int = BLOCK) -> int:
        """Pipe ``src`` through the cipher into ``dst``; returns bytes read."""
        total = 0
        while chunk := src.read(block):
            total += len(chunk)
            dst.write(self._ctx.update(chunk))
        dst.write(self._ctx.finalize())
        return total


def sm4_ctr(key: bytes, counter_block: bytes, *, encrypt: bool = True) -> SM4Stream:
    """SM4-CTR; ``counter_block`` is the 16-byte initial counter."""
    return SM4Stream(key, modes.CTR(counter_block), encrypt)


def sm4_cbc_nopad(key: bytes, iv: bytes, *, encrypt: bool = True) -> SM4Stream:
    """SM4-CBC without padding (input must be a multiple of 16 bytes)."""
    return SM4Stream(key, modes.CBC(iv), encrypt)


def gcm_seal(key: bytes, nonce: bytes, plaintext: bytes | memoryview, aad: bytes) -> bytes:
    """SM4-GCM: ciphertext ‖ 16-byte tag."""
    enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(aad)
    out = enc.update(plaintext) + enc.finalize()
    return out + enc.tag


def gcm_open(key: bytes, nonce: bytes, sealed: bytes | memoryview, aad: bytes) -> bytes:
    """Inverse of :func:`gcm_seal`; raises ``cryptography.exceptions.InvalidTag``."""
    if len(sealed) < GCM_TAG_SIZE:
        raise InvalidTag()
    body, tag = sealed[:-GCM_TAG_SIZE], bytes(sealed[-GCM_TAG_SIZE:])
    dec = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    dec.authenticate_additional_data(aad)
    return dec.update(body) + dec.finalize()
