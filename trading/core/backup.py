"""Backups an operator takes and restores (``ggzy backup`` / ``ggzy restore``).

A backup is a directory: the database (``pg_dump``'s custom format, or SQLite's online backup),
every object of the object store and of the archive store (content-addressed: a file's SM3 is its
name, so each one checks itself), the archive objects' retention, ``manifest.json``, which lists all
of it with sizes and digests, and last ``manifest.sig``: the manifest's SM3 signed with the
platform's signing key. A directory without both is an unfinished backup. A database dump is code
that ``pg_restore`` runs, so restore accepts only a backup this platform signed (its CA, from
``PLATFORM_KEYS_DIR``, which must be back in place first).

The audit log's signed checkpoints are in both the database and the archive store, so a restored
platform is checked the way any other is: ``ggzy audit verify`` and ``ggzy archive verify-log``.
The platform's keys (``PLATFORM_KEYS_DIR``) and ``SECRET_KEY`` are not in a backup: whoever holds a
backup must not also hold what opens its sealed contents (docs/operators.md, 备份).

Restore checks the whole backup before it writes anything, writes the objects first (putting one
twice is harmless, so an interrupted restore can be run again) and the database last, in one
transaction, into a database that has no tables.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import pathlib
import re
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from archive import clock
from archive.objectstore.base import KEY_PREFIX, ObjectStore, ObjectStoreError, StoredObject
from archive.objectstore.factory import open_store
from signing.digest import SM3, sm3_hex
from signing.errors import SigningError
from signing.statements import SignedStatement, sign_statement
from trading.core.config import ConfigError, Settings
from trading.core.db import make_engine
from trading.core.errors import Conflict, InvalidInput
from trading.core.platform_keys import PlatformKeys, keys_dir, load_platform_keys

FORMAT = "ggzy-backup/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
STATEMENT_TYPE = "backup_manifest"
HEX64 = re.compile(r"[0-9a-f]{64}")
#: the stores a backup holds, by the folder each goes to
STORES = ("objects", "archive")
#: a manifest lists every object: a few hundred bytes each, so this bounds it at millions
MAX_MANIFEST_BYTES = 1 << 30
OBJECT_KEY = re.compile(r"sm3/[0-9a-f]{64}")
CHUNK = 1 << 20


@dataclass(frozen=True)
class Summary:
    """What a backup holds, as ``ggzy backup`` and ``ggzy restore`` report it."""

    dialect: str
    revision: str
    audit_seq: int
    objects: int
    archive_objects: int
    bytes: int


def take(settings: Settings, out: pathlib.Path) -> Summary:
    """Back the platform up into ``out`` (a new or empty directory). The database is dumped first
    and the objects copied after it: every object a row of the dump names was stored before that
    row was committed, and objects are never rewritten."""
    if out.exists() and any(out.iterdir()):
        raise Conflict(f"备份目录 {out} 不是空的", code="backup_dir_not_empty")
    out.mkdir(parents=True, exist_ok=True)
    keys = load_platform_keys(settings)  # before anything is written: a backup is signed with them
    url = settings.database_url
    dialect = make_url(url).get_backend_name()
    database, revision, head = _dump(url, dialect, out)
    stores: dict[str, list[dict[str, Any]]] = {}
    with unreachable_stores():
        for folder, store in zip(STORES, _stores(settings), strict=True):
            stores[folder] = [_copy_out(store, obj.key, out / folder) for obj in _listed(store)]
    manifest = {
        "format": FORMAT,
        "created_at": clock.now().isoformat(),
        "platform_code": settings.platform_code,
        "database": {**database, "dialect": dialect, "revision": revision},
        "audit": head,
        "stores": stores,
    }
    text_ = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
    (out / MANIFEST).write_bytes(text_)
    signed = sign_statement(
        STATEMENT_TYPE, {"manifest_sm3": sm3_hex(text_)}, key=keys.sign_key, cert=keys.sign_cert, now=clock.now()
    )
    (out / SIGNATURE).write_bytes(signed.to_json())
    return summary(manifest)


def restore(settings: Settings, src: pathlib.Path) -> Summary:
    """Restore the backup in ``src`` into this deployment's (empty) database and stores."""
    try:
        keys = load_platform_keys(settings)
    except ConfigError:
        raise Conflict(
            f"先放回平台密钥目录（{keys_dir(settings)}）再恢复：备份由它签名，核验也要用它；不要运行 ggzy init",
            code="backup_keys_missing",
        ) from None
    manifest = read_manifest(src, keys)
    check_files(src, manifest)
    url = settings.database_url
    dialect = make_url(url).get_backend_name()
    if dialect != manifest["database"]["dialect"]:
        raise InvalidInput(
            f"备份来自 {manifest['database']['dialect']} 数据库，不能恢复到 {dialect}（不支持跨数据库恢复）",
            code="backup_wrong_database",
        )
    _ensure_empty_database(url)
    stores = _stores(settings)
    with unreachable_stores():
        for folder, store in zip(STORES, stores, strict=True):
            listed = {obj["key"] for obj in manifest["stores"][folder]}
            strangers = [obj.key for obj in _listed(store) if obj.key not in listed]
            if strangers:
                raise Conflict(
                    f"对象存储（{folder}）里已有备份之外的对象（如 {strangers[0]}），请恢复到空的存储",
                    code="backup_store_not_empty",
                )
        for folder, store in zip(STORES, stores, strict=True):
            for obj in manifest["stores"][folder]:
                _copy_in(store, src / folder, obj)
    _load(url, dialect, src, manifest["database"])
    found = _state(url)
    if found != (manifest["database"]["revision"], manifest["audit"]):
        raise Conflict(
            f"恢复后的数据库与备份清单不符（结构版本、审计日志）：{found}，请删除该数据库后重试",
            code="backup_mismatch",
        )
    return summary(manifest)


def summary(manifest: dict[str, Any]) -> Summary:
    stores = manifest["stores"]
    return Summary(
        dialect=manifest["database"]["dialect"],
        revision=manifest["database"]["revision"],
        audit_seq=manifest["audit"]["seq"],
        objects=len(stores["objects"]),
        archive_objects=len(stores["archive"]),
        bytes=manifest["database"]["size"] + sum(o["size"] for f in STORES for o in stores[f]),
    )


# ---------------------------------------------------------------- reading a backup, with bounds
def read_manifest(src: pathlib.Path, keys: PlatformKeys) -> dict[str, Any]:
    """The backup's manifest, if this platform signed it and it is well formed; else refused."""
    path, sig = src / MANIFEST, src / SIGNATURE
    if not path.is_file() or not sig.is_file():
        raise InvalidInput(
            f"{src} 里没有 {MANIFEST} 和 {SIGNATURE}：不是备份，或备份没有做完", code="backup_incomplete"
        )
    if path.stat().st_size > MAX_MANIFEST_BYTES or sig.stat().st_size > 64 << 10:
        raise InvalidInput(f"{MANIFEST} 超过 {MAX_MANIFEST_BYTES} 字节", code="backup_damaged")
    data = path.read_bytes()
    try:
        body = SignedStatement.from_json(sig.read_bytes()).verify(trust=keys.trust, expected_type=STATEMENT_TYPE)
        signed = body["body"]["manifest_sm3"] == sm3_hex(data)
    except (SigningError, KeyError, TypeError, ValueError):
        signed = False
    if not signed:
        raise InvalidInput(
            f"{SIGNATURE} 不是本平台对这份清单的签名：不恢复别的平台或被改过的备份", code="backup_not_signed"
        )
    try:
        manifest = json.loads(data.decode("utf-8"))
        ok = _well_formed(manifest)
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise InvalidInput(f"{MANIFEST} 无法读取：{type(exc).__name__}", code="backup_damaged") from None
    if not ok:
        raise InvalidInput(f"{MANIFEST} 不是 {FORMAT} 格式", code="backup_damaged")
    return dict(manifest)


def _well_formed(m: Any) -> bool:
    db, audit = m["database"], m["audit"]
    if m["format"] != FORMAT or db["file"] not in ("database.dump", "database.sqlite"):
        return False
    if db["dialect"] not in ("postgresql", "sqlite") or not isinstance(db["revision"], str):
        return False
    if not (_size(db["size"]) and isinstance(db["sm3"], str) and HEX64.fullmatch(db["sm3"])):
        return False
    if not (_size(audit["seq"]) and (audit["chain_hash"] is None or HEX64.fullmatch(str(audit["chain_hash"])))):
        return False
    for folder in STORES:
        for o in m["stores"][folder]:
            if not (isinstance(o["key"], str) and OBJECT_KEY.fullmatch(o["key"]) and _size(o["size"])):
                return False
            if not isinstance(o["legal_hold"], bool) or (
                folder != "archive" and (o["legal_hold"] or o["retain_until"])
            ):
                return False
            if o["retain_until"] is not None:
                dt.datetime.fromisoformat(o["retain_until"])  # ValueError/TypeError: not a date
    return True


def _size(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 50


def check_files(src: pathlib.Path, manifest: dict[str, Any]) -> None:
    """Every file the manifest lists is there, of its size and digest; nothing is written before."""
    db = manifest["database"]
    if _sm3_of(src / db["file"], db["size"]) != db["sm3"]:
        raise InvalidInput(f"数据库备份 {db['file']} 已损坏（大小或 SM3 不符）", code="backup_damaged")
    for folder in STORES:
        for obj in manifest["stores"][folder]:
            if "sm3/" + (_sm3_of(src / folder / obj["key"], obj["size"]) or "") != obj["key"]:
                raise InvalidInput(f"备份中的对象 {folder}/{obj['key']} 缺失或已损坏", code="backup_damaged")


def _sm3_of(path: pathlib.Path, size: int) -> str | None:
    """The file's SM3 if it is exactly ``size`` bytes (read no further); else None."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size != size:
            return None
        h, left = SM3(), size
        with path.open("rb") as f:
            while left > 0:
                chunk = f.read(min(CHUNK, left))
                if not chunk:
                    return None
                h.update(chunk)
                left -= len(chunk)
            if f.read(1):
                return None
        return h.hexdigest()
    except OSError:
        return None


# ---------------------------------------------------------------- the stores
def _stores(settings: Settings) -> tuple[ObjectStore, ObjectStore]:
    try:
        with unreachable_stores():
            return open_store(settings.object_store_url), open_store(settings.archive_store_url)
    except ValueError as exc:
        raise Conflict(f"对象存储地址无效：{exc}", code="storage_unavailable") from None


@contextlib.contextmanager
def unreachable_stores() -> Iterator[None]:
    """A store that does not answer (or refuses) is named, whatever its SDK raised."""
    from minio.error import MinioException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except (MinioException, HTTPError, ConnectionError) as exc:
        raise Conflict(f"对象存储无法访问：{type(exc).__name__}", code="storage_unavailable") from None


def _listed(store: ObjectStore) -> list[StoredObject]:
    """The store's objects; something in it that is not one (a stray file) is named, not copied."""
    found = list(store.list(KEY_PREFIX))
    for obj in found:
        if not OBJECT_KEY.fullmatch(obj.key):
            raise Conflict(f"对象存储里有不是对象的文件：{obj.key}", code="stored_object_damaged")
    return found


def _copy_out(store: ObjectStore, key: str, folder: pathlib.Path) -> dict[str, Any]:
    path = folder / key
    path.parent.mkdir(parents=True, exist_ok=True)
    h, size = SM3(), 0
    with store.open(key) as src, path.open("wb") as dst:
        for chunk in iter(lambda: src.read(CHUNK), b""):
            h.update(chunk)
            dst.write(chunk)
            size += len(chunk)
    if "sm3/" + h.hexdigest() != key:
        raise InvalidInput(f"对象存储中的 {key} 与它的 SM3 不符，未备份", code="stored_object_damaged")
    obj = store.stat(key)
    retain = obj.retain_until if obj else None
    return {
        "key": key,
        "size": size,
        "retain_until": retain.isoformat() if retain else None,
        "legal_hold": bool(obj and obj.legal_hold),
    }


def _copy_in(store: ObjectStore, folder: pathlib.Path, obj: dict[str, Any]) -> None:
    with (folder / obj["key"]).open("rb") as f:
        stored = store.put_stream(f, max_size=obj["size"])
    if stored.key != obj["key"]:  # checked before; a file changed since is a damaged backup
        raise InvalidInput(f"备份中的对象 {obj['key']} 在恢复时变了", code="backup_damaged")
    try:
        if obj["retain_until"]:
            store.set_retention(stored.key, dt.datetime.fromisoformat(obj["retain_until"]))
        if obj["legal_hold"]:
            store.set_legal_hold(stored.key, True)
    except ObjectStoreError as exc:
        raise Conflict(
            f"档案存储不能设置保留期（{exc}）：恢复到启用了对象锁定的桶（?lock=1），然后重跑",
            code="backup_store_no_lock",
        ) from None


# ---------------------------------------------------------------- the database
def _pg_args(url: str) -> tuple[list[str], dict[str, str]]:
    """libpq's connection URI for ``url`` (every parameter: sslmode, certificates …); the password
    goes in the environment, never on a command line another user can read."""
    u = make_url(url)
    uri = u.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    return ["--dbname", uri], env


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=24 * 3600, check=False)
    except FileNotFoundError:
        raise Conflict(f"找不到 {cmd[0]}：请安装与数据库同版本的 PostgreSQL 客户端", code="pg_tools_missing") from None
    if done.returncode != 0:
        raise Conflict(f"{what}失败：{done.stderr.strip()[-2000:]}", code="backup_database_failed")


def _dump(url: str, dialect: str, out: pathlib.Path) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """The database into ``out``, with its schema revision and audit head read from the same
    snapshot the dump was taken from (PostgreSQL: an exported snapshot; SQLite: the copy itself)."""
    if dialect == "postgresql":
        path = out / "database.dump"
        args, env = _pg_args(url)
        engine = make_engine(url)
        try:
            with engine.connect() as c:
                c.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
                snapshot = str(c.execute(text("SELECT pg_export_snapshot()")).scalar_one())
                revision, head = _read_state(c)
                cmd = ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}"]
                _run([*cmd, "--file", str(path), *args], env, "pg_dump ")
        except DBAPIError as exc:
            raise Conflict(f"数据库无法读取：{type(exc.orig).__name__}", code="backup_database_failed") from None
        finally:
            engine.dispose()
    elif dialect == "sqlite":
        path = out / "database.sqlite"
        source_path = pathlib.Path(make_url(url).database or "")
        if not source_path.is_file():
            raise Conflict(f"SQLite 数据库文件不存在：{source_path}", code="backup_database_failed")
        source = sqlite3.connect(f"{source_path.resolve().as_uri()}?mode=ro", uri=True)
        target = sqlite3.connect(path)
        try:
            source.backup(target)  # a consistent copy while the platform runs
        finally:
            target.close()
            source.close()
        revision, head = _state(f"sqlite:///{path}")
    else:
        raise InvalidInput(f"不支持备份 {dialect} 数据库", code="backup_wrong_database")
    size = path.stat().st_size
    return {"file": path.name, "size": size, "sm3": _sm3_of(path, size)}, revision, head


def _read_state(c: Connection) -> tuple[str, dict[str, Any]]:
    revision = str(c.execute(text("SELECT version_num FROM alembic_version")).scalar_one())
    head = c.execute(text("SELECT seq, chain_hash FROM audit_head")).one_or_none()
    audit = {"seq": int(head[0]) if head else 0, "chain_hash": bytes(head[1]).hex() if head else None}
    return revision, audit


def _state(url: str) -> tuple[str, dict[str, Any]]:
    """A database's schema revision and audit head, as a backup's manifest records them."""
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            return _read_state(c)
    except DBAPIError as exc:
        raise Conflict(f"数据库无法读取：{type(exc.orig).__name__}", code="backup_database_failed") from None
    finally:
        engine.dispose()


def _ensure_empty_database(url: str) -> None:
    """Nothing in the target: no table, view or sequence in any schema of ours."""
    if make_url(url).get_backend_name() == "sqlite":
        path = pathlib.Path(make_url(url).database or "")
        if not path.exists() or path.stat().st_size == 0:
            return
        count = "SELECT count(*) FROM sqlite_master"
    else:
        count = (
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'"
        )
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            found = int(c.execute(text(count)).scalar_one())
    except DBAPIError as exc:
        raise Conflict(f"目标数据库无法读取：{type(exc.orig).__name__}", code="backup_database_failed") from None
    finally:
        engine.dispose()
    if found:
        raise Conflict(
            f"目标数据库里已有 {found} 个表、视图或序列：请恢复到新建的空数据库（SQLite：新的实例目录）",
            code="backup_database_not_empty",
        )


def _load(url: str, dialect: str, src: pathlib.Path, database: dict[str, Any]) -> None:
    if dialect == "postgresql":
        args, env = _pg_args(url)
        cmd = ["pg_restore", "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error", *args]
        _run([*cmd, str(src / database["file"])], env, "pg_restore ")
        return
    target = pathlib.Path(make_url(url).database or "")
    target.parent.mkdir(parents=True, exist_ok=True)
    for journal in (target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
        journal.unlink(missing_ok=True)  # an empty database's, which must not be applied to the copy
    h = SM3()
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".restore-", delete=False) as tmp:
        with (src / database["file"]).open("rb") as f:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                h.update(chunk)
                tmp.write(chunk)
        tmp.flush()
        os.fsync(tmp.fileno())
    if h.hexdigest() != database["sm3"]:  # changed since it was checked
        os.unlink(tmp.name)
        raise InvalidInput(f"数据库备份 {database['file']} 在恢复时变了", code="backup_damaged")
    os.replace(tmp.name, target)  # whole or not at all
