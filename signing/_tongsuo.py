"""The one module that reaches into tongsuopy's cffi binding of Tongsuo (an OpenSSL fork).

tongsuopy's public API signs only whole messages with the default ID and offers no SM2
encryption. Tongsuo's EVP layer does both; we call it through the binding tongsuopy already
loads, so that SM2 runs in C at OpenSSL speed with nonces from Tongsuo's CSPRNG. Pinned
to tongsuopy 1.0.1 in pyproject; tests/signing cover every function here against the GM
vectors and the OpenSSL CLI, so a change in the binding fails loudly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tongsuopy.backends.tongsuo import backend as _backend

_lib: Any = _backend._lib
_ffi: Any = _backend._ffi

_MAX_SIG = 80  # DER SM2 signature is at most 72 bytes


def _ctx(evp_pkey: Any, init: Callable[[Any], int]) -> Any:
    ctx = _lib.EVP_PKEY_CTX_new(evp_pkey, _ffi.NULL)
    if ctx == _ffi.NULL:
        _backend._consume_errors()
        raise MemoryError("EVP_PKEY_CTX_new failed")
    ctx = _ffi.gc(ctx, _lib.EVP_PKEY_CTX_free)
    if init(ctx) != 1:
        _backend._consume_errors()
        raise ValueError("EVP_PKEY operation init failed")
    return ctx


def sign_digest(evp_pkey: Any, e: bytes) -> bytes:
    """SM2 signature (DER) over the 32-byte e = SM3(Z ‖ M)."""
    ctx = _ctx(evp_pkey, _lib.EVP_PKEY_sign_init)
    outlen = _ffi.new("size_t *", _MAX_SIG)
    buf = _ffi.new("unsigned char[]", _MAX_SIG)
    if _lib.EVP_PKEY_sign(ctx, buf, outlen, e, len(e)) != 1:
        _backend._consume_errors()
        raise ValueError("SM2 sign failed")
    return bytes(_ffi.buffer(buf)[: outlen[0]])


def verify_digest(evp_pkey: Any, e: bytes, signature: bytes) -> bool:
    ctx = _ctx(evp_pkey, _lib.EVP_PKEY_verify_init)
    res = _lib.EVP_PKEY_verify(ctx, signature, len(signature), e, len(e))
    if res != 1:
        _backend._consume_errors()
    return bool(res == 1)


def _crypt(evp_pkey: Any, init: Callable[[Any], int], op: Callable[..., int], data: bytes) -> bytes:
    ctx = _ctx(evp_pkey, init)
    outlen = _ffi.new("size_t *")
    if op(ctx, _ffi.NULL, outlen, data, len(data)) != 1:
        _backend._consume_errors()
        raise ValueError("SM2 size query failed")
    buf = _ffi.new("unsigned char[]", outlen[0])
    if op(ctx, buf, outlen, data, len(data)) != 1:
        _backend._consume_errors()
        raise ValueError("SM2 operation failed")
    return bytes(_ffi.buffer(buf)[: outlen[0]])


def encrypt_der(evp_pkey: Any, plaintext: bytes) -> bytes:
    """SM2 encryption; Tongsuo returns the GM/T 0009 ASN.1 form."""
    return _crypt(evp_pkey, _lib.EVP_PKEY_encrypt_init, _lib.EVP_PKEY_encrypt, plaintext)


def decrypt_der(evp_pkey: Any, ciphertext_der: bytes) -> bytes:
    return _crypt(evp_pkey, _lib.EVP_PKEY_decrypt_init, _lib.EVP_PKEY_decrypt, ciphertext_der)
