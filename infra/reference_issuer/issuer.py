#!/usr/bin/env python3
"""A reference e-guarantee issuer (参考保函出具机构): its own process, talking to the platform only
through the public, signed issuer API, as a bank's or insurer's system would.

Each poll it decides every open order (approves up to a single-guarantee limit, else declines),
renders the guarantee document (PDF), signs the guarantee statement with its signing key and pushes
it; and it answers claims: pays a claim whose evidence shows the bidder withdrew after the deadline,
or that the winner has no contract on record (refused it), refuses any other; and it reports how
many of its guarantees the platform has released. Used by the end-to-end tests; run it against a demo with

    GGZY_KEY_PASSWORD=... python infra/reference_issuer/issuer.py --server http://127.0.0.1:5000 \
        --username issuer --keys 密钥文件夹 [--once] [--limit 5000000]

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

from infra.reference_issuer.client import IssuerClient, http_transport
from infra.reference_issuer.decisions import ReferenceIssuer
from signing.certs import Certificate
from signing.sm2 import PrivateKey


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--username", required=True, help="the issuer's API user on the platform")
    ap.add_argument("--keys", type=pathlib.Path, required=True)
    ap.add_argument("--platform-cert", type=pathlib.Path, help="the platform's signing certificate (PEM)")
    ap.add_argument("--limit", type=Decimal, default=Decimal("5000000.00"), help="largest single guarantee (yuan)")
    ap.add_argument("--once", action="store_true", help="poll once and exit")
    ap.add_argument("--interval", type=float, default=5.0)
    args = ap.parse_args(argv)
    password = os.environ.get("GGZY_KEY_PASSWORD", "").encode() or None
    sign_key = PrivateKey.from_pem((args.keys / "sign.key").read_bytes(), password)
    enc_key = PrivateKey.from_pem((args.keys / "enc.key").read_bytes(), password)
    sign_cert = Certificate.load((args.keys / "sign.crt").read_bytes())
    server = args.server.rstrip("/")
    if args.platform_cert:
        platform = Certificate.load(args.platform_cert.read_bytes())
    else:
        with urllib.request.urlopen(f"{server}/api/v1/platform/certificates", timeout=30) as r:
            platform = Certificate.from_pem(json.load(r)["signing_certificate"].encode())
    client = IssuerClient(http_transport(server), args.username, sign_key, sign_cert, platform)
    me = client.whoami()  # the issuer organisation the platform knows this client by
    issuer = ReferenceIssuer(client, enc_key, me["credit_code"], me["name"], args.limit)
    while True:
        print(json.dumps(issuer.poll(), ensure_ascii=False), flush=True)
        if args.once:
            return 0
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
