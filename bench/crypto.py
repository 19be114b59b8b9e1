"""signing/ speed: our SM3/SM4 vs raw cryptography, sealing vs raw SM3+SM4-GCM, SM2 vs openssl speed.

    python bench/crypto.py [--quick]

Prints one JSON line per figure (name, value, unit, ratio, target, better); medians of repeats.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import pathlib
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bench._common import emit, median_time, paired_times, peak_growth
from signing.certs import CertificateAuthority, TrustStore, Usage
from signing.digest import sm3_stream
from signing.envelope import read_header, seal, unseal
from signing.sm2 import PrivateKey
from signing.sm4 import sm4_ctr

BLOCK = 1 << 20


class Parties:
    """A CA and one bidder's signing and encryption keys, as the benchmarks need them."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.ca = CertificateAuthority.create("bench", now=now)
        self.sk, self.ek = PrivateKey.generate(), PrivateKey.generate()
        self.sc = self.ca.issue(self.sk.public_key, common_name="b", usage=Usage.SIGN, now=now)
        self.ec = self.ca.issue(self.ek.public_key, common_name="b", usage=Usage.ENCRYPT, now=now)
        self.trust = TrustStore((self.ca.cert,))

    def seal_file(self, src: pathlib.Path, dst: pathlib.Path) -> None:
        with src.open("rb") as f, dst.open("wb") as g:
            seal(
                f,
                g,
                tender_id="T",
                lot_id="L",
                bidder_id="B",
                signing_key=self.sk,
                signing_cert=self.sc,
                recipient_cert=self.ec,
                now=self.now,
            )

    def unseal_file(self, src: pathlib.Path, dst: pathlib.Path) -> None:
        with src.open("rb") as f, dst.open("wb") as g:
            unseal(f, g, trust=self.trust, at=self.now, encryption_key=self.ek)


def raw_sm3_file(path: pathlib.Path) -> None:
    h = hashes.Hash(hashes.SM3())
    with path.open("rb", buffering=0) as f:
        while b := f.read(BLOCK):
            h.update(b)
    h.finalize()


def raw_gcm_file(path: pathlib.Path, out: pathlib.Path, key: bytes, decrypt: bool = False) -> None:
    nonce = bytes(12)
    with path.open("rb", buffering=0) as f, out.open("wb") as g:
        if decrypt:
            ctx = Cipher(algorithms.SM4(key), modes.GCM(nonce, bytes(16))).decryptor()
        else:
            ctx = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
        while b := f.read(BLOCK):
            g.write(ctx.update(b))
        if not decrypt:
            ctx.finalize()


def openssl_speed(seconds: int) -> tuple[float, float]:
    out = subprocess.run(
        ["openssl", "speed", "-seconds", str(seconds), "sm2"], capture_output=True, text=True, check=True
    ).stdout
    m = re.search(r"SM2 \(CurveSM2\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)", out)
    if not m:
        raise RuntimeError("cannot parse openssl speed output:\n" + out)
    return float(m.group(1)), float(m.group(2))


def rate(fn, n: int, repeat: int) -> float:  # type: ignore[no-untyped-def]
    return n / median_time(lambda: [fn() for _ in range(n)], repeat)


def child_growth(op: str, src: pathlib.Path, dst: pathlib.Path) -> int:
    """Run one seal/unseal in a fresh interpreter and return its peak RSS growth (bytes)."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", op, str(src), str(dst)], capture_output=True, text=True, check=True
    ).stdout
    return int(out.strip().splitlines()[-1])


def child(op: str, src: pathlib.Path, dst: pathlib.Path) -> None:
    p = Parties(dt.datetime.now(dt.UTC))
    if op == "seal":
        print(peak_growth(lambda: p.seal_file(src, dst)))
        dst.unlink()
        return
    # The parent's envelope is sealed to keys this process does not hold: seal one of the same
    # size here (before the measurement starts) and measure opening it.
    with src.open("rb") as f:
        size = read_header(f).plaintext_size
    plain, sealed = dst.with_suffix(".child.plain"), dst.with_suffix(".child.sealed")
    with plain.open("wb") as g:
        for _ in range(size // BLOCK):
            g.write(os.urandom(BLOCK))
    p.seal_file(plain, sealed)
    plain.unlink()
    print(peak_growth(lambda: p.unseal_file(sealed, dst)))
    sealed.unlink()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--child", nargs=3)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], pathlib.Path(args.child[1]), pathlib.Path(args.child[2]))
        return
    size = (64 if args.quick else 1024) << 20
    repeat = 3 if args.quick else 5
    mem_data = os.urandom(min(size, 256 << 20))
    mb = len(mem_data) / 1e6

    # SM3 / SM4 through our API vs raw cryptography, in memory
    import io

    def raw_sm3() -> None:
        h = hashes.Hash(hashes.SM3())
        for i in range(0, len(mem_data), BLOCK):
            h.update(mem_data[i : i + BLOCK])
        h.finalize()

    t_raw, t_ours = paired_times(raw_sm3, lambda: sm3_stream(io.BytesIO(mem_data)), repeat)
    emit("sm3_throughput", mb / t_ours, "MB/s", t_raw / t_ours, 0.9, "higher")

    key = os.urandom(16)

    def raw_ctr() -> None:
        ctx = Cipher(algorithms.SM4(key), modes.CTR(bytes(16))).encryptor()
        for i in range(0, len(mem_data), BLOCK):
            ctx.update(mem_data[i : i + BLOCK])
        ctx.finalize()

    class Null(io.RawIOBase):
        def write(self, b) -> int:  # type: ignore[no-untyped-def, override]
            return len(b)

    t_raw, t_ours = paired_times(
        raw_ctr,
        lambda: sm4_ctr(key, bytes(16)).stream(io.BytesIO(mem_data), Null()),
        repeat,  # type: ignore[arg-type]
    )
    emit("sm4_ctr_throughput", mb / t_ours, "MB/s", t_raw / t_ours, 0.9, "higher")
    mem_data = b""  # free it before the file benchmarks

    # Sealing and unsealing a file vs raw SM3 + raw SM4-GCM over the same bytes
    now = dt.datetime.now(dt.UTC)
    parties = Parties(now)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as d:
        tmp = pathlib.Path(d)
        src, sealed_p, out = tmp / "bid.bin", tmp / "bid.sealed", tmp / "out.bin"
        with src.open("wb") as f:
            for _ in range(size // BLOCK):
                f.write(os.urandom(BLOCK))
        gb = size / 1e6

        def do_seal() -> None:
            parties.seal_file(src, sealed_p)

        def do_unseal() -> None:
            parties.unseal_file(sealed_p, out)

        def baseline_seal() -> None:
            raw_sm3_file(src)
            raw_gcm_file(src, out, key)

        def baseline_unseal() -> None:
            raw_gcm_file(sealed_p, out, key, decrypt=True)
            raw_sm3_file(out)

        t_base, t_seal = paired_times(baseline_seal, do_seal, repeat)
        emit("seal_time", t_seal, "s", t_seal / t_base, 1.3, "lower")
        emit("seal_throughput", gb / t_seal, "MB/s", None, None, "higher")
        emit("seal_peak_rss_growth", child_growth("seal", src, tmp / "child.sealed") / 2**20, "MiB", None, 64, "lower")
        do_seal()  # the file unsealed below is sealed to this run's keys
        t_base, t_unseal = paired_times(baseline_unseal, do_unseal, repeat)
        emit("unseal_time", t_unseal, "s", t_unseal / t_base, 1.3, "lower")
        emit("unseal_peak_rss_growth", child_growth("unseal", sealed_p, out) / 2**20, "MiB", None, 64, "lower")

    # SM2 vs `openssl speed sm2` in the same run
    seconds = 1 if args.quick else 3
    os_sign, os_verify = openssl_speed(seconds)
    k = PrivateKey.generate()
    msg = b"x" * 100
    sig = k.sign(msg)
    n = 500 if args.quick else 3000
    ours_sign = rate(lambda: k.sign(msg), n, repeat)
    ours_verify = rate(lambda: k.public_key.verify(sig, msg), n, repeat)
    emit("sm2_sign_rate", ours_sign, "ops/s", ours_sign / os_sign, 0.5, "higher")
    emit("sm2_verify_rate", ours_verify, "ops/s", ours_verify / os_verify, 0.5, "higher")
    emit("openssl_sm2_sign_rate", os_sign, "ops/s", None, None, "higher")
    emit("openssl_sm2_verify_rate", os_verify, "ops/s", None, None, "higher")


if __name__ == "__main__":
    main()
