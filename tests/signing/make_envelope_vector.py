"""Writes signing/vectors/envelope-v1.json (run only when the format version changes)."""

import io
import json
import pathlib

from signing.certs import CertificateAuthority
from signing.envelope import read_header, seal
from tests.signing.conftest import NOW, make_bidder

OUT = pathlib.Path(__file__).resolve().parents[2] / "signing" / "vectors" / "envelope-v1.json"


def main() -> None:
    ca = CertificateAuthority.create("ggzy 测试向量 CA", now=NOW)
    b = make_bidder(ca, "测试投标人")
    plaintext = ("开标一览表 price=1234567.00 duration=180 " * 4).encode()
    out = io.BytesIO()
    seal(
        io.BytesIO(plaintext),
        out,
        tender_id="T-VECTOR",
        lot_id="L-1",
        bidder_id="B-1",
        signing_key=b.sign_key,
        signing_cert=b.sign_cert,
        recipient_cert=b.enc_cert,
        now=NOW,
        chunk_size=64,
    )
    blob = out.getvalue()
    header = read_header(io.BytesIO(blob))
    OUT.write_text(
        json.dumps(
            {
                "description": "ggzy sealed-bid envelope v1 known-answer vector (see signing/ENVELOPE.md)",
                "verify_at": NOW.isoformat(),
                "ca_cert_pem": ca.cert.to_pem().decode(),
                "signer_cert_pem": b.sign_cert.to_pem().decode(),
                "encryption_cert_pem": b.enc_cert.to_pem().decode(),
                "encryption_private_key_pem": b.enc_key.to_pem().decode(),
                "content_key_hex": header.unwrap_key(b.enc_key).hex(),
                "plaintext_hex": plaintext.hex(),
                "envelope_hex": blob.hex(),
            },
            ensure_ascii=False,
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
