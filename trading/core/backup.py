"""Backups an operator takes and restores (``ggzy backup`` / ``ggzy restore``).

A backup is a directory: the database (``pg_dump``'s custom format, or SQLite's online backup),
every object of the object store and of the archive store (content-addressed: a file's SM3 is its
name, so each one checks itself), the archive objects' retention, and ``manifest.json`` last, which
lists all of it with sizes and digests. A directory without a manifest is an unfinished backup.

The audit log's signed checkpoints are in both the database and the archive store, so a restored
platform is checked the way any other is: ``ggzy audit verify`` and ``ggzy archive verify-log``.
The platform's keys (``PLATFORM_KEYS_DIR``) and ``SECRET_KEY`` are not in a backup: whoever holds a
backup must not also hold what opens its sealed contents (docs/operators.md, 备份).

Restore checks the whole backup before it writes anything, writes the objects first (putting one
twice is harmless, so an interrupted restore can be run again) and the database last, in one
transaction, into a database that has no tables.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import re
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from archive import clock
from archive.objectstore.base import KEY_PREFIX, ObjectStore
from archive.objectstore.factory import open_store
from signing.digest import SM3
from trading.core.config import Settings
from trading.core.db import make_engine
from trading.core.errors import Conflict, InvalidInput

FORMAT = "ggzy-backup/1"
MANIFEST = "manifest.json"
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
    url = settings.database_url
    dialect = make_url(url).get_backend_name()
    database = _dump(url, dialect, out)
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            revision = str(c.execute(text("SELECT version_num FROM alembic_version")).scalar_one())
            head = c.execute(text("SELECT seq, chain_hash FROM audit_head")).one_or_none()
    finally:
        engine.dispose()
    stores: dict[str, list[dict[str, Any]]] = {}
    for folder, store in zip(STORES, _stores(settings), strict=True):
        stores[folder] = [_copy_out(store, obj.key, out / folder) for obj in store.list(KEY_PREFIX)]
    manifest = {
        "format": FORMAT,
        "created_at": clock.now().isoformat(),
        "platform_code": settings.platform_code,
        "database": {**database, "dialect": dialect, "revision": revision},
        "audit": {"seq": int(head[0]) if head else 0, "chain_hash": head[1].hex() if head else None},
        "stores": stores,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return summary(manifest)


def restore(settings: Settings, src: pathlib.Path) -> Summary:
    """Restore the backup in ``src`` into this deployment's (empty) database and stores."""
    manifest = read_manifest(src)
    check_files(src, manifest)
    url = settings.database_url
    dialect = make_url(url).get_backend_name()
    if dialect != manifest["database"]["dialect"]:
        raise InvalidInput(
            f"备份来自 {manifest['database']['dialect']} 数据库，不能恢复到 {dialect}", code="backup_wrong_database"
        )
    _ensure_empty_database(url)
    stores = _stores(settings)
    for folder, store in zip(STORES, stores, strict=True):
        listed = {obj["key"] for obj in manifest["stores"][folder]}
        strangers = [obj.key for obj in store.list(KEY_PREFIX) if obj.key not in listed]
        if strangers:
            raise Conflict(
                f"对象存储（{folder}）里已有备份之外的对象（如 {strangers[0]}），请恢复到空的存储",
                code="backup_store_not_empty",
            )
    for folder, store in zip(STORES, stores, strict=True):
        for obj in manifest["stores"][folder]:
            _copy_in(store, src / folder, obj)
    _load(url, dialect, src, manifest["database"])
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
def read_manifest(src: pathlib.Path) -> dict[str, Any]:
    path = src / MANIFEST
    if not path.is_file():
        raise InvalidInput(f"{src} 里没有 {MANIFEST}：不是备份，或备份没有做完", code="backup_incomplete")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise InvalidInput(f"{MANIFEST} 超过 {MAX_MANIFEST_BYTES} 字节", code="backup_damaged")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        ok = manifest["format"] == FORMAT and all(
            isinstance(o["key"], str)
            and OBJECT_KEY.fullmatch(o["key"])
            and isinstance(o["size"], int)
            and o["size"] >= 0
            for folder in STORES
            for o in manifest["stores"][folder]
        )
        ok = ok and isinstance(manifest["database"]["file"], str) and isinstance(manifest["database"]["size"], int)
        ok = ok and manifest["database"]["file"] in ("database.dump", "database.sqlite")
        ok = ok and isinstance(manifest["audit"]["seq"], int)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"{MANIFEST} 无法读取：{type(exc).__name__}", code="backup_damaged") from None
    if not ok:
        raise InvalidInput(f"{MANIFEST} 不是 {FORMAT} 格式", code="backup_damaged")
    return dict(manifest)


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
    return open_store(settings.object_store_url), open_store(settings.archive_store_url)


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
    if obj.get("retain_until"):
        store.set_retention(stored.key, dt.datetime.fromisoformat(obj["retain_until"]))
    if obj.get("legal_hold"):
        store.set_legal_hold(stored.key, True)


# ---------------------------------------------------------------- the database
def _pg_args(url: str) -> tuple[list[str], dict[str, str]]:
    """libpq connection arguments for ``url``; the password goes in the environment, not argv."""
    u = make_url(url)
    args = ["--host", u.host or "localhost", "--port", str(u.port or 5432), "--dbname", u.database or ""]
    if u.username:
        args += ["--username", u.username]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    return args, env


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=24 * 3600, check=False)
    except FileNotFoundError:
        raise Conflict(f"找不到 {cmd[0]}：请安装与数据库同版本的 PostgreSQL 客户端", code="pg_tools_missing") from None
    if done.returncode != 0:
        raise Conflict(f"{what}失败：{done.stderr.strip()[-2000:]}", code="backup_database_failed")


def _dump(url: str, dialect: str, out: pathlib.Path) -> dict[str, Any]:
    if dialect == "postgresql":
        path = out / "database.dump"
        args, env = _pg_args(url)
        _run(
            ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(path), *args], env, "pg_dump "
        )
    elif dialect == "sqlite":
        path = out / "database.sqlite"
        source = sqlite3.connect(f"file:{make_url(url).database}?mode=ro", uri=True)
        target = sqlite3.connect(path)
        try:
            source.backup(target)  # a consistent copy while the platform runs
        finally:
            target.close()
            source.close()
    else:
        raise InvalidInput(f"不支持备份 {dialect} 数据库", code="backup_wrong_database")
    size = path.stat().st_size
    return {"file": path.name, "size": size, "sm3": _sm3_of(path, size)}


def _ensure_empty_database(url: str) -> None:
    if make_url(url).get_backend_name() == "sqlite":
        path = pathlib.Path(make_url(url).database or "")
        if not path.exists() or path.stat().st_size == 0:
            return
    engine = make_engine(url)
    try:
        tables = inspect(engine).get_table_names()
    finally:
        engine.dispose()
    if tables:
        raise Conflict(f"目标数据库已有 {len(tables)} 张表：请恢复到空数据库", code="backup_database_not_empty")


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
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".restore-", delete=False) as tmp:
        with (src / database["file"]).open("rb") as f:
            shutil.copyfileobj(f, tmp)
        tmp.flush()
        os.fsync(tmp.fileno())
    os.replace(tmp.name, target)  # whole or not at all
