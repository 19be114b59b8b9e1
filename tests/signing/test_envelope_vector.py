import datetime as dt
import io
import json
import pathlib

from signing.certs import Certificate, TrustStore
from signing.envelope import PREFIX, read_header, unseal
from signing.sm2 import PrivateKey
from signing.sm4 import gcm_seal

VECTOR = json.loads((pathlib.Path(__file__).resolve().parents[2] / "signing/vectors/envelope-v1.json").read_text())


def test_vector_opens_with_private_key_and_with_content_key() -> None:
    blob = bytes.fromhex(VECTOR["envelope_hex"])
    trust = TrustStore((Certificate.from_pem(VECTOR["ca_cert_pem"].encode()),))
    at = dt.datetime.fromisoformat(VECTOR["verify_at"])
    key = PrivateKey.from_pem(VECTOR["encryption_private_key_pem"].encode())
    out = io.BytesIO()
    unseal(io.BytesIO(blob), out, trust=trust, at=at, encryption_key=key, tender_id="T-VECTOR")
    assert out.getvalue().hex() == VECTOR["plaintext_hex"]
    out2 = io.BytesIO()
    unseal(io.BytesIO(blob), out2, trust=trust, at=at, content_key=bytes.fromhex(VECTOR["content_key_hex"]))
    assert out2.getvalue() == out.getvalue()


def test_chunks_are_reproducible_from_key_prefix_and_header() -> None:
    """The deterministic part of sealing, recomputed independently of signing.envelope."""
    blob = bytes.fromhex(VECTOR["envelope_hex"])
    header = read_header(io.BytesIO(blob))
    key = bytes.fromhex(VECTOR["content_key_hex"])
    plain = bytes.fromhex(VECTOR["plaintext_hex"])
    from signing.digest import sm3

    aad = sm3(header.raw)
    prefix = bytes.fromhex(header.fields["nonce_prefix"])
    cs = header.fields["chunk_size"]
    pieces = [plain[i : i + cs] for i in range(0, len(plain), cs)] or [b""]
    body = b"".join(
        gcm_seal(key, prefix + i.to_bytes(4, "big") + bytes([i == len(pieces) - 1]), p, aad)
        for i, p in enumerate(pieces)
    )
    assert blob == PREFIX.pack(b"GGZYSEAL", 1, len(header.raw)) + header.raw + body
