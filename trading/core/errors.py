"""Domain errors: each carries an HTTP status, a stable code and a message in Chinese."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "bad_request"
    #: seconds a client should wait before trying again (sent as Retry-After), where waiting helps
    retry_after: int | None = None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, str] | None = None,
        names: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        #: what is wrong with each field, keyed by its path in the request (``lots.0.name``): the
        #: API's contract, and what a page looks up to mark the field
        self.fields = fields or {}
        #: the same paths as a person reads them (``第1标段 · 标段名称``), where the schema names them
        self.names = names or {}

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        if self.names:
            body["field_labels"] = self.names
        return {"error": body}


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"


class InvalidInput(DomainError):
    status = 422
    code = "invalid_input"


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoredObjectDamaged(DomainError):
    """A stored object no longer hashes to the SM3 the platform recorded for it: the platform's
    fault, told by name (and logged for the operators), never served as if whole."""

    status = 503
    code = "document_damaged"
