"""Platform-signed statements: receipts (回执), opening records, checkpoints.

A statement is canonical JSON ``{"type", "signed_at", "body"}`` signed with SM2 (default
ID). The signed file carries the statement, the signature and the signer's certificate, so
it verifies offline with the platform certificate (or a root that issued it) alone.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any

from signing.canonical import canonical_json, parse_canonical
from signing.certs import Certificate, TrustStore, Usage, verify_chain
from signing.digest import sm3_hex
from signing.errors import InvalidSignature, StatementError
from signing.sm2 import PrivateKey


@dataclass(frozen=True)
class SignedStatement:
    statement: bytes  # canonical JSON of {"type", "signed_at", "body"}
    signature: bytes  # DER SM2
    signer_cert: Certificate

    @property
    def content(self) -> dict[str, Any]:
        value = parse_canonical(self.statement)
        assert isinstance(value, dict)
        return value

    @property
    def type(self) -> str:
        return str(self.content["type"])

    @property
    def body(self) -> Any:
        return self.content["body"]

    @property
    def signed_at(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.content["signed_at"])

    def to_json(self) -> bytes:
        """The portable file form (canonical JSON too)."""
        return canonical_json(
            {
                "statement": base64.b64encode(self.statement).decode(),
                "signature": base64.b64encode(self.signature).decode(),
                "signer_cert": base64.b64encode(self.signer_cert.der).decode(),
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> SignedStatement:
        try:
            outer = parse_canonical(data)
            return cls(
                base64.b64decode(outer["statement"], validate=True),
                base64.b64decode(outer["signature"], validate=True),
                Certificate(base64.b64decode(outer["signer_cert"], validate=True)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StatementError("签名文件格式错误 (malformed signed statement)") from exc

    def verify(
        self,
        *,
        trusted: Certificate | None = None,
        trust: TrustStore | None = None,
        expected_type: str | None = None,
    ) -> dict[str, Any]:
        """Verify against a pinned signer certificate or a trust store; return the content."""
        content = self.content
        if set(content) != {"type", "signed_at", "body"}:
            raise StatementError("签名文件内容字段错误 (statement fields)")
        if expected_type is not None and content["type"] != expected_type:
            raise StatementError(f"签名文件类型不是 {expected_type} (wrong statement type)")
        if trusted is not None:
            if trusted.der != self.signer_cert.der:
                raise StatementError("签名证书不是平台证书 (not signed by the platform certificate)")
        elif trust is not None:
            verify_chain(self.signer_cert, trust, at=self.signed_at, usage=Usage.SIGN)
        else:
            raise StatementError("需要受信任的证书 (a trusted certificate is required)")
        try:
            self.signer_cert.public_key.verify(self.signature, self.statement)
        except InvalidSignature as exc:
            raise InvalidSignature("签名文件的签名无效 (statement signature invalid)") from exc
        return content


def sign_statement(type_: str, body: Any, *, key: PrivateKey, cert: Certificate, now: dt.datetime) -> SignedStatement:
    if cert.public_key != key.public_key:
        raise StatementError("签名私钥与证书不匹配 (key does not match certificate)")
    statement = canonical_json(
        {"type": type_, "signed_at": now.astimezone(dt.UTC).isoformat(timespec="microseconds"), "body": body}
    )
    return SignedStatement(statement, key.sign(statement), cert)


TENDER_DOCUMENT_PURPOSE = "ggzy-tender-document/1"


def tender_document_statement(tender_code: str, name: str, sm3_hex: str, size: int) -> bytes:
    """What a tenderee signs for each tender document; the platform and ``ggzy-bid`` share it."""
    return canonical_json(
        {"purpose": TENDER_DOCUMENT_PURPOSE, "tender": tender_code, "name": name, "sm3": sm3_hex, "size": size}
    )


BID_WITHDRAWAL_PURPOSE = "ggzy-bid-withdraw/1"


def bid_withdrawal_statement(tender_code: str, lot_number: int, bidder: str, ciphertext_sm3: str) -> bytes:
    """What a bidder signs to withdraw its bid before the deadline (招标投标法第二十九条)."""
    return canonical_json(
        {
            "purpose": BID_WITHDRAWAL_PURPOSE,
            "tender": tender_code,
            "lot": lot_number,
            "bidder": bidder,
            "ciphertext_sm3": ciphertext_sm3,
        }
    )


LOGIN_PURPOSE = "ggzy-login/1"


def login_challenge_statement(username: str, nonce: str, issued_at: str) -> bytes:
    """What a user's signing key (UKey) signs to log in by challenge and response."""
    return canonical_json({"purpose": LOGIN_PURPOSE, "username": username, "nonce": nonce, "issued_at": issued_at})


CEREMONY_KEY_PURPOSE = "ggzy-ceremony-key/1"
CEREMONY_SIGNIN_PURPOSE = "ggzy-ceremony-signin/1"
CEREMONY_DECRYPT_PURPOSE = "ggzy-ceremony-decrypt/1"
RECORD_CONFIRM_PURPOSE = "ggzy-opening-record-confirm/1"


def ceremony_key_statement(ceremony: int, tender_code: str, lot_number: int, public_key_hex: str) -> bytes:
    """What the platform signs so that a bidder re-wraps its key only to the real ceremony key."""
    return canonical_json(
        {
            "purpose": CEREMONY_KEY_PURPOSE,
            "ceremony": ceremony,
            "tender": tender_code,
            "lot": lot_number,
            "public_key": public_key_hex,
        }
    )


def ceremony_signin_statement(ceremony: int, tender_code: str, lot_number: int, bidder: str) -> bytes:
    """What a bidder's signing key signs to sign in to one ceremony (签到)."""
    return canonical_json(
        {
            "purpose": CEREMONY_SIGNIN_PURPOSE,
            "ceremony": ceremony,
            "tender": tender_code,
            "lot": lot_number,
            "bidder": bidder,
        }
    )


def ceremony_decrypt_statement(ceremony: int, bidder: str, ciphertext_sm3: str, wrapped_key_sm3: str) -> bytes:
    """What a bidder signs when it releases its bid's key, re-wrapped to the ceremony key (解密)."""
    return canonical_json(
        {
            "purpose": CEREMONY_DECRYPT_PURPOSE,
            "ceremony": ceremony,
            "bidder": bidder,
            "ciphertext_sm3": ciphertext_sm3,
            "wrapped_key_sm3": wrapped_key_sm3,
        }
    )


def record_confirmation_statement(ceremony: int, bidder: str, record_sm3: str) -> bytes:
    """What a bidder signs to confirm the opening record (开标记录确认)."""
    return canonical_json(
        {"purpose": RECORD_CONFIRM_PURPOSE, "ceremony": ceremony, "bidder": bidder, "record_sm3": record_sm3}
    )


GUARANTEE_PURPOSE = "ggzy-guarantee/1"
GUARANTEE_FIELDS = (
    "order",
    "number",
    "issuer",
    "beneficiary",
    "principal",
    "tender",
    "lot",
    "amount",
    "currency",
    "starts_on",
    "ends_on",
    "verification_code",
    "document_name",
    "document_sm3",
)


def guarantee_statement(fields: dict[str, Any]) -> bytes:
    """What an issuer signs for an electronic guarantee (电子保函): the platform and issuers share it.
    Parties are 统一社会信用代码, amounts decimal strings, dates ISO (YYYY-MM-DD)."""
    missing = [f for f in GUARANTEE_FIELDS if f not in fields]
    if missing or set(fields) - set(GUARANTEE_FIELDS):
        raise StatementError(f"保函字段不完整或多余 (guarantee fields): {', '.join(missing) or 'extra'}")
    return canonical_json({"purpose": GUARANTEE_PURPOSE, **fields})


def guarantee_commitment(value: Any, salt: str) -> str:
    """A sealed guarantee field (保函加密): SM3 of the canonical ``{"salt", "value"}``. The salt (at
    least 16 random bytes, hex) keeps a guessable value, such as a tender code, from being found by
    trying candidates; revealing value and salt opens it."""
    return sm3_hex(canonical_json({"salt": salt, "value": value}))


EVALUATION_SIGNIN_PURPOSE = "ggzy-evaluation-signin/1"
EVALUATION_PLEDGE_PURPOSE = "ggzy-evaluation-pledge/1"
EVALUATION_REPORT_PURPOSE = "ggzy-evaluation-report/1"
#: The recusal pledge an expert signs before seeing any bid (Reg 46; 评标专家回避承诺).
PLEDGE_TEXT = (
    "本人承诺：与下列投标人不存在利害关系，不存在应当回避的情形；依法独立、客观、公正评标，"
    "不私下接触投标人，不透露评审情况，对评审意见承担个人责任。"
)


def evaluation_signin_statement(evaluation: int, tender_code: str, lot_number: int, expert: int) -> bytes:
    """What an expert's signing key signs to sign in to an evaluation room (专家签到)."""
    return canonical_json(
        {
            "purpose": EVALUATION_SIGNIN_PURPOSE,
            "evaluation": evaluation,
            "tender": tender_code,
            "lot": lot_number,
            "expert": expert,
        }
    )


def evaluation_pledge_statement(evaluation: int, expert: int, bidders: list[str]) -> bytes:
    """The recusal pledge, naming the bidders (统一社会信用代码, sorted) it is made against."""
    return canonical_json(
        {
            "purpose": EVALUATION_PLEDGE_PURPOSE,
            "evaluation": evaluation,
            "expert": expert,
            "bidders": sorted(bidders),
            "text": PLEDGE_TEXT,
        }
    )


def evaluation_report_statement(evaluation: int, round_: int, expert: int, report_sm3: str, dissent: str) -> bytes:
    """An expert's signature on the evaluation report: an empty ``dissent`` agrees; otherwise it is
    the written reasons of a dissenting expert (its SM3 is what is signed, the text is kept)."""
    return canonical_json(
        {
            "purpose": EVALUATION_REPORT_PURPOSE,
            "evaluation": evaluation,
            "round": round_,
            "expert": expert,
            "report_sm3": report_sm3,
            "position": "dissent" if dissent else "agree",
            "dissent_sm3": sm3_hex(dissent.encode()) if dissent else "",
        }
    )


COMPLAINT_PURPOSE = "ggzy-complaint/1"
#: the bounds of a complaint's evidence (投诉的证明材料), the platform's and ``ggzy-bid``'s alike
COMPLAINT_MAX_FILES = 10
COMPLAINT_MAX_FILE_BYTES = 20 * 1024 * 1024
COMPLAINT_MAX_TOTAL_BYTES = 50 * 1024 * 1024
#: 政府采购 (goods and services) complaints follow 财政部令第94号; every other category, tendered under
#: 招标投标法, follows 招标投标法实施条例第六十条至第六十二条 (and 七部委令第11号 for construction)
PROCUREMENT_CATEGORIES = frozenset({"goods", "services"})


def complaint_kind(category: str) -> str:
    """The complaint regime of a tender's category: ``procurement`` or ``construction``."""
    return "procurement" if category in PROCUREMENT_CATEGORIES else "construction"


def complaint_statement(
    *,
    tender_code: str,
    lot_number: int | None,
    complainant: str,
    kind: str,
    matter: str,
    grounds: str,
    requests: str,
    evidence: list[dict[str, Any]],
) -> bytes:
    """What a complainant signs to file a complaint (投诉书) with the supervising department: the
    tender and lot, its 统一社会信用代码, the regime and matter, the SM3 of its grounds and of its
    requests (UTF-8), and each evidence file's name, SM3 and size in the order filed. The platform
    and ``ggzy-bid`` share it."""
    return canonical_json(
        {
            "purpose": COMPLAINT_PURPOSE,
            "tender": tender_code,
            "lot": lot_number,
            "complainant": complainant,
            "kind": kind,
            "matter": matter,
            "grounds_sm3": sm3_hex(grounds.encode()),
            "requests_sm3": sm3_hex(requests.encode()),
            "evidence": [{"name": e["name"], "sm3": e["sm3"], "size": e["size"]} for e in evidence],
        }
    )


AUCTION_BID_PURPOSE = "ggzy-auction-bid/1"


def auction_bid_statement(auction_code: str, bidding_number: str, amount: str, seen_seq: int) -> bytes:
    """What a buyer signs for each bid in an auction or listing (竞价): the lot, its bidding number
    (竞买号牌, never its name), the amount as a decimal string with two places, and the last accepted
    bid it had seen; the platform, ``ggzy-bid auction`` and the archive verifier share it."""
    return canonical_json(
        {
            "purpose": AUCTION_BID_PURPOSE,
            "auction": auction_code,
            "bidding_number": bidding_number,
            "amount": amount,
            "seen_seq": seen_seq,
        }
    )


def reserve_commitment(price: str, salt: str) -> str:
    """The public commitment to a lot's reserve price (底价): SM3 of the salt's text followed by the
    price as a decimal string with two places. Published with the lot, opened at its end."""
    return sm3_hex((salt + price).encode())
