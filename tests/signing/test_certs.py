"""Certificates: issue, verify chains, usage, time, revocation; OpenSSL both ways."""

import datetime as dt
import pathlib
import subprocess

import pytest

from signing.certs import Certificate, CertificateAuthority, TrustStore, Usage, build_certificate, verify_chain
from signing.errors import (
    CertificateError,
    CertificateExpired,
    CertificateNotTrusted,
    CertificateRevoked,
    CertificateUsageError,
)
from signing.sm2 import PrivateKey
from tests.signing.conftest import NOW, Bidder


def test_chain_ok_and_subject(bidder: Bidder, trust: TrustStore) -> None:
    path = verify_chain(bidder.sign_cert, trust, at=NOW, usage=Usage.SIGN)
    assert len(path) == 2
    assert bidder.sign_cert.subject["common_name"] == "某建设集团有限公司"
    assert Certificate.load(bidder.sign_cert.to_pem()).der == bidder.sign_cert.der


def test_usage_enforced(bidder: Bidder, trust: TrustStore) -> None:
    with pytest.raises(CertificateUsageError):
        verify_chain(bidder.enc_cert, trust, at=NOW, usage=Usage.SIGN)
    with pytest.raises(CertificateUsageError):
        verify_chain(bidder.sign_cert, trust, at=NOW, usage=Usage.ENCRYPT)


def test_expired_and_not_yet_valid(bidder: Bidder, trust: TrustStore) -> None:
    with pytest.raises(CertificateExpired):
        verify_chain(bidder.sign_cert, trust, at=NOW + dt.timedelta(days=800), usage=Usage.SIGN)
    with pytest.raises(CertificateExpired):
        verify_chain(bidder.sign_cert, trust, at=NOW - dt.timedelta(days=1), usage=Usage.SIGN)


def test_revoked(bidder: Bidder, trust: TrustStore) -> None:
    with pytest.raises(CertificateRevoked):
        verify_chain(bidder.sign_cert, trust.with_revoked([bidder.sign_cert.issuer_serial]), at=NOW, usage=Usage.SIGN)


def test_a_chain_checked_once_is_still_checked_for_time_revocation_and_usage(bidder: Bidder, trust: TrustStore) -> None:
    """Only the issuer's signature over these exact bytes is remembered between checks."""
    verify_chain(bidder.sign_cert, trust, at=NOW, usage=Usage.SIGN)
    with pytest.raises(CertificateExpired):
        verify_chain(bidder.sign_cert, trust, at=NOW + dt.timedelta(days=800), usage=Usage.SIGN)
    with pytest.raises(CertificateRevoked):
        verify_chain(bidder.sign_cert, trust.with_revoked([bidder.sign_cert.issuer_serial]), at=NOW, usage=Usage.SIGN)
    with pytest.raises(CertificateUsageError):
        verify_chain(bidder.sign_cert, trust, at=NOW, usage=Usage.ENCRYPT)
    damaged = bytearray(bidder.sign_cert.der)
    damaged[-5] ^= 0x01  # inside the signature value: the same certificate, signed wrongly
    with pytest.raises((CertificateNotTrusted, CertificateError)):
        verify_chain(Certificate(bytes(damaged)), trust, at=NOW, usage=Usage.SIGN)


def test_untrusted_root(bidder: Bidder) -> None:
    other = CertificateAuthority.create("别的CA", now=NOW)
    with pytest.raises(CertificateNotTrusted):
        verify_chain(bidder.sign_cert, TrustStore((other.cert,)), at=NOW, usage=Usage.SIGN)


def test_forged_issuer_name_fails_signature(ca: CertificateAuthority) -> None:
    """An attacker CA that copies the platform CA's name still fails the signature check."""
    fake_key = PrivateKey.generate()
    fake = build_certificate(
        subject=ca.cert.subject | {},
        public_key=fake_key.public_key,
        issuer_key=fake_key,
        issuer=None,
        usage=Usage.CA,
        not_before=NOW - dt.timedelta(days=1),
        not_after=NOW + dt.timedelta(days=10),
    )
    victim = CertificateAuthority(fake_key, fake).issue(
        PrivateKey.generate().public_key, common_name="x", usage=Usage.SIGN, now=NOW
    )
    with pytest.raises(CertificateNotTrusted):
        verify_chain(victim, TrustStore((ca.cert,)), at=NOW, usage=Usage.SIGN)


def test_intermediate_ca(ca: CertificateAuthority) -> None:
    ikey = PrivateKey.generate()
    icert = build_certificate(
        subject={"common_name": "地市 CA"},
        public_key=ikey.public_key,
        issuer_key=ca.key,
        issuer=ca.cert,
        usage=Usage.CA,
        not_before=NOW - dt.timedelta(days=1),
        not_after=NOW + dt.timedelta(days=100),
    )
    leaf = CertificateAuthority(ikey, icert).issue(
        PrivateKey.generate().public_key, common_name="y", usage=Usage.SIGN, now=NOW
    )
    with pytest.raises(CertificateNotTrusted):
        verify_chain(leaf, TrustStore((ca.cert,)), at=NOW, usage=Usage.SIGN)
    assert len(verify_chain(leaf, TrustStore((ca.cert,), (icert,)), at=NOW, usage=Usage.SIGN)) == 3


def test_malformed_certificate() -> None:
    with pytest.raises(CertificateError):
        Certificate(b"\x30\x03\x02\x01\x01")
    with pytest.raises(CertificateError):
        Certificate.from_pem(b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n")


def test_openssl_verifies_our_certificates(ca: CertificateAuthority, bidder: Bidder, tmp_path: pathlib.Path) -> None:
    (tmp_path / "root.pem").write_bytes(ca.cert.to_pem())
    (tmp_path / "leaf.pem").write_bytes(bidder.sign_cert.to_pem())
    # GM/T 0015 certificates are signed with the default SM2 ID; OpenSSL 3.0 must be told so.
    res = subprocess.run(
        [
            "openssl",
            "verify",
            "-attime",
            str(int(NOW.timestamp())),
            "-vfyopt",
            "distid:1234567812345678",
            "-CAfile",
            str(tmp_path / "root.pem"),
            str(tmp_path / "leaf.pem"),
        ],
        capture_output=True,
    )
    assert res.returncode == 0, res.stderr
    text = subprocess.run(
        ["openssl", "x509", "-in", str(tmp_path / "leaf.pem"), "-noout", "-text"], capture_output=True, check=True
    ).stdout
    assert b"SM2-with-SM3" in text and b"Digital Signature" in text


def test_openssl_made_certificates_verify_here(tmp_path: pathlib.Path) -> None:
    def run(*a: str) -> None:
        subprocess.run(["openssl", *a], check=True, capture_output=True, cwd=tmp_path)

    run("genpkey", "-algorithm", "SM2", "-out", "ca.key")
    run(
        "req",
        "-new",
        "-x509",
        "-key",
        "ca.key",
        "-sm3",
        "-sigopt",
        "distid:1234567812345678",
        "-days",
        "30",
        "-subj",
        "/CN=OpenSSL Root",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-out",
        "ca.pem",
    )
    run("genpkey", "-algorithm", "SM2", "-out", "leaf.key")
    run(
        "req",
        "-new",
        "-key",
        "leaf.key",
        "-sm3",
        "-sigopt",
        "distid:1234567812345678",
        "-subj",
        "/CN=UKey",
        "-out",
        "leaf.csr",
    )
    (tmp_path / "ext").write_text("keyUsage=critical,digitalSignature,nonRepudiation\n")
    run(
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-sm3",
        "-sigopt",
        "distid:1234567812345678",
        "-vfyopt",
        "distid:1234567812345678",
        "-days",
        "10",
        "-extfile",
        "ext",
        "-out",
        "leaf.pem",
    )
    root = Certificate.load((tmp_path / "ca.pem").read_bytes())
    leaf = Certificate.load((tmp_path / "leaf.pem").read_bytes())
    now = dt.datetime.now(dt.UTC)
    assert len(verify_chain(leaf, TrustStore((root,)), at=now, usage=Usage.SIGN)) == 2
    assert leaf.public_key == PrivateKey.from_pem((tmp_path / "leaf.key").read_bytes()).public_key
