#!/usr/bin/env python3
"""A reference e-guarantee issuer (参考保函出具机构): its own process, talking to the platform only
through the public, signed issuer API, as a bank's or insurer's system would.

Each poll it decides every open order (approves up to a single-guarantee limit, else declines),
renders the guarantee document (PDF), signs the guarantee statement with its signing key and pushes
it; and it answers claims: pays a claim whose evidence shows the bidder withdrew after the deadline,
or that the winner has no contract on record (refused it), refuses any other; and it reports how
many of its guarantees the platform has released. Used by the end-to-end tests, and run by ``ggzy demo`` beside the platform (with the demo issuer's
keys and their password); run it yourself against another platform with

    GGZY_KEY_PASSWORD=... python -m infra.reference_issuer.issuer --server http://127.0.0.1:5000 \
        --username issuer --keys 密钥文件夹 [--once] [--limit 5000000] [--report text]

It waits for a platform that is not listening yet (or any more), and says so after half a minute.

The key folder is laid out as ``ggzy-bid keygen`` leaves it (sign.key, sign.crt, enc.key, enc.crt),
with the certificates registered for the issuer's user on the platform. The platform's signing
certificate is pinned with --platform-cert, or fetched once at start.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time
import urllib.request
from decimal import Decimal

from infra.reference_issuer.client import IssuerApiError, IssuerClient, http_transport
from infra.reference_issuer.decisions import ReferenceIssuer
from signing.certs import Certificate
from signing.errors import SigningError
from signing.sm2 import PrivateKey

#: what a poll did, told in a sentence (``--report text``): the count's key, its words, its unit
DONE_WORDS = (
    ("issued", "出具保函", "份"),
    ("rejected", "拒绝申请", "份"),
    ("revealed", "开标时揭示保函", "份"),
    ("paid", "赔付索赔", "笔"),
    ("refused", "拒赔索赔", "笔"),
    ("failed", "平台未接受", "项"),
)

#: how long the platform may be unreachable before the issuer says so (it is started beside the
#: platform by ``ggzy demo``, and waits for it to listen without a word)
PATIENCE_SECONDS = 30.0


def told(done: dict[str, int], released_before: int | None) -> str | None:
    """The sentence for one poll, or None when it decided nothing and no release is new."""
    parts = [f"{words} {done[key]} {unit}" for key, words, unit in DONE_WORDS if done.get(key)]
    if released_before is not None and done["released"] > released_before:
        parts.append(f"平台已释放本机构保函共 {done['released']} 份")
    return "参考保函出具机构：" + "，".join(parts) if parts else None


def connect(args: argparse.Namespace, sign_key: PrivateKey, enc_key: PrivateKey) -> ReferenceIssuer:
    """Pin (or fetch) the platform's certificate and ask the platform who this issuer is."""
    server = args.server.rstrip("/")
    if args.platform_cert:
        platform = Certificate.load(args.platform_cert.read_bytes())
    else:
        with urllib.request.urlopen(f"{server}/api/v1/platform/certificates", timeout=30) as r:
            platform = Certificate.from_pem(json.load(r)["signing_certificate"].encode())
    sign_cert = Certificate.load((args.keys / "sign.crt").read_bytes())
    client = IssuerClient(http_transport(server), args.username, sign_key, sign_cert, platform)
    me = client.whoami()  # the issuer organisation the platform knows this client by
    return ReferenceIssuer(client, enc_key, me["credit_code"], me["name"], args.limit)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--username", required=True, help="the issuer's API user on the platform")
    ap.add_argument("--keys", type=pathlib.Path, required=True)
    ap.add_argument("--platform-cert", type=pathlib.Path, help="the platform's signing certificate (PEM)")
    ap.add_argument("--limit", type=Decimal, default=Decimal("5000000.00"), help="largest single guarantee (yuan)")
    ap.add_argument("--once", action="store_true", help="poll once and exit")
    ap.add_argument("--interval", type=float, default=5.0)
    ap.add_argument(
        "--report",
        choices=("json", "text"),
        default="json",
        help="json: each poll's counts, a line each (the tests read them); text: a sentence in Chinese "
        "when something was decided (ggzy demo)",
    )
    args = ap.parse_args(argv)
    password = os.environ.get("GGZY_KEY_PASSWORD", "").encode() or None
    sign_key = PrivateKey.from_pem((args.keys / "sign.key").read_bytes(), password)
    enc_key = PrivateKey.from_pem((args.keys / "enc.key").read_bytes(), password)
    issuer: ReferenceIssuer | None = None
    released: int | None = None
    failing_since: float | None = None
    told_at = -PATIENCE_SECONDS
    while True:
        try:
            issuer = issuer or connect(args, sign_key, enc_key)
            done = issuer.poll()
        except (OSError, IssuerApiError, SigningError) as exc:
            # a service keeps going: the platform not listening (yet), or refusing or garbling an
            # answer, is said (at most twice a minute, and not while it may still be starting)
            if args.once:
                raise
            now = time.monotonic()
            failing_since = failing_since or now
            starting = isinstance(exc, OSError) and now - failing_since < PATIENCE_SECONDS
            if not starting and now - told_at >= PATIENCE_SECONDS:
                print(
                    f"参考保函出具机构：与平台 {args.server} 通信失败（{exc}），稍后重试", file=sys.stderr, flush=True
                )
                told_at = now
        else:
            failing_since = None
            line = json.dumps(done, ensure_ascii=False) if args.report == "json" else told(done, released)
            released = done["released"]
            if line:
                print(line, flush=True)
        if args.once:
            return 0
        time.sleep(args.interval)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl+C in the terminal of ggzy demo reaches every process it runs
        sys.exit(130)
