"""Failures of the GM cryptography layer, one class per thing a user must be told.

Every message is safe to show to the user (no key material); ``code`` is stable and is what
APIs and the bidder CLI report, so that a failure can be classified later (for example
撤销 / 撤回 at the opening).
"""


class SigningError(Exception):
    """Base class. ``code`` names the failure for machines; the message is for people."""

    code = "signing_error"


class KeyFormatError(SigningError):
    code = "key_format"


class WrongPassword(KeyFormatError):
    code = "wrong_password"


class WeakPassword(KeyFormatError):
    """A key file's new password is too short (``signing.sm2.MIN_KEY_PASSWORD_CHARS``)."""

    code = "weak_password"


class InvalidSignature(SigningError):
    code = "invalid_signature"


class DecryptionFailed(SigningError):
    """SM2 decryption failed: wrong private key or a damaged ciphertext."""

    code = "decryption_failed"


class CertificateError(SigningError):
    code = "certificate_invalid"


class CertificateNotTrusted(CertificateError):
    code = "certificate_not_trusted"


class CertificateExpired(CertificateError):
    code = "certificate_expired"


class CertificateRevoked(CertificateError):
    code = "certificate_revoked"


class CertificateUsageError(CertificateError):
    code = "certificate_usage"


class EnvelopeError(SigningError):
    code = "envelope_error"


class NotAnEnvelope(EnvelopeError):
    code = "not_an_envelope"


class UnsupportedEnvelopeVersion(EnvelopeError):
    code = "unsupported_version"


class HeaderSignatureInvalid(EnvelopeError):
    code = "header_signature_invalid"


class TenderMismatch(EnvelopeError):
    code = "tender_mismatch"


class WrongKey(EnvelopeError):
    """The content key does not open this envelope (wrong private key or wrong SM4 key)."""

    code = "wrong_key"


class TruncatedEnvelope(EnvelopeError):
    code = "truncated"


class ChunkTampered(EnvelopeError):
    """A chunk failed authentication: it was altered, reordered or moved."""

    code = "chunk_tampered"


class TrailingData(EnvelopeError):
    code = "trailing_data"


class PlaintextDigestMismatch(EnvelopeError):
    code = "plaintext_digest_mismatch"


class StatementError(SigningError):
    code = "statement_invalid"


class RecipientMismatch(EnvelopeError):
    """The encryption certificate offered is not the one the header names (``recipient_cert_sm3``)."""

    code = "recipient_mismatch"


class EnvelopeSizeMismatch(EnvelopeError):
    """The file is longer or shorter than its header announces."""

    code = "size_mismatch"


class ArchiveRefused(SigningError):
    """A zip a participant made breaks a bound (``signing.bounded_zip``): ``code`` names the bound,
    ``entry`` the entry (None: the archive as a whole)."""

    code = "archive_refused"

    def __init__(self, code: str, entry: str | None, detail: str) -> None:
        where = f"「{entry}」" if entry else "文件包"
        super().__init__(f"{where}：{detail}")
        self.code, self.entry, self.detail = code, entry, detail
