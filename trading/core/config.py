"""Settings from environment variables, with safe defaults only for the embedded demo mode.

| variable | default (embedded) | meaning |
|---|---|---|
| GGZY_ENV | demo | ``demo`` (embedded), ``production`` or ``test`` |
| GGZY_INSTANCE | ./instance | folder for the SQLite file, objects, CA and secrets |
| DATABASE_URL | sqlite:///<instance>/ggzy.db | SQLAlchemy URL (postgresql+psycopg://… in production) |
| DATABASE_POOL_SIZE / DATABASE_MAX_OVERFLOW | 5 / 10 | PostgreSQL connections each process keeps open / may open beyond them at busy moments: a deployment opens at most (processes) × (both added), which must stay under the server's ``max_connections`` or a PgBouncer's pool (infra/DEPLOY.md) |
| OBJECT_STORE_URL | <instance>/objects | ``file:///…`` or ``minio://KEY:SECRET@host:port/bucket`` |
| ARCHIVE_STORE_URL | <instance>/archive | the same, for archive packages (object lock) |
| SECRET_KEY | generated into <instance>/secret_key in demo mode only | cookie signing key, ≥ 32 chars |
| GGZY_TIMEZONE | Asia/Shanghai | how pages show instants (storage is UTC) |
| ARCHIVE_RETENTION_YEARS | 15 | 政府采购法 42 |
| LOGIN_MAX_FAILURES / LOGIN_WINDOW_SECONDS | 5 / 900 | password failures per (user name, client address) before back-off, and the back-off's look-back and longest delay (an address alone: 4× the failures) |
| TRUSTED_PROXY_HOPS | 0 | reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are believed (0: none; 1 behind one nginx) |
| CHALLENGES_PER_ADDRESS | 10 | UKey login challenges per minute from one client address (challenges are stateless MACed tokens: nothing is stored per name) |
| UPLOADS_OPEN_PER_LOT / UPLOADS_OPEN_PER_BIDDER | 3 / 10 | open bid uploads a bidder may hold for one lot / in all |
| STAGING_MAX_BYTES | 68719476736 (64 GiB) | bytes staged (received) by all open bid uploads together (the staging volume's budget) |
| STAGING_MAX_BYTES_PER_BIDDER | 8589934592 (8 GiB) | declared bytes of one bidder's live uploads together |
| UPLOAD_IDLE_SECONDS | 3600 | an upload with no part for this long stops counting and is swept |
| MAX_JSON_BYTES | 1048576 | largest accepted form or JSON body |
| SCHEDULER_IN_PROCESS | 1 in demo, 0 otherwise | run the scheduler inside ``ggzy serve`` |
| SCHEDULER_LEASE_SECONDS | 30 | how long the running scheduler's database lease lasts (renewed every third of it): a standby takes over at most this long after the running one dies (5 to 3600) |
| CHECKPOINT_INTERVAL_SECONDS | 300 | how often the audit log gets a public signed checkpoint when it has grown |
| ARGON2_MEMORY_KIB, ARGON2_TIME_COST | 65536, 3 (test: 8, 1) | Argon2id cost of password hashes; production refuses less than 19456, 2 |
| CHECKPOINT_ANCHOR_SECONDS | 2 | at most this long between an event and an (unpublished) checkpoint that anchors it |
| WEB_THREADS | 4 | threads per ``ggzy serve`` web worker process; signed requests are CPU-bound (SM2, SQL) and a process's threads share one interpreter lock, so a busy bidding room is served better by more processes (``--workers``) of 1–2 threads (docs/operators.md) |
| DECRYPT_WORKERS | 2 | decryption worker processes ``ggzy serve`` starts (0: run ``ggzy workers`` elsewhere) |
| OCDS_OCID_PREFIX | ocds-ggzy00 | the prefix of every OCDS ocid this platform publishes (registered with the OCDS helpdesk in production) |
| PLATFORM_CODE | demo code | this platform's code in the national data-exchange records (PLATFORM_CODE) |
| EXCHANGE_PUSH_URL | (empty: no push) | where the national data-exchange records are pushed (the upper platform's receiver) |
| GGZY_RATING_WINDOW / GGZY_RATING_THRESHOLD / GGZY_RATING_SUSPENSION_DAYS | 5 / 3.0 / 90 | expert ratings: how many latest ratings are averaged, the average below which an expert is suspended from draws, and for how many days (checked at start: ``trading.signals.ratings``) |
| AUCTION_DEPOSIT_ACCOUNT | demo: a text saying it is a demo account; otherwise empty ("按公告指定账户") | the account buyers transfer auction deposits to, shown on the registration page |
| LIVE_URL | set by ``ggzy serve`` to ``:<port+1>`` | where browsers follow the live room: ``:PORT`` (same host), a URL, or empty for the app's own (thread-per-watcher) stream |
"""

from __future__ import annotations

import os
import pathlib
import secrets
from dataclasses import dataclass, field
from typing import Any

ENVS = ("demo", "production", "test")
#: what a demo instance shows buyers as the deposit account: says it is not one
DEMO_DEPOSIT_ACCOUNT = (
    "演示实例：福州市公共资源交易中心竞买保证金专户（演示账号，请勿汇款；在页面填写任意汇款凭证号即可）"
)
KNOWN_DEMO_SECRETS = {"", "dev", "demo", "secret", "changeme", "change-me", "ggzy-demo"}


class ConfigError(RuntimeError):
    pass


@dataclass(frozen=True)
class Settings:
    env: str
    instance: pathlib.Path
    database_url: str
    object_store_url: str
    archive_store_url: str
    secret_key: str
    timezone: str = "Asia/Shanghai"
    archive_retention_years: int = 15
    login_max_failures: int = 5
    login_window_seconds: int = 900
    trusted_proxy_hops: int = 0
    challenges_per_address: int = 10
    uploads_open_per_lot: int = 3
    uploads_open_per_bidder: int = 10
    staging_max_bytes: int = 64 << 30
    staging_max_bytes_per_bidder: int = 8 << 30
    upload_idle_seconds: int = 3600
    max_json_bytes: int = 1 << 20
    scheduler_in_process: bool = False
    web_threads: int = 4
    scheduler_lease_seconds: int = 30
    database_pool_size: int = 5
    database_max_overflow: int = 10
    decrypt_workers: int = 2
    checkpoint_interval_seconds: int = 300
    checkpoint_anchor_seconds: int = 2
    argon2_memory_kib: int = 65536
    argon2_time_cost: int = 3
    live_url: str = ""
    ocds_ocid_prefix: str = "ocds-ggzy00"
    platform_code: str = "DEMO00000000000000"
    exchange_push_url: str = ""
    #: where buyers transfer auction deposits (竞买保证金账户), shown on the registration page
    auction_deposit_account: str = ""
    #: the GGZY_RATING_* variables as given; the signals stage parses them and create_app refuses bad ones
    ratings: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.env == "production"


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def load_settings(env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Read settings; refuse to start production with a missing or demo secret."""
    env = dict(os.environ if env is None else env)
    mode = env.get("GGZY_ENV", "demo")
    if mode not in ENVS:
        raise ConfigError(f"GGZY_ENV must be one of {ENVS}, got {mode!r}")
    instance = pathlib.Path(env.get("GGZY_INSTANCE", "instance")).resolve()
    secret = env.get("SECRET_KEY", "")
    if mode == "production":
        if secret.lower() in KNOWN_DEMO_SECRETS or len(secret) < 32:
            raise ConfigError("production mode needs SECRET_KEY: at least 32 random characters, not a demo value")
        for name in ("DATABASE_URL", "OBJECT_STORE_URL", "ARCHIVE_STORE_URL"):
            if not env.get(name):
                raise ConfigError(f"production mode needs {name}")
    elif not secret:
        secret = _instance_secret(instance)
    values: dict[str, Any] = {
        "env": mode,
        "instance": instance,
        "database_url": env.get("DATABASE_URL") or f"sqlite:///{instance / 'ggzy.db'}",
        "object_store_url": env.get("OBJECT_STORE_URL") or str(instance / "objects"),
        "archive_store_url": env.get("ARCHIVE_STORE_URL") or str(instance / "archive"),
        "secret_key": secret,
        "timezone": env.get("GGZY_TIMEZONE", "Asia/Shanghai"),
        "archive_retention_years": _int(env, "ARCHIVE_RETENTION_YEARS", 15),
        "login_max_failures": _int(env, "LOGIN_MAX_FAILURES", 5),
        "login_window_seconds": _int(env, "LOGIN_WINDOW_SECONDS", 900),
        "trusted_proxy_hops": _int(env, "TRUSTED_PROXY_HOPS", 0),
        "challenges_per_address": _int(env, "CHALLENGES_PER_ADDRESS", 10),
        "uploads_open_per_lot": _int(env, "UPLOADS_OPEN_PER_LOT", 3),
        "uploads_open_per_bidder": _int(env, "UPLOADS_OPEN_PER_BIDDER", 10),
        "staging_max_bytes": _int(env, "STAGING_MAX_BYTES", 64 << 30),
        "staging_max_bytes_per_bidder": _int(env, "STAGING_MAX_BYTES_PER_BIDDER", 8 << 30),
        "upload_idle_seconds": _int(env, "UPLOAD_IDLE_SECONDS", 3600),
        "max_json_bytes": _int(env, "MAX_JSON_BYTES", 1 << 20),
        "scheduler_in_process": env.get("SCHEDULER_IN_PROCESS", "1" if mode == "demo" else "0") in ("1", "true"),
        "web_threads": _int(env, "WEB_THREADS", 4),
        "scheduler_lease_seconds": _int(env, "SCHEDULER_LEASE_SECONDS", 30),
        "database_pool_size": _int(env, "DATABASE_POOL_SIZE", 5),
        "database_max_overflow": _int(env, "DATABASE_MAX_OVERFLOW", 10),
        "decrypt_workers": _int(env, "DECRYPT_WORKERS", 2),
        "checkpoint_interval_seconds": _int(env, "CHECKPOINT_INTERVAL_SECONDS", 300),
        "checkpoint_anchor_seconds": _int(env, "CHECKPOINT_ANCHOR_SECONDS", 2),
        "live_url": env.get("LIVE_URL", "").rstrip("/"),  # pages append /live/…
        "ocds_ocid_prefix": env.get("OCDS_OCID_PREFIX") or "ocds-ggzy00",
        "platform_code": env.get("PLATFORM_CODE") or "DEMO00000000000000",
        "exchange_push_url": env.get("EXCHANGE_PUSH_URL", ""),
        "auction_deposit_account": env.get("AUCTION_DEPOSIT_ACCOUNT", DEMO_DEPOSIT_ACCOUNT if mode == "demo" else "")[
            :200
        ],
        "ratings": {k: v for k, v in env.items() if k.startswith("GGZY_RATING_")},
        # The test configuration hashes passwords at the lowest cost; everything else at
        # argon2-cffi's defaults (trading.accounts.passwords).
        "argon2_memory_kib": _int(env, "ARGON2_MEMORY_KIB", 8 if mode == "test" else 65536),
        "argon2_time_cost": _int(env, "ARGON2_TIME_COST", 1 if mode == "test" else 3),
    }
    if mode == "production" and (values["argon2_memory_kib"] < 19456 or values["argon2_time_cost"] < 2):
        raise ConfigError("production mode needs ARGON2_MEMORY_KIB >= 19456 and ARGON2_TIME_COST >= 2 (OWASP's floor)")
    values.update(overrides)  # the ranges below hold for overrides too (create_app's dict, tests)
    if not 1 <= values["web_threads"] <= 64:
        raise ConfigError(f"WEB_THREADS must be 1 to 64, got {values['web_threads']}")
    if not 1 <= values["database_pool_size"] <= 200 or not 0 <= values["database_max_overflow"] <= 200:
        raise ConfigError("DATABASE_POOL_SIZE must be 1 to 200 and DATABASE_MAX_OVERFLOW 0 to 200")
    if not 5 <= values["scheduler_lease_seconds"] <= 3600:
        raise ConfigError(f"SCHEDULER_LEASE_SECONDS must be 5 to 3600, got {values['scheduler_lease_seconds']}")
    return Settings(**values)


def _instance_secret(instance: pathlib.Path) -> str:
    """Demo mode: a random secret made once per instance folder (never a shared constant)."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
