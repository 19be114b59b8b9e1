"""How a receiving platform checks a national record's envelope (``trading/exchange/envelope.py``)
with nothing but the sending platform's signing certificate: every check that fails raises
``Refused`` with a named code, so the sender learns exactly what was wrong.

Imports only ``signing`` and ``archive``: a receiver needs none of the platform's own code.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Any

from archive.merkle import leaf_hash, verify_inclusion
from archive.transparency import verify_checkpoint
from signing.canonical import canonical_json
from signing.certs import Certificate
from signing.digest import sm3_hex
from signing.statements import SignedStatement

FORMAT = "ggzy-exchange/1"
RECORD_TYPE = "exchange_record"
#: the fields every record carries; the receiver keys what it stores by the last four
REQUIRED = ("DATA_KEY", "TENDER_PROJECT_CODE", "UNIFIED_DEAL_CODE", "PLATFORM_CODE", "DATA_TIMESTAMP")
#: the keys an envelope (and its source and proof) has, and no others
ENVELOPE_KEYS = frozenset({"format", "table", "record", "source", "proof", "signature"})
SOURCE_KEYS = frozenset({"event", "event_sm3", "payload", "attachment", "attachment_of", "bindings"})
PROOF_KEYS = frozenset({"leaf_index", "tree_size", "hashes", "checkpoint"})


def printable(text: object) -> str:
    """``text`` fit for a terminal or a log line: control and format characters (escape sequences,
    CR/LF, bidi overrides) shown escaped. What a sender put in an envelope reaches the refusal's
    message, the stored refusals and the text report."""
    return "".join(
        ch if ch == " " or unicodedata.category(ch)[0] not in "CZ" else ch.encode("unicode_escape").decode("ascii")
        for ch in str(text)
    )


class Refused(ValueError):
    def __init__(self, code: str, message: str, status: int = 422) -> None:
        message = printable(message)
        super().__init__(f"{message} [{code}]")
        self.code, self.message, self.status = code, message, status


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Python keeps the last of duplicated keys, another parser the first: a forged value placed
    before the real one would be verified by one reading and stored or shown by the other."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise Refused("duplicate_key", f"JSON 对象中键 {key!r} 重复 (duplicate key)")
        out[key] = value
    return out


def _no_float(text: str) -> Any:
    raise Refused("malformed_envelope", f"不允许浮点数或非有限数 {text[:40]!r} (floats are not canonical)")


def strict_json(text: str | bytes) -> Any:
    """JSON as canonical JSON allows it: no duplicate keys, no floats, no NaN or Infinity. Raises
    Refused; a document nested too deep raises RecursionError (the caller names it)."""
    return json.loads(text, object_pairs_hook=_no_duplicates, parse_float=_no_float, parse_constant=_no_float)


def parse_envelope(body: bytes) -> dict[str, Any]:
    """The envelope in ``body``, strictly read, with no key it does not know."""
    try:
        env = strict_json(body)
    except Refused:
        raise
    except RecursionError as exc:
        raise Refused("malformed_envelope", "JSON 嵌套过深 (nested too deep)") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise Refused("malformed_envelope", "不是 JSON (not JSON)") from exc
    if not isinstance(env, dict):
        raise Refused("malformed_envelope", "信封应为 JSON 对象 (envelope is not an object)")
    for where, allowed in (("", ENVELOPE_KEYS), ("source", SOURCE_KEYS), ("proof", PROOF_KEYS)):
        part = env.get(where) if where else env
        if isinstance(part, dict) and set(part) - allowed:
            extra = ", ".join(sorted(repr(k) for k in set(part) - allowed))[:200]
            raise Refused("unknown_key", f"信封{where}中有未知的键 {extra} (unknown key)")
    return env


def _int(value: Any, what: str) -> int:
    if type(value) is not int:  # not a float, not a bool, not text
        raise Refused("malformed_envelope", f"{what} 应为整数 (not an integer)")
    return value


@dataclass(frozen=True)
class Verified:
    table: str
    record: dict[str, Any]
    platform_code: str
    data_key: str
    data_timestamp: str
    digest: str  # SM3 of what was signed: the same record re-sent has the same digest
    seq: int
    tree_size: int


def _pointer(doc: Any, pointer: str) -> Any:
    """RFC 6901 JSON pointer."""
    if pointer == "":
        return doc
    if not pointer.startswith("/"):
        raise KeyError(pointer)
    for raw in pointer[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def _same(field: Any, source: Any) -> bool:
    """A record's field against its source value: numbers and codes as text, an object or a list
    as its canonical JSON (how records carry them)."""
    if field is None or source is None:
        return bool(field == source)
    if isinstance(source, dict | list):
        return bool(field == canonical_json(source).decode("utf-8"))
    return str(field) == str(source)


def verify_envelope(env: Any, trusted: Certificate, platform_code: str | None = None) -> Verified:
    """Every check of the envelope, in order; ``Refused`` names the first that fails."""
    try:
        if env.get("format") != FORMAT:
            raise Refused("unknown_format", f"不支持的格式 {env.get('format')!r} (unknown format)")
        table, record, source, proof = env["table"], env["record"], env["source"], env["proof"]
        event, payload_text, bindings = source["event"], source["payload"], source["bindings"]
        if not isinstance(record, dict) or not isinstance(event, dict) or not isinstance(bindings, dict):
            raise TypeError("record, event and bindings are objects")
        missing = [f for f in REQUIRED if not isinstance(record.get(f), str) or not record.get(f)]
        if missing:
            raise Refused("missing_field", f"记录缺少字段 {', '.join(missing)} (required field missing)")
        statement = SignedStatement.from_json(str(env["signature"]).encode())
    except Refused:
        raise
    except Exception as exc:
        raise Refused("malformed_envelope", f"信封格式错误 (malformed envelope): {type(exc).__name__}") from exc
    # 1. the platform's signature, and the record against what it signed
    try:
        signed = statement.verify(trusted=trusted, expected_type=RECORD_TYPE)["body"]
    except Exception as exc:
        raise Refused("bad_signature", f"记录签名无效 (record signature invalid): {exc}") from exc
    event_sm3 = sm3_hex(canonical_json(event))
    expected = {
        "format": FORMAT,
        "table": table,
        "record_sm3": sm3_hex(canonical_json(record)),
        "event_sm3": event_sm3,
        "bindings": bindings,
    }
    if signed != expected:
        raise Refused("record_altered", "记录内容与平台签名的不符：传输中被修改 (record altered in transit)")
    # 2. the event, its payload and the attached document
    if source.get("event_sm3") != event_sm3:
        raise Refused("event_altered", "来源事件与其 SM3 不符 (source event altered)")
    if sm3_hex(str(payload_text).encode("utf-8")) != event.get("payload_sm3"):
        raise Refused("payload_altered", "事件内容与事件记录的 SM3 不符 (event payload altered)")
    try:
        payload = strict_json(str(payload_text))
        attachment = source.get("attachment")
        doc = None
        if attachment is not None:
            named = payload[source["attachment_of"]]
            if sm3_hex(str(attachment).encode("utf-8")) != named:
                raise Refused("attachment_altered", "附带文件与事件记录的 SM3 不符 (attached document altered)")
            doc = strict_json(str(attachment))
    except Refused:
        raise
    except Exception as exc:
        raise Refused("malformed_envelope", f"来源内容格式错误 (malformed source): {type(exc).__name__}") from exc
    # 3. each bound field against its source
    roots = {"event": event, "payload": payload, "attachment": doc}
    for name, where in bindings.items():
        origin, _, pointer = str(where).partition(":")
        try:
            value = _pointer(roots[origin], pointer)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise Refused("binding_missing", f"字段 {name} 的来源 {where} 不存在 (binding source missing)") from exc
        if not _same(record.get(name), value):
            raise Refused("record_mismatch", f"字段 {name} 与其来源 {where} 不符 (record disagrees with its source)")
    # 4. the checkpoint and the inclusion proof
    try:
        cp = verify_checkpoint(str(proof["checkpoint"]), trusted)
    except Exception as exc:
        raise Refused("bad_checkpoint", f"检查点签名无效 (checkpoint signature invalid): {exc}") from exc
    try:
        seq, tree_size = _int(event["seq"], "seq"), _int(proof["tree_size"], "tree_size")
        hashes = [bytes.fromhex(h) for h in proof["hashes"]]
        root = bytes.fromhex(cp["root_sm3"])
        leaf = leaf_hash(canonical_json(event))
        ok = (
            cp["tree_size"] == tree_size
            and _int(proof["leaf_index"], "leaf_index") == seq - 1
            and verify_inclusion(seq - 1, tree_size, leaf, hashes, root)
        )
    except Refused:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise Refused("malformed_envelope", f"证明格式错误 (malformed proof): {type(exc).__name__}") from exc
    if not ok:
        raise Refused("inclusion_failed", "事件不在平台签名的检查点中 (inclusion proof does not verify)")
    if platform_code is not None and record["PLATFORM_CODE"] != platform_code:
        raise Refused(
            "unknown_platform", f"平台代码 {record['PLATFORM_CODE']} 不是本接收端接收的平台 (unknown platform)"
        )
    return Verified(
        table=str(table),
        record=record,
        platform_code=record["PLATFORM_CODE"],
        data_key=record["DATA_KEY"],
        data_timestamp=record["DATA_TIMESTAMP"],
        digest=sm3_hex(canonical_json(expected)),
        seq=seq,
        tree_size=tree_size,
    )
