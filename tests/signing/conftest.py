import datetime as dt
import json
import pathlib
from dataclasses import dataclass

import pytest

from signing.certs import Certificate, CertificateAuthority, TrustStore, Usage
from signing.sm2 import PrivateKey

VECTORS = pathlib.Path(__file__).resolve().parents[3] / "shared" / "vectors" / "gm-test-vectors.json"
NOW = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)


def load_vectors() -> dict[str, dict]:
    data = json.loads(VECTORS.read_text())
    return {v["id"]: v for v in data["vectors"]}


@pytest.fixture(scope="session")
def vectors() -> dict[str, dict]:
    return load_vectors()


@dataclass
class Bidder:
    sign_key: PrivateKey
    sign_cert: Certificate
    enc_key: PrivateKey
    enc_cert: Certificate


@pytest.fixture(scope="session")
def ca() -> CertificateAuthority:
    return CertificateAuthority.create("测试交易平台", now=NOW)


@pytest.fixture(scope="session")
def trust(ca: CertificateAuthority) -> TrustStore:
    return TrustStore((ca.cert,))


def make_bidder(ca: CertificateAuthority, name: str = "某建设集团有限公司") -> Bidder:
    sk, ek = PrivateKey.generate(), PrivateKey.generate()
    return Bidder(
        sk,
        ca.issue(sk.public_key, common_name=name, usage=Usage.SIGN, now=NOW),
        ek,
        ca.issue(ek.public_key, common_name=name, usage=Usage.ENCRYPT, now=NOW),
    )


@pytest.fixture(scope="session")
def bidder(ca: CertificateAuthority) -> Bidder:
    return make_bidder(ca)
