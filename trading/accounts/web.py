"""The HTTP layer's plumbing: one DB session per request, who is asking, may they, and errors.

Views stay thin: parse with ``json_body``/``form_body``, call one operation, ``commit()``,
render. Nothing here holds a business rule.
"""

from __future__ import annotations

import errno
import logging
import secrets
import unicodedata
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from flask import (
    Flask,
    Response,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from minio.error import MinioException
from pydantic import BaseModel
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm import Session
from urllib3.exceptions import HTTPError as Urllib3Error
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map

from archive.audit import ANONYMOUS, Actor
from archive.objectstore import ObjectStoreError
from trading.accounts.form_errors import field_errors, refusal_text, remember_form_model
from trading.accounts.models import SessionKind, User
from trading.accounts.operations import resolve_token
from trading.accounts.permissions import Permission, endpoint_rule, has, permissions_of
from trading.core.config import Settings
from trading.core.db import Database
from trading.core.errors import (
    DomainError,
    Forbidden,
    InvalidInput,
    Unauthenticated,
    UnsupportedMediaType,
)
from trading.core.headers import SECURITY_HEADERS
from trading.core.schemas import INT32_MAX, INT64_MAX, NUL_REFUSED, load_json, parse, printable, whole_number

log = logging.getLogger("ggzy.web")
M = TypeVar("M", bound=BaseModel)

HTTP_MESSAGES = {
    400: "请求格式错误",
    401: "请先登录",
    403: "没有权限执行此操作",
    404: "页面或资源不存在",
    405: "不支持此请求方法",
    413: "请求内容过大",
    415: "请求内容类型不受支持，应为 application/json",
    429: "请求过于频繁，请稍后再试",
}


def db() -> Session:
    if "db" not in g:
        database: Database = current_app.extensions["ggzy.db"]
        g.db = database.sessionmaker()
    return g.db  # type: ignore[no-any-return]


def commit() -> None:
    db().commit()


def commit_and_reread() -> None:
    """Commit, and forget what the session read. Sessions do not expire on commit, so a request
    that goes on after a commit of its own would read the rows as they were before it, whatever
    other transactions committed since; and a lock taken after it must be taken again."""
    db().commit()
    db().expire_all()


def form_step(step: Callable[[], object], done: str, refused: str) -> bool:
    """A page's form that runs one operation: commit it and flash ``done``, or, refused, roll back
    and flash ``refused`` with the reason. True when it went through; the view redirects either way."""
    try:
        step()
        commit()
    except DomainError as exc:
        db().rollback()
        flash(f"{refused}：{refusal_text(exc)}")
        return False
    flash(done)
    return True


def current_user() -> User | None:
    user: User | None = g.get("user")
    return user


def actor() -> Actor:
    user = current_user()
    return user if user is not None else ANONYMOUS


def require_user() -> User:
    user = current_user()
    if user is None:
        raise Unauthenticated("请先登录")
    return user


def has_permission(name: str) -> bool:
    """``permissions.has`` for the signed-in user (templates ask by the permission's value)."""
    return has(current_user(), Permission(name))


def is_api() -> bool:
    return request.path.startswith("/api/")


def json_body(model: type[M]) -> M:
    if not request.is_json:
        raise UnsupportedMediaType(HTTP_MESSAGES[415])
    remember_form_model(model)
    return parse(model, load_json(request.get_data(cache=False)))


def form_int(name: str) -> int | None:
    """A whole number from the page's form, or None when it is not one, for the rule it feeds to
    refuse by name (``whole_number`` decides what is one)."""
    try:
        return whole_number(request.form.get(name, ""), name)
    except InvalidInput:
        return None


def query_int(name: str, default: int | None = None, *, minimum: int = 0, maximum: int = INT64_MAX) -> int:
    """A whole number from the query string (``whole_number``: out of range is a named 422, never
    the OverflowError SQLite raises for 2**63); ``default`` when absent or empty."""
    raw = request.args.get(name, "")
    if raw == "" and default is not None:
        return default
    return whole_number(raw, name, minimum=minimum, maximum=maximum)


def request_line() -> str:
    """This request's method and path for a log line: the path is decoded, so ``%0A`` in it is
    a newline that would start a forged line; shown escaped instead."""
    return printable(f"{request.method} {request.path}")


class App(Flask):
    """Flask, logging its unhandled exceptions with the path escaped (Flask's own line quotes
    ``request.path`` as it is)."""

    def log_exception(self, exc_info: tuple[type, BaseException, TracebackType] | tuple[None, None, None]) -> None:
        self.logger.error("Exception on %s", request_line(), exc_info=exc_info)


class BoundedIntConverter(IntegerConverter):
    """The ``int`` URL converter, refusing (404) what no id column can hold: werkzeug's has no
    upper bound, SQLite raises OverflowError for 2**63 (a 500), and every id a path names is a
    32-bit column on PostgreSQL (past it, 422 there but 404 on SQLite: one answer on both)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", INT32_MAX)
        super().__init__(map, *args, **kwargs)


def form_body(model: type[M], lists: tuple[str, ...] = ()) -> M:
    data: dict[str, Any] = {}
    for key in request.form:
        if key == "csrf_token":
            continue
        data[key] = request.form.getlist(key) if key in lists else request.form[key]
    for key in lists:
        data.setdefault(key, [])
    remember_form_model(model)
    return parse(model, {k: v for k, v in data.items() if v != ""})


def client_address() -> str:
    """The client's address: the peer's, or the one a trusted proxy reported (``TRUSTED_PROXY_HOPS``
    installs werkzeug's ProxyFix, which rewrites ``remote_addr``; with 0 no header is believed)."""
    return (request.remote_addr or "?")[:64]


def same_site_path(target: str) -> str | None:
    """``target`` when it is a path on this site, else None: the one check for every redirect to
    an address a request carries (``next``). A browser reads ``//host``, ``/\\host``, a backslash
    anywhere, a scheme, or a tab or newline it strips, as another site; so do their percent-encoded
    forms (``/%5Cevil``) once something decodes them. OWASP Unvalidated Redirects and Forwards
    Cheat Sheet: accept only local paths."""
    if not target or len(target) > 2048:
        return None
    candidate = target
    for _ in range(4):  # %255C is %5C is a backslash: decode until nothing changes
        if not _plain_local_path(candidate):
            return None
        decoded = unquote(candidate)
        if decoded == candidate:
            return target
        candidate = decoded
    return None


def _plain_local_path(path: str) -> bool:
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return False
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") or (ch.isspace() and ch != " ") for ch in path):
        return False
    parts = urlsplit(path)
    return not parts.scheme and not parts.netloc


def _authenticate() -> None:
    g.user = None
    g.auth = None
    if is_api():
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            row = resolve_token(db(), header[7:].strip(), SessionKind.API)
            if row is None:
                raise Unauthenticated("访问令牌无效或已过期", code="invalid_token")
            g.user, g.auth = row.user, row
    elif session.get("sid"):
        row = resolve_token(db(), str(session["sid"]), SessionKind.WEB)
        if row is None:
            session.pop("sid", None)
        else:
            g.user, g.auth = row.user, row


def _authorise() -> Response | None:
    rule = endpoint_rule(current_app, request.endpoint)
    if request.endpoint is None:
        return None  # 404/405 are raised by routing, after this hook
    if rule is None:
        log.error("endpoint %s has no permission rule: refused", request.endpoint)
        raise Forbidden("此功能未声明访问权限，已拒绝")
    if rule in (Permission.PUBLIC, Permission.ISSUER_SIGNED):
        return None  # ISSUER_SIGNED: the view authenticates the message's signature itself
    user = current_user()
    if user is None:
        if is_api():
            raise Unauthenticated("请先登录（需要访问令牌）")
        return redirect(url_for("accounts.login_page", next=request.full_path))  # type: ignore[return-value]
    if rule not in permissions_of(user.roles):
        raise Forbidden(HTTP_MESSAGES[403])
    return None


def _error_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None, exc: DomainError | None = None
) -> Response:
    if is_api() or request.accept_mimetypes.best == "application/json":
        resp = jsonify(body)
    else:
        # a person reads the fields by their names in the form, not by the request's paths
        error = {**body["error"], "fields": field_errors(exc)} if exc is not None and exc.fields else body["error"]
        resp = Response(render_template("error.html", status=status, error=error), mimetype="text/html")
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _refuse_nul() -> None:
    """PostgreSQL's text cannot hold NUL (0x00): refuse it at the door, the same on every database,
    rather than as a DataError deep in a transaction. Multipart forms are left to the views (parsing
    them here would apply the default size limit before an upload view raises it); JSON bodies are
    checked by ``trading.core.schemas.parse``."""
    values = [request.path, *(v for _, v in request.args.items(multi=True))]
    if request.mimetype == "application/x-www-form-urlencoded":
        values += [v for _, v in request.form.items(multi=True)]
    if any("\x00" in v for v in values):
        raise InvalidInput(NUL_REFUSED, code="nul_character")


def csp_nonce() -> str:
    """This response's script nonce (the pages' inline scripts carry it; no other inline script runs)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return str(g.csp_nonce)


def _live_source(live_url: str) -> str:
    """The live room's origin for ``connect-src``: ``:PORT`` is this host on that port (``ggzy
    serve`` runs the live server on the next port; room.js builds the same URL from location)."""
    if live_url.startswith(":"):
        host = request.host
        if not host.endswith("]") and ":" in host:
            host = host.rsplit(":", 1)[0]
        if not all(ch.isalnum() or ch in ".-[]:" for ch in host) or not live_url[1:].isdigit():
            return ""  # a Host header no browser sends: leave the live room out rather than echo it
        return f"{request.scheme}://{host}{live_url}"
    parts = urlsplit(live_url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def content_security_policy(settings: Settings) -> str:
    scripts = " ".join(["'self'", *([f"'nonce-{g.csp_nonce}'"] if "csp_nonce" in g else [])])
    connect = " ".join(filter(None, ["'self'", _live_source(settings.live_url)]))
    return (
        f"default-src 'self'; script-src {scripts}; style-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )


def _security_headers(resp: Response) -> Response:
    """Every answer: not to be framed (clickjacking of staff and bidder buttons), not sniffed, no
    script but the pages' own, no referrer to other sites, and HTTPS only in production (HSTS)."""
    settings: Settings = current_app.extensions["ggzy.settings"]
    h = resp.headers
    for name, value in SECURITY_HEADERS.items():
        h.setdefault(name, value)
    h.setdefault("Content-Security-Policy", content_security_policy(settings))
    if settings.is_production:
        h.setdefault("Strict-Transport-Security", "max-age=31536000")
    return resp


STORAGE_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
STORAGE_DOWN_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO, errno.ENOTDIR, errno.ESTALE})
STORAGE_UNAVAILABLE = "存储服务暂不可用，本次操作未生效，请稍后重试"
STORAGE_FULL = "存储空间不足，本次操作未生效，请稍后重试或联系交易中心"


def storage_failure(exc: BaseException) -> tuple[int, str, str] | None:
    """(status, code, message) when ``exc`` is the object store or a disk failing rather than our
    code: an S3 endpoint that cannot be reached or answers with an error (urllib3, minio), a
    filesystem that refuses writes or is full. None for anything else, which stays a 500."""
    if isinstance(exc, Urllib3Error | MinioException) or type(exc) is ObjectStoreError:
        return 503, "storage_unavailable", STORAGE_UNAVAILABLE
    if isinstance(exc, OSError) and exc.errno in STORAGE_FULL_ERRNOS:
        return 507, "storage_full", STORAGE_FULL
    if isinstance(exc, OSError) and exc.errno in STORAGE_DOWN_ERRNOS:
        return 503, "storage_unavailable", STORAGE_UNAVAILABLE
    return None


BUSY_MESSAGE = "系统繁忙，本次操作未生效，请稍后重试"
CONTENTION_SQLSTATES = frozenset({"40P01", "40001", "55P03"})  # deadlock, serialisation, lock not available


def _is_contention(exc: OperationalError) -> bool:
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in CONTENTION_SQLSTATES:
        return True
    return "database is locked" in str(orig)  # SQLite, after busy_timeout


def install(app: Flask) -> None:
    @app.before_request
    def _before() -> Response | None:
        _refuse_nul()
        _authenticate()
        return _authorise()

    app.after_request(_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.teardown_appcontext
    def _teardown(_exc: BaseException | None) -> None:
        s = g.pop("db", None)
        if s is not None:
            s.rollback()
            s.close()

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError) -> Response:
        if "db" in g:
            g.db.rollback()
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        return _error_response(exc.status, exc.to_json(), headers, exc)

    @app.errorhandler(DataError)
    def _unstorable(exc: DataError) -> Response:
        """A value the database refuses (a NUL in a file name, a number out of range): the input's
        fault, told as such; logged with its trace, as it may also be a bug of ours."""
        if "db" in g:
            g.db.rollback()
        log.warning("database refused a value on %s", request_line(), exc_info=exc)
        body = {
            "error": {"code": "unstorable_input", "message": "输入的数据无法保存：超出允许的范围或含有不允许的字符"}
        }
        return _error_response(422, body)

    @app.errorhandler(OperationalError)
    def _contended(exc: OperationalError) -> Response:
        """A transaction the database gave up on for contention (PostgreSQL broke a deadlock, a
        serialisation failure, SQLite still locked after its busy timeout): rolled back whole, so
        the request may simply be sent again. Anything else of the kind is ours, and stays a 500."""
        if not _is_contention(exc):
            raise exc
        if "db" in g:
            g.db.rollback()
        log.warning("database contention on %s: %s", request_line(), printable(exc.orig))
        body = {"error": {"code": "busy_retry", "message": BUSY_MESSAGE}}
        return _error_response(503, body, {"Retry-After": "1"})

    def _storage(exc: Exception) -> Response:
        """The object store or a disk failing: a named 503 (507 when full), rolled back whole, so
        the request may be sent again; logged with its trace for the operators."""
        found = storage_failure(exc)
        if found is None:
            raise exc
        if "db" in g:
            g.db.rollback()
        status, code, message = found
        log.error("storage failed on %s: %s", request_line(), printable(exc), exc_info=exc)
        headers = {"Retry-After": "30"} if status == 503 else None
        return _error_response(status, {"error": {"code": code, "message": message}}, headers)

    for kind in (OSError, Urllib3Error, MinioException, ObjectStoreError):
        app.register_error_handler(kind, _storage)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        if status == 400 and "CSRF" in (exc.description or ""):
            body = {"error": {"code": "csrf", "message": "页面已过期或缺少安全令牌，请刷新后重试"}}
        else:
            body = {"error": {"code": f"http_{status}", "message": HTTP_MESSAGES.get(status, exc.name)}}
        return _error_response(status, body)

    @app.context_processor
    def _ctx() -> dict[str, Any]:
        user = current_user()
        return {"current_user": user, "user_permissions": permissions_of(user.roles) if user else frozenset()}


__all__ = ["InvalidInput"]
