"""Request parsing shared by the API and the pages: pydantic models, errors in Chinese
(``trading.core.input_errors`` names the fields and says what is wrong)."""

from __future__ import annotations

import json
import unicodedata
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from trading.core.errors import DomainError, InvalidInput
from trading.core.input_errors import error_message, field_label, path_label

M = TypeVar("M", bound=BaseModel)


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


#: PostgreSQL's text cannot hold NUL (0x00); it is refused alike on every database.
NUL_REFUSED = "输入不能包含空字符（NUL, 0x00）"

#: The largest integer every database column we compare with can hold (SQLite's INTEGER and
#: PostgreSQL's BIGINT are 64-bit signed): beyond it SQLite raises OverflowError, a 500.
INT64_MAX = 2**63 - 1
#: the largest id of a 32-bit (``Integer``) column on PostgreSQL
INT32_MAX = 2**31 - 1
INT64_MIN = -(2**63)


def bad_integer(name: str) -> InvalidInput:
    return InvalidInput(
        f"{name} 中的整数超出允许范围（{INT64_MIN}–{INT64_MAX}）",
        code="bad_integer",
        fields={name: "整数超出范围"},
    )


def _refusal(value: Any, where: str) -> InvalidInput | None:
    """The first thing in a request's data (or a model validated from it) that no column can
    store: a NUL in a string, or an integer outside the signed 64-bit range (pydantic's ``int`` has
    no bound, and "9" * 20 in a form becomes one); None when there is none."""
    if isinstance(value, str):
        return InvalidInput(NUL_REFUSED, code="nul_character") if "\x00" in value else None
    if isinstance(value, int) and not isinstance(value, bool):
        return None if INT64_MIN <= value <= INT64_MAX else bad_integer(where)
    if isinstance(value, dict):
        named: list[tuple[Any, str]] = [(k, where) for k in value] + [(v, f"{where}.{k}") for k, v in value.items()]
    elif isinstance(value, BaseModel):
        named = [(v, f"{where}.{k}") for k, v in value.__dict__.items()]
    elif isinstance(value, (list, tuple, set, frozenset)):
        named = [(v, f"{where}.{i}") for i, v in enumerate(value)]
    else:
        return None
    for item, name in named:
        found = _refusal(item, name)
        if found is not None:
            return found
    return None


def _json_int(digits: str) -> int:
    # Python refuses to convert more than 4,300 digits (a ValueError json.loads would raise);
    # 20 characters hold every 64-bit integer with its sign, so longer is refused before int().
    if len(digits) > 20:
        raise bad_integer("body")
    return int(digits)


def load_json(raw: bytes | str) -> Any:
    """A request's JSON text, parsed: not JSON (or nested past the parser's recursion limit) is a
    named 400 ``malformed_json``; an integer literal too long for any column a named 422
    ``bad_integer`` (the range itself is checked by ``parse``)."""
    try:
        return json.loads(raw or b"null", parse_int=_json_int)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise DomainError("JSON 格式错误，无法解析", code="malformed_json") from None


def _named(refused: InvalidInput, model: type[BaseModel]) -> InvalidInput:
    """A refusal of one field named as the schema titles it (``代理机构``) rather than by its path
    (``body.agency_org_id``), which a page would show to a person."""
    key = next(iter(refused.fields), "")
    label = path_label(model, key) if key else ""
    if refused.code != "bad_integer" or not label:
        return refused
    message = f"{label}中的整数超出允许范围（{INT64_MIN}–{INT64_MAX}）"
    return InvalidInput(message, code="bad_integer", fields=refused.fields, names={key: label})


def parse(model: type[M], data: Any) -> M:
    """Validate ``data``; raise InvalidInput with a message per field. NUL and integers no column
    holds are refused by name, in what was sent and in what pydantic made of it."""
    if not isinstance(data, dict):
        raise InvalidInput("请求内容应为 JSON 对象 (body must be a JSON object)")
    refused = _refusal(data, "body")
    if refused is not None:
        raise _named(refused, model)
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        fields: dict[str, str] = {}
        names: dict[str, str] = {}
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "body"
            message = error_message(err, model)
            fields[key] = f"{fields[key]}；{message}" if key in fields else message
            label = field_label(model, err["loc"])
            if label:
                names[key] = label
        raise InvalidInput("输入有误，请检查标出的字段", fields=fields, names=names) from None
    refused = _refusal(parsed, "body")
    if refused is not None:
        raise _named(refused, model)
    return parsed


def whole_number(text: str, name: str, *, minimum: int = 0, maximum: int = INT64_MAX) -> int:
    """The one parser of an integer a request carries outside a JSON body (query strings, forms,
    headers): ASCII digits only (``int`` accepts "٣" and "1_0"), at most 19 of them (thousands
    exceed ``int``'s limit), within ``minimum``..``maximum``; anything else is a named 422."""
    raw = text.strip()
    digits = raw[1:] if raw.startswith("-") else raw
    if digits.isascii() and digits.isdigit() and len(digits) <= 19 and minimum <= int(raw) <= maximum:
        return int(raw)
    raise InvalidInput(f"参数 {name} 应为 {minimum}–{maximum} 之间的整数", code="bad_integer", fields={name: "整数"})


#: Unicode's bidirectional controls (UAX #9): U+202E shows "x\u202etxt.exe" as "xexe.txt".
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
MAX_FILE_NAME = 200


def file_name(name: str, field: str = "name") -> str:
    """A participant's file name, as it will appear in Content-Disposition and inside archive
    packages: refused (a named 422) with control characters (a forged log line or header), bidi
    controls (an .exe shown as .txt), path separators or ``..`` (zip-slip on extraction), blanks at
    either end (two names that look alike), or longer than ``MAX_FILE_NAME``. OWASP File Upload
    Cheat Sheet: "restrict the characters allowed in the filename"."""
    bad = (
        not 1 <= len(name) <= MAX_FILE_NAME
        or name != name.strip()
        or name in (".", "..")
        or any(
            ch in "/\\" or ch in BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name
        )
    )
    if bad:
        raise InvalidInput(
            "文件名无效",
            code="bad_file_name",
            fields={field: f"1–{MAX_FILE_NAME} 个字符，不含路径、控制字符或首尾空格"},
        )
    return name


LINE_REFUSED = "不能包含控制字符、换行、双向控制字符或孤立的代理码位（如 ESC、U+2028、U+202E、U+D800）"
BLOCK_REFUSED = "不能包含控制字符、双向控制字符或孤立的代理码位（如 ESC、U+2028、U+202E、U+D800）；换行和制表符可以"


def _controls(text: str, allowed: str) -> bool:
    return any(
        # a lone surrogate (Cs) from JSON's \ud800 is no character: no database or file could store it
        ch not in allowed and (ch in BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp"))
        for ch in text
    )


def one_line(text: str) -> str:
    """A participant's one-line text that others read (a tender's title, a lot's name): C0/C1
    controls (ESC would drive a bidder's terminal, or forge a line of a log or CSV), line breaks,
    U+2028/2029 and bidi controls are refused (a pydantic validator: a 422 naming the field)."""
    if _controls(text, ""):
        raise ValueError(LINE_REFUSED)
    return text


def text_block(text: str) -> str:
    """The same for several lines of text (a description, a question, an answer): only line breaks
    (a form's textarea sends CRLF) and tabs are allowed of the control characters."""
    if _controls(text, "\t\n\r"):
        raise ValueError(BLOCK_REFUSED)
    return text


def checked_text(text: str, field: str, *, lines: bool = True) -> str:
    """Text that arrives outside a schema (a page's form field, a rule's own argument) under the
    same rule as ``TextBlock`` (or ``OneLine``): refused as a named 422 ``control_character``."""
    try:
        return text_block(text) if lines else one_line(text)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="control_character", fields={field: str(exc)}) from None


OneLine = Annotated[str, AfterValidator(one_line)]
TextBlock = Annotated[str, AfterValidator(text_block)]


def printable(text: object) -> str:
    """``text`` fit for one log line: control characters (CR, LF, the other C0/C1, U+2028/2029)
    and format characters (bidi controls) shown escaped, so a request path or a participant's
    words cannot start a forged line. OWASP Logging Cheat Sheet: sanitise event data to prevent
    log injection."""
    return "".join(
        ch if ch == " " or unicodedata.category(ch)[0] not in "CZ" else ch.encode("unicode_escape").decode("ascii")
        for ch in str(text)
    )
