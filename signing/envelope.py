"""The sealed-bid envelope (加密投标文件), format version 1. Byte layout: ``ENVELOPE.md``.

A bid is sealed on the bidder's machine: SM3 of the plaintext, an SM2 signature by the
bidder over (tender, lot, bidder, digest, size), a fresh SM4 key wrapped with SM2 to the
bidder's own encryption certificate, and the content as chunked SM4-GCM (STREAM: nonce =
prefix ‖ counter ‖ last-chunk flag, AAD = SM3 of the header) so that any size streams in
constant memory and truncation, reordering or any flipped bit is detected.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from cryptography.exceptions import InvalidTag

from signing.canonical import canonical_json, parse_canonical
from signing.certs import Certificate, TrustStore, Usage, verify_chain
from signing.digest import SM3, sm3, sm3_stream
from signing.errors import (
    ChunkTampered,
    DecryptionFailed,
    EnvelopeError,
    EnvelopeSizeMismatch,
    HeaderSignatureInvalid,
    InvalidSignature,
    NotAnEnvelope,
    PlaintextDigestMismatch,
    RecipientMismatch,
    SigningError,
    StatementError,
    TenderMismatch,
    TrailingData,
    TruncatedEnvelope,
    UnsupportedEnvelopeVersion,
    WrongKey,
)
from signing.sm2 import PrivateKey
from signing.sm4 import GCM_TAG_SIZE, KEY_SIZE, gcm_open, gcm_seal

MAGIC = b"GGZYSEAL"
VERSION = 1
PREFIX = struct.Struct(">8sBI")  # magic, version, header length
MAX_HEADER = 1 << 20
DEFAULT_CHUNK = 256 * 1024
MIN_CHUNK, MAX_CHUNK = 16, 16 * 1024 * 1024
NONCE_PREFIX_SIZE = 7
WRAPPED_KEY_SIZE = 97 + KEY_SIZE  # SM2 C1C3C2 of the 16-byte key: 04 ‖ x ‖ y, C3 (32), C2 (16)
SIGN_PURPOSE = "ggzy-bid-seal/1"
KEY_CHECK_LABEL = b"GGZY-KEY-CHECK/1"

Progress = Callable[[int], None]

_HEADER_FIELDS = {
    "format": str,
    "version": int,
    "tender_id": str,
    "lot_id": str,
    "bidder_id": str,
    "plaintext_sm3": str,
    "plaintext_size": int,
    "chunk_size": int,
    "nonce_prefix": str,
    "key_check": str,
    "wrapped_key": str,
    "recipient_cert_sm3": str,
    "signer_cert": str,
    "signature": str,
    "sealed_at": str,
}


def signed_content(tender_id: str, lot_id: str, bidder_id: str, plaintext_sm3: str, plaintext_size: int) -> bytes:
    """The exact bytes the bidder's SM2 signature covers."""
    return canonical_json(
        {
            "purpose": SIGN_PURPOSE,
            "tender_id": tender_id,
            "lot_id": lot_id,
            "bidder_id": bidder_id,
            "plaintext_sm3": plaintext_sm3,
            "plaintext_size": plaintext_size,
        }
    )


def key_check(key: bytes) -> str:
    return sm3(KEY_CHECK_LABEL + key).hex()


@dataclass(frozen=True)
class SealedHeader:
    """A parsed header; ``raw`` is the canonical JSON exactly as in the file."""

    raw: bytes
    fields: dict[str, Any]

    @property
    def tender_id(self) -> str:
        return str(self.fields["tender_id"])

    @property
    def lot_id(self) -> str:
        return str(self.fields["lot_id"])

    @property
    def bidder_id(self) -> str:
        return str(self.fields["bidder_id"])

    @property
    def plaintext_size(self) -> int:
        return int(self.fields["plaintext_size"])

    @property
    def plaintext_sm3(self) -> str:
        return str(self.fields["plaintext_sm3"])

    @property
    def chunk_size(self) -> int:
        return int(self.fields["chunk_size"])

    @property
    def chunk_count(self) -> int:
        return max(1, -(-self.plaintext_size // self.chunk_size))

    @property
    def aad(self) -> bytes:
        return sm3(self.raw)

    @property
    def prefix_bytes(self) -> bytes:
        return PREFIX.pack(MAGIC, VERSION, len(self.raw))

    @property
    def envelope_size(self) -> int:
        """Total bytes of the sealed file that this header announces."""
        return len(self.prefix_bytes) + len(self.raw) + self.plaintext_size + self.chunk_count * GCM_TAG_SIZE

    @property
    def signer_cert(self) -> Certificate:
        try:
            return Certificate(base64.b64decode(self.fields["signer_cert"], validate=True))
        except (ValueError, SigningError) as exc:
            raise NotAnEnvelope("信封头中的签名证书无法读取 (signer certificate unreadable)") from exc

    @property
    def signature(self) -> bytes:
        return base64.b64decode(self.fields["signature"], validate=True)

    @property
    def wrapped_key(self) -> bytes:
        return bytes.fromhex(self.fields["wrapped_key"])

    def verify(
        self,
        trust: TrustStore,
        *,
        at: dt.datetime,
        tender_id: str | None = None,
        lot_id: str | None = None,
        bidder_id: str | None = None,
    ) -> Certificate:
        """Check binding, signer certificate and signature; return the signer certificate."""
        for name, expected in (("tender_id", tender_id), ("lot_id", lot_id), ("bidder_id", bidder_id)):
            if expected is not None and self.fields[name] != expected:
                raise TenderMismatch(f"投标文件属于其他项目/标段/投标人 ({name} mismatch)")
        cert = self.signer_cert
        verify_chain(cert, trust, at=at, usage=Usage.SIGN)
        content = signed_content(self.tender_id, self.lot_id, self.bidder_id, self.plaintext_sm3, self.plaintext_size)
        try:
            cert.public_key.verify(self.signature, content)
        except InvalidSignature as exc:
            raise HeaderSignatureInvalid("投标文件签名无效 (header signature invalid)") from exc
        return cert

    def check_size(self, size: int) -> None:
        """The file's length against the one the header announces (truncated or extended)."""
        if size != self.envelope_size:
            raise EnvelopeSizeMismatch(
                f"文件长度 {size} 与文件头声明的 {self.envelope_size} 不符 (size mismatch: truncated or extended)"
            )

    def check_recipient(self, encryption_cert: Certificate, encryption_key: PrivateKey | None = None) -> None:
        """``recipient_cert_sm3`` names ``encryption_cert``, and ``encryption_key`` is its key."""
        if encryption_cert.fingerprint != self.fields["recipient_cert_sm3"]:
            raise RecipientMismatch("投标文件不是加密给这张加密证书的 (recipient_cert_sm3 names another certificate)")
        if encryption_key is not None and encryption_key.public_key != encryption_cert.public_key:
            raise RecipientMismatch("加密私钥与加密证书不匹配 (encryption key does not match its certificate)")

    def unwrap_key(self, encryption_key: PrivateKey, encryption_cert: Certificate | None = None) -> bytes:
        """The bidder recovers the SM4 content key with its encryption private key; given its
        certificate too, the header's ``recipient_cert_sm3`` is checked first."""
        if encryption_cert is not None:
            self.check_recipient(encryption_cert, encryption_key)
        try:
            key = encryption_key.decrypt(self.wrapped_key)
        except DecryptionFailed as exc:
            raise WrongKey("解密私钥与投标文件不匹配 (this key does not open the bid)") from exc
        self.check_key(key)
        return key

    def check_key(self, key: bytes) -> None:
        if len(key) != KEY_SIZE or not secrets.compare_digest(key_check(key), self.fields["key_check"]):
            raise WrongKey("密钥与投标文件不匹配 (wrong content key)")

    def nonce(self, index: int) -> bytes:
        last = 1 if index == self.chunk_count - 1 else 0
        return bytes.fromhex(self.fields["nonce_prefix"]) + struct.pack(">IB", index, last)


def parse_header(raw: bytes) -> SealedHeader:
    try:
        fields = parse_canonical(raw)
    except StatementError as exc:
        raise NotAnEnvelope("信封头不是规范 JSON (header is not canonical JSON)") from exc
    if not isinstance(fields, dict) or set(fields) != set(_HEADER_FIELDS):
        raise NotAnEnvelope("信封头字段不完整 (header fields missing or unknown)")
    for name, typ in _HEADER_FIELDS.items():
        if not isinstance(fields[name], typ) or isinstance(fields[name], bool):
            raise NotAnEnvelope(f"信封头字段类型错误 ({name})")
    if fields["format"] != "ggzy-sealed-bid" or fields["version"] != VERSION:
        raise UnsupportedEnvelopeVersion("不支持的信封版本 (unsupported envelope version)")
    if not MIN_CHUNK <= fields["chunk_size"] <= MAX_CHUNK or fields["plaintext_size"] < 0:
        raise NotAnEnvelope("信封头数值越界 (header values out of range)")
    if -(-fields["plaintext_size"] // fields["chunk_size"]) >= 2**32:
        raise NotAnEnvelope("信封过大 (too many chunks)")
    try:
        for name, size in (
            ("nonce_prefix", NONCE_PREFIX_SIZE),
            ("plaintext_sm3", 32),
            ("key_check", 32),
            ("recipient_cert_sm3", 32),
            ("wrapped_key", WRAPPED_KEY_SIZE),
        ):
            value = bytes.fromhex(fields[name])
            if len(value) != size or fields[name] != value.hex():
                raise ValueError(name)
        if not fields["wrapped_key"].startswith("04"):
            raise ValueError("wrapped_key")
        sealed_at = dt.datetime.fromisoformat(fields["sealed_at"])
        if sealed_at.utcoffset() != dt.timedelta(0):
            raise ValueError("sealed_at")
        for name in ("signature", "signer_cert"):
            base64.b64decode(fields[name], validate=True)
    except ValueError as exc:
        raise NotAnEnvelope(f"信封头编码错误 (header encoding: {exc})") from exc
    return SealedHeader(raw, fields)


class Sink(Protocol):
    """Where sealed bytes go: a file, or a wrapper that also hashes them."""

    def write(self, data: bytes, /) -> int: ...


def read_header(src: BinaryIO) -> SealedHeader:
    """Read the prefix and header from the start of a sealed file; leaves ``src`` at chunk 0."""
    prefix = src.read(PREFIX.size)
    if len(prefix) < PREFIX.size or prefix[:8] != MAGIC:
        raise NotAnEnvelope("不是加密投标文件 (not a ggzy sealed bid)")
    _, version, hlen = PREFIX.unpack(prefix)
    if version != VERSION:
        raise UnsupportedEnvelopeVersion(f"不支持的信封版本 {version} (unsupported envelope version)")
    if not 0 < hlen <= MAX_HEADER:
        raise NotAnEnvelope("信封头长度无效 (header length invalid)")
    raw = src.read(hlen)
    if len(raw) != hlen:
        raise TruncatedEnvelope("文件不完整：信封头被截断 (truncated header)")
    return parse_header(raw)


def seal(
    src: BinaryIO,
    dst: Sink,
    *,
    tender_id: str,
    lot_id: str,
    bidder_id: str,
    signing_key: PrivateKey,
    signing_cert: Certificate,
    recipient_cert: Certificate,
    now: dt.datetime,
    chunk_size: int = DEFAULT_CHUNK,
    progress: Progress | None = None,
) -> SealedHeader:
    """Seal the seekable ``src`` into ``dst`` (two passes: SM3, then encryption)."""
    if not MIN_CHUNK <= chunk_size <= MAX_CHUNK:
        raise EnvelopeError("chunk size out of range")
    if signing_cert.public_key != signing_key.public_key:
        raise EnvelopeError("签名私钥与签名证书不匹配 (signing key does not match certificate)")
    recipient_cert.check_usage(Usage.ENCRYPT)
    start = src.tell()
    digest, size = sm3_stream(src)
    src.seek(start)
    key = os.urandom(KEY_SIZE)
    content = signed_content(tender_id, lot_id, bidder_id, digest.hex(), size)
    fields = {
        "format": "ggzy-sealed-bid",
        "version": VERSION,
        "tender_id": tender_id,
        "lot_id": lot_id,
        "bidder_id": bidder_id,
        "plaintext_sm3": digest.hex(),
        "plaintext_size": size,
        "chunk_size": chunk_size,
        "nonce_prefix": os.urandom(NONCE_PREFIX_SIZE).hex(),
        "key_check": key_check(key),
        "wrapped_key": recipient_cert.public_key.encrypt(key).hex(),
        "recipient_cert_sm3": recipient_cert.fingerprint,
        "signer_cert": base64.b64encode(signing_cert.der).decode(),
        "signature": base64.b64encode(signing_key.sign(content)).decode(),
        "sealed_at": now.astimezone(dt.UTC).isoformat(timespec="seconds"),
    }
    header = parse_header(canonical_json(fields))
    dst.write(header.prefix_bytes)
    dst.write(header.raw)
    aad = header.aad
    buf = bytearray(chunk_size)
    view = memoryview(buf)
    for index in range(header.chunk_count):
        n = _read_exact(src, view)
        if n != (chunk_size if index < header.chunk_count - 1 else size - index * chunk_size):
            raise EnvelopeError("源文件在封装过程中被修改 (source changed while sealing)")
        dst.write(gcm_seal(key, header.nonce(index), view[:n], aad))
        if progress:
            progress(n)
    return header


def _read_exact(src: BinaryIO, view: memoryview) -> int:
    got = 0
    while got < len(view):
        n = src.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            break
        got += n
    return got


def decrypt_chunks(
    header: SealedHeader, src: BinaryIO, dst: Sink, key: bytes, progress: Progress | None = None
) -> None:
    """Decrypt the chunks following the header into ``dst``; verify the plaintext SM3.

    ``dst`` receives only authenticated chunks, but it is the caller's duty to discard it if
    this raises (the plaintext digest is only known at the end).
    """
    header.check_key(key)
    aad = header.aad
    size, cs = header.plaintext_size, header.chunk_size
    h = SM3()
    buf = bytearray(cs + GCM_TAG_SIZE)
    view = memoryview(buf)
    for index in range(header.chunk_count):
        want = (cs if index < header.chunk_count - 1 else size - index * cs) + GCM_TAG_SIZE
        n = _read_exact(src, view[:want])
        if n != want:
            raise TruncatedEnvelope(f"文件不完整：第 {index + 1} 块被截断 (truncated at chunk {index})")
        try:
            plain = gcm_open(key, header.nonce(index), view[:want], aad)
        except InvalidTag as exc:
            raise ChunkTampered(
                f"第 {index + 1} 块校验失败：被篡改或顺序错乱 (chunk {index} altered or reordered)"
            ) from exc
        h.update(plain)
        dst.write(plain)
        if progress:
            progress(len(plain))
    if src.read(1):
        raise TrailingData("文件末尾有多余数据 (data after the last chunk)")
    if h.hexdigest() != header.plaintext_sm3:
        raise PlaintextDigestMismatch("明文摘要与签名不符 (plaintext digest mismatch)")


def unseal(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    trust: TrustStore,
    at: dt.datetime,
    encryption_key: PrivateKey | None = None,
    encryption_cert: Certificate | None = None,
    content_key: bytes | None = None,
    tender_id: str | None = None,
    size: int | None = None,
    progress: Progress | None = None,
) -> SealedHeader:
    """Verify and decrypt a sealed bid, with the bidder's private key (and its certificate, for
    ``recipient_cert_sm3``) or the released SM4 key. Every check of the header (ENVELOPE.md,
    Opening 1–3: fields, ``size`` if the caller knows the file's, certificate and signature,
    recipient) comes before any key is used or a byte decrypted."""
    header = read_header(src)
    if size is not None:
        header.check_size(size)
    header.verify(trust, at=at, tender_id=tender_id)
    if content_key is None:
        if encryption_key is None:
            raise WrongKey("需要解密私钥或内容密钥 (a key is required)")
        content_key = header.unwrap_key(encryption_key, encryption_cert)
    decrypt_chunks(header, src, dst, content_key, progress)
    return header
