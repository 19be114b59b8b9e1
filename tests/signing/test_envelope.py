"""The sealed-bid envelope: round trips for edge sizes, and every single-byte change rejected."""

import base64
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signing.canonical import canonical_json
from signing.certs import CertificateAuthority, TrustStore
from signing.envelope import PREFIX, read_header, seal, unseal
from signing.errors import (
    CertificateNotTrusted,
    ChunkTampered,
    EnvelopeError,
    HeaderSignatureInvalid,
    NotAnEnvelope,
    SigningError,
    TenderMismatch,
    TrailingData,
    TruncatedEnvelope,
    UnsupportedEnvelopeVersion,
    WrongKey,
)
from signing.sm2 import PrivateKey
from tests.signing.conftest import NOW, Bidder, make_bidder

CHUNK = 64


def sealed(bidder: Bidder, data: bytes, chunk: int = CHUNK, tender: str = "T-2026-001") -> bytes:
    out = io.BytesIO()
    seal(
        io.BytesIO(data),
        out,
        tender_id=tender,
        lot_id="L1",
        bidder_id="B1",
        signing_key=bidder.sign_key,
        signing_cert=bidder.sign_cert,
        recipient_cert=bidder.enc_cert,
        now=NOW,
        chunk_size=chunk,
    )
    return out.getvalue()


def opened(bidder: Bidder, trust: TrustStore, blob: bytes, **kw) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    unseal(io.BytesIO(blob), out, trust=trust, at=NOW, encryption_key=bidder.enc_key, **kw)
    return out.getvalue()


SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK - 1, 2 * CHUNK, 2 * CHUNK + 1]


@given(st.one_of(st.sampled_from(SIZES), st.integers(0, 10 * CHUNK)), st.randoms(use_true_random=False))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_round_trip_random_sizes(bidder: Bidder, trust: TrustStore, size: int, rnd) -> None:  # type: ignore[no-untyped-def]
    data = rnd.randbytes(size)
    blob = sealed(bidder, data)
    assert opened(bidder, trust, blob, tender_id="T-2026-001") == data
    assert read_header(io.BytesIO(blob)).envelope_size == len(blob)


@pytest.fixture(scope="module")
def small_blob(bidder: Bidder) -> bytes:
    return sealed(bidder, b"price=1234567.00;duration=180;" * 5)  # 150 bytes: 3 chunks


def test_every_single_byte_change_is_rejected(bidder: Bidder, trust: TrustStore, small_blob: bytes) -> None:
    """Flip each byte of the whole file in turn (header, signature, wrapped key, every chunk, tags)."""
    rejected = 0
    for i in range(len(small_blob)):
        bad = bytearray(small_blob)
        bad[i] ^= 0x01
        with pytest.raises(SigningError):
            opened(bidder, trust, bytes(bad))
        rejected += 1
    assert rejected == len(small_blob)


@given(st.data())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_byte_value_change_is_rejected(bidder: Bidder, trust: TrustStore, small_blob: bytes, data) -> None:  # type: ignore[no-untyped-def]
    i = data.draw(st.integers(0, len(small_blob) - 1))
    v = data.draw(st.integers(0, 255).filter(lambda x: x != small_blob[i]))
    bad = bytearray(small_blob)
    bad[i] = v
    with pytest.raises(SigningError):
        opened(bidder, trust, bytes(bad))


def _split(blob: bytes) -> tuple[bytes, bytes]:
    hlen = PREFIX.unpack(blob[: PREFIX.size])[2]
    return blob[: PREFIX.size + hlen], blob[PREFIX.size + hlen :]


def test_named_failures(bidder: Bidder, trust: TrustStore, small_blob: bytes) -> None:
    head, body = _split(small_blob)
    c = CHUNK + 16
    chunks = [body[i : i + c] for i in range(0, len(body), c)]
    assert len(chunks) == 3
    with pytest.raises(TruncatedEnvelope):
        opened(bidder, trust, head + chunks[0] + chunks[1])  # dropped last chunk
    with pytest.raises(TruncatedEnvelope):
        opened(bidder, trust, small_blob[:-5])
    with pytest.raises(ChunkTampered):
        opened(bidder, trust, head + chunks[1] + chunks[0] + chunks[2])  # reordered
    with pytest.raises(TrailingData):
        opened(bidder, trust, small_blob + b"\x00")
    with pytest.raises(WrongKey):
        unseal(io.BytesIO(small_blob), io.BytesIO(), trust=trust, at=NOW, encryption_key=PrivateKey.generate())
    with pytest.raises(WrongKey):
        unseal(io.BytesIO(small_blob), io.BytesIO(), trust=trust, at=NOW, content_key=bytes(16))
    with pytest.raises(TenderMismatch):
        opened(bidder, trust, small_blob, tender_id="T-OTHER")
    with pytest.raises(CertificateNotTrusted):
        opened(bidder, TrustStore((CertificateAuthority.create("X", now=NOW).cert,)), small_blob)
    with pytest.raises(NotAnEnvelope):
        opened(bidder, trust, b"%PDF-1.7 not an envelope at all")
    with pytest.raises(UnsupportedEnvelopeVersion):
        opened(bidder, trust, small_blob[:8] + b"\x02" + small_blob[9:])


def test_header_signature_and_chunk_from_another_bid(
    ca: CertificateAuthority, bidder: Bidder, trust: TrustStore, small_blob: bytes
) -> None:
    head, body = _split(small_blob)
    fields = json.loads(head[PREFIX.size :])
    # Another bidder's valid signature pasted into this header: the signature must not verify.
    other = make_bidder(ca, "另一家公司")
    fields["signer_cert"] = base64.b64encode(other.sign_cert.der).decode()
    raw = canonical_json(fields)
    with pytest.raises(HeaderSignatureInvalid):
        opened(bidder, trust, PREFIX.pack(b"GGZYSEAL", 1, len(raw)) + raw + body)
    # Same key material but a chunk spliced from a second sealing of the same data.
    second = sealed(bidder, b"price=1234567.00;duration=180;" * 5)
    with pytest.raises(SigningError):
        opened(bidder, trust, head + _split(second)[1])


def test_seal_refuses_mismatched_keys(ca: CertificateAuthority, bidder: Bidder) -> None:
    other = make_bidder(ca)
    with pytest.raises(EnvelopeError):
        seal(
            io.BytesIO(b"x"),
            io.BytesIO(),
            tender_id="T",
            lot_id="L",
            bidder_id="B",
            signing_key=other.sign_key,
            signing_cert=bidder.sign_cert,
            recipient_cert=bidder.enc_cert,
            now=NOW,
        )


def test_large_file_constant_memory(bidder: Bidder, trust: TrustStore, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """8 MiB with the default chunk size through files; bench/crypto.py measures 1 GiB."""
    import os
    import tracemalloc

    src = tmp_path / "bid.zip"
    src.write_bytes(os.urandom(8 << 20))
    tracemalloc.start()
    with src.open("rb") as f, (tmp_path / "bid.sealed").open("wb") as g:
        seal(
            f,
            g,
            tender_id="T",
            lot_id="L",
            bidder_id="B",
            signing_key=bidder.sign_key,
            signing_cert=bidder.sign_cert,
            recipient_cert=bidder.enc_cert,
            now=NOW,
        )
    with (tmp_path / "bid.sealed").open("rb") as f, (tmp_path / "out").open("wb") as g:
        unseal(f, g, trust=trust, at=NOW, encryption_key=bidder.enc_key)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 << 20, peak
    assert (tmp_path / "out").read_bytes() == src.read_bytes()
