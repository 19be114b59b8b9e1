import pytest

from signing.canonical import canonical_json, parse_canonical
from signing.certs import CertificateAuthority, TrustStore, Usage
from signing.errors import InvalidSignature, StatementError
from signing.sm2 import PrivateKey
from signing.statements import SignedStatement, sign_statement
from tests.signing.conftest import NOW


@pytest.fixture(scope="module")
def platform(ca: CertificateAuthority) -> tuple[PrivateKey, object]:
    key = PrivateKey.generate()
    return key, ca.issue(key.public_key, common_name="平台签章", usage=Usage.SIGN, now=NOW)


def test_canonical_json_rules() -> None:
    assert canonical_json({"b": 1, "a": ["中", None, True]}) == '{"a":["中",null,true],"b":1}'.encode()
    with pytest.raises(StatementError):
        canonical_json({"price": 1.5})
    with pytest.raises(StatementError):
        parse_canonical(b'{"b":1, "a":2}')
    with pytest.raises(StatementError):
        parse_canonical(b'{"a":1.0}')


def test_receipt_round_trip_and_offline_verify(platform, trust: TrustStore) -> None:  # type: ignore[no-untyped-def]
    key, cert = platform
    st = sign_statement("receipt", {"tender": "T1", "sm3": "ab" * 32, "size": 10}, key=key, cert=cert, now=NOW)
    again = SignedStatement.from_json(st.to_json())
    assert again.verify(trusted=cert, expected_type="receipt")["body"]["size"] == 10
    assert again.verify(trust=trust)["type"] == "receipt"
    with pytest.raises(StatementError):
        again.verify(trusted=cert, expected_type="opening_record")


def test_altered_receipt_is_refused(platform) -> None:  # type: ignore[no-untyped-def]
    key, cert = platform
    st = sign_statement("receipt", {"size": 10}, key=key, cert=cert, now=NOW)
    forged = SignedStatement(st.statement.replace(b'"size":10', b'"size":11'), st.signature, st.signer_cert)
    with pytest.raises(InvalidSignature):
        forged.verify(trusted=cert)
    other_key = PrivateKey.generate()
    with pytest.raises(StatementError):
        sign_statement("receipt", {}, key=other_key, cert=cert, now=NOW)
    with pytest.raises(StatementError):
        SignedStatement.from_json(b'{"statement":"!!"}')
