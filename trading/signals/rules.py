"""Collusion signals (串标迹象) over plain data: what links two or more bids of one lot.

Legal source: 招标投标法实施条例第三十九条 (投标人相互串通投标) and 第四十条 (视为投标人相互串通投标:
不同投标人的投标文件由同一单位或者个人编制; 委托同一单位或者个人办理投标事宜; 投标文件载明的项目管理
成员为同一人; 投标文件异常一致或者投标报价呈规律性差异; 投标文件相互混装; 投标保证金从同一单位或者个人
的账户转出), and 政府采购法实施条例第七十四条 (恶意串通: 供应商之间协商报价、技术方案; 属于同一集团、协会、
商会等组织成员的供应商按照该组织要求协同参加; 不同供应商的投标文件或者响应文件由同一单位或者个人编制等).

Each function takes the facts of the lot's bids (no database) and returns ``Found`` signals: the
kind, the ids of the bids it links (``CeremonyBidder.id``), and the evidence that links them. A
signal is something for the committee and supervisors to weigh, never a verdict: honest bidders
can share an address (a shared office, a carrier's NAT), a file (a standard form) or a round price.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from signing.price_sheet import FILENAME as PRICE_SHEET
from trading.signals.models import SignalKind

#: Files smaller than this are never compared: an empty file or a one-line note is the same by chance.
MIN_FILE_BYTES = 64
#: The most files one same_file signal lists (the count says how many there were).
MAX_LISTED_FILES = 20
#: Free text in the price sheet shorter than this is the same by chance ("合格", "满足要求").
MIN_TEXT_CHARS = 8
#: All prices within this fraction of their mean (0.1 %).
CLOSE_PRICES = Decimal("0.001")
#: Author names that say nothing about who wrote a document (lower case): the defaults of Windows,
#: Office and WPS on a machine nobody configured.
GENERIC_AUTHORS = frozenset(
    {
        "administrator",
        "admin",
        "user",
        "users",
        "owner",
        "windows user",
        "microsoft office user",
        "微软用户",
        "用户",
        "作者",
        "unknown",
        "lenovo",
        "dell",
        "hp",
        "thinkpad",
    }
)
#: Metadata fields that fire on their own when non-empty and identical across bidders. Creator
#: tools (``tool``) never do: they are evidence beside a creation time, not a signal alone.
FIRING_FIELDS = ("author", "last_modified_by", "company", "created")
FIELD_LABELS = {
    "author": "作者",
    "last_modified_by": "最后修改者",
    "company": "单位",
    "created": "创建时间",
    "tool": "创建工具",
}


@dataclass(frozen=True)
class FileFact:
    name: str
    sm3: str
    size: int


@dataclass(frozen=True)
class DocMeta:
    """Metadata of one document inside a package: ``fields`` maps a field of ``FIELD_LABELS`` to its
    value as written (PDF Info: Author, Creator/Producer, CreationDate; Office docProps: creator,
    lastModifiedBy, created, Application, Company)."""

    file: str
    fields: Mapping[str, str]


@dataclass(frozen=True)
class BidFacts:
    """What is known of one bid at the opening (its ``CeremonyBidder`` id)."""

    bidder: int
    addresses: tuple[str, ...] = ()
    install_id: str | None = None
    files: tuple[FileFact, ...] = ()
    metadata: tuple[DocMeta, ...] = ()
    price: Decimal | None = None
    sheet_fields: Mapping[str, Any] = field(default_factory=dict)
    contact_name: str = ""
    contact_phone: str = ""
    legal_representative: str = ""


@dataclass(frozen=True)
class Reference:
    """The tender's own documents: their files' SM3 (the documents themselves and what their zips
    hold) and metadata values, which bidders may copy without colluding."""

    sm3: frozenset[str] = frozenset()
    metadata: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Found:
    kind: SignalKind
    bidders: tuple[int, ...]
    evidence: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "bidders": list(self.bidders), "evidence": self.evidence}


def _groups(pairs: Iterable[tuple[str, int]]) -> list[tuple[str, tuple[int, ...]]]:
    """Values shared by two or more different bidders, each with the sorted bidders, in value order."""
    by: dict[str, set[int]] = defaultdict(set)
    for value, bidder in pairs:
        if value:
            by[value].add(bidder)
    return [(v, tuple(sorted(b))) for v, b in sorted(by.items()) if len(b) >= 2]


def _seen(address: str) -> bool:
    """An address that says where a client was: not unknown ("?") and not loopback, which is what a
    platform behind an untrusted proxy sees for everyone (TRUSTED_PROXY_HOPS, docs/signals.md)."""
    try:
        return not ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def same_address(bids: list[BidFacts]) -> list[Found]:
    """上传来源相同: one network address began or completed uploads of two or more bidders (one
    signal per address). A bidder's own two addresses never link it to itself; unknown and
    loopback addresses link nobody."""
    pairs = [(a, b.bidder) for b in bids for a in set(b.addresses) if _seen(a)]
    return [Found(SignalKind.SAME_ADDRESS, who, {"address": a}) for a, who in _groups(pairs)]


def same_install(bids: list[BidFacts]) -> list[Found]:
    """The same ``ggzy-bid`` installation id (docs/formats.md) sent with two or more bidders' uploads."""
    pairs = [(b.install_id or "", b.bidder) for b in bids]
    return [Found(SignalKind.SAME_INSTALL, who, {"install_id": i}) for i, who in _groups(pairs)]


def _comparable(f: FileFact, ref: Reference) -> bool:
    return f.size >= MIN_FILE_BYTES and f.name.rsplit("/", 1)[-1] != PRICE_SHEET and f.sm3 not in ref.sm3


def same_file(bids: list[BidFacts], ref: Reference = Reference()) -> list[Found]:
    """Identical files (same SM3) in different bidders' packages (实施条例第四十条: 投标文件异常一致,
    相互混装). Not compared: files of fewer than ``MIN_FILE_BYTES`` bytes, the price sheet, and any file
    whose SM3 is one of the tender's own documents or of a file inside them (a blank form returned
    unchanged). One signal per set of linked bidders, listing up to ``MAX_LISTED_FILES`` files."""
    owners: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    sizes: dict[str, int] = {}
    for b in bids:
        for f in b.files:
            if _comparable(f, ref):
                owners[f.sm3][b.bidder].append(f.name)
                sizes[f.sm3] = f.size
    by_set: dict[tuple[int, ...], list[dict[str, Any]]] = defaultdict(list)
    for sm3, who in sorted(owners.items()):
        if len(who) >= 2:
            names = {str(k): sorted(v) for k, v in sorted(who.items())}
            by_set[tuple(sorted(who))].append({"sm3": sm3, "size": sizes[sm3], "names": names})
    return [
        Found(SignalKind.SAME_FILE, who, {"count": len(files), "files": files[:MAX_LISTED_FILES]})
        for who, files in sorted(by_set.items())
    ]


def _meta_value(name: str, value: str) -> str:
    v = " ".join(value.split())
    if name in ("author", "last_modified_by") and v.lower() in GENERIC_AUTHORS:
        return ""
    return v


def reference_key(name: str, value: str) -> tuple[str, str]:
    """How a metadata value is looked up among the tender's own (an author is an author, whether
    it wrote or last modified the document)."""
    return ("author" if name == "last_modified_by" else name, value)


def same_metadata(bids: list[BidFacts], ref: Reference = Reference()) -> list[Found]:
    """Identical document metadata across bidders (实施条例第四十条: 由同一单位或者个人编制): one
    non-empty identical value of a ``FIRING_FIELDS`` field — an author or last modifier (not one of
    ``GENERIC_AUTHORS``), a company, a creation time to the second as written — in documents of two or
    more bidders, one signal per field and value. A creator tool ("Microsoft® Word") alone never fires;
    it is listed beside a shared creation time. Values found in the tender's own documents' metadata
    are ignored (a form filled in keeps its template's author and creation time)."""
    owners: dict[tuple[str, str], dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    tools: dict[tuple[str, str], set[str]] = defaultdict(set)
    for b in bids:
        for doc in b.metadata:
            for name in FIRING_FIELDS:
                v = _meta_value(name, doc.fields.get(name, ""))
                key = reference_key(name, v)  # an author is an author, whether it wrote or last modified
                if v and key not in ref.metadata:
                    owners[key][b.bidder].append(doc.file)
                    if name == "created" and doc.fields.get("tool"):
                        tools[key].add(doc.fields["tool"])
    out = []
    for (name, v), who in sorted(owners.items()):
        if len(who) < 2:
            continue
        evidence: dict[str, Any] = {
            "field": name,
            "label": FIELD_LABELS[name],
            "value": v,
            "files": {str(k): sorted(set(files))[:MAX_LISTED_FILES] for k, files in sorted(who.items())},
        }
        if tools.get((name, v)):
            evidence["tools"] = sorted(tools[(name, v)])
        out.append(Found(SignalKind.SAME_METADATA, tuple(sorted(who)), evidence))
    return out


def _cents(p: Decimal) -> str:
    return f"{p:.2f}".rsplit(".", 1)[1]


def price_pattern(prices: Mapping[int, Decimal]) -> list[Found]:
    """报价呈规律性差异 (实施条例第四十条第四项), with these exact thresholds:

    - ``equal``: two or more bids at the same price (to the cent);
    - ``equal_gaps``: three or more different prices that follow one another in ascending order
      (no other bid's price between them) with the same gap to the cent (a run of an arithmetic
      progression; one signal per maximal run);
    - ``same_cents``: two or more bids whose cents are the same and not ``00`` (…,345.67 and …,901.67);
    - ``within``: every bid's price (two or more different prices) within 0.1 % (``CLOSE_PRICES``) of
      the mean of all of them: max |price − mean| ≤ 0.001 × mean.
    """
    out: list[Found] = []
    valid = {b: p for b, p in prices.items() if p is not None and p > 0}
    by_price: dict[Decimal, list[int]] = defaultdict(list)
    for b, p in valid.items():
        by_price[p].append(b)
    for p, who in sorted(by_price.items()):
        if len(who) >= 2:
            out.append(Found(SignalKind.PRICE_PATTERN, tuple(sorted(who)), {"pattern": "equal", "price": f"{p:.2f}"}))
    distinct = sorted(by_price)
    i = 0
    while i + 2 < len(distinct):
        gap = distinct[i + 1] - distinct[i]
        j = i + 1
        while j + 1 < len(distinct) and distinct[j + 1] - distinct[j] == gap:
            j += 1
        if j - i + 1 >= 3:
            run = distinct[i : j + 1]
            linked = tuple(sorted(b for p in run for b in by_price[p]))
            evidence = {"pattern": "equal_gaps", "gap": f"{gap:.2f}", "prices": [f"{p:.2f}" for p in run]}
            out.append(Found(SignalKind.PRICE_PATTERN, linked, evidence))
            i = j
        else:
            i += 1
    cents: dict[str, list[int]] = defaultdict(list)
    for b, p in valid.items():
        if _cents(p) != "00":
            cents[_cents(p)].append(b)
    for c, who in sorted(cents.items()):
        if len(who) >= 2:
            out.append(Found(SignalKind.PRICE_PATTERN, tuple(sorted(who)), {"pattern": "same_cents", "cents": c}))
    if len(by_price) >= 2:  # all equal: the equal signal says it
        mean = sum(valid.values(), Decimal(0)) / len(valid)
        spread = max(abs(p - mean) for p in valid.values())
        if spread <= CLOSE_PRICES * mean:
            evidence = {"pattern": "within", "mean": f"{mean:.2f}", "max_deviation": f"{spread:.2f}", "limit": "0.1%"}
            out.append(Found(SignalKind.PRICE_PATTERN, tuple(sorted(valid)), evidence))
    return out


def _amount(v: Any) -> Decimal | None:
    try:
        return Decimal(str(v)) if isinstance(v, str | int) else None
    except ArithmeticError:
        return None


def same_sheet_error(bids: list[BidFacts], declared: list[dict[str, Any]]) -> list[Found]:
    """The same mistake in two or more price sheets (开标一览表; 实施条例第四十条: 异常一致):

    - ``sum_gap``: the price differs from the sum of the lot's amount-kind fields by the same
      non-zero amount (only when the lot declares amount fields);
    - ``same_text``: a free-text field (kind ``text``) has the same value of at least
      ``MIN_TEXT_CHARS`` characters, the lot's own label of that field excepted.
    """
    amounts = [f["name"] for f in declared if f.get("kind") == "amount"]
    texts = {f["name"]: str(f.get("label", "")) for f in declared if f.get("kind") == "text"}
    out: list[Found] = []
    if amounts:
        gaps: list[tuple[str, int]] = []
        for b in bids:
            parts = [_amount(b.sheet_fields.get(n)) for n in amounts]
            if b.price is None or any(p is None for p in parts):
                continue
            gap = b.price - sum((p for p in parts if p is not None), Decimal(0))
            if gap != 0:
                gaps.append((f"{gap:.2f}", b.bidder))
        for g, who in _groups(gaps):
            out.append(Found(SignalKind.SAME_SHEET_ERROR, who, {"pattern": "sum_gap", "gap": g, "fields": amounts}))
    for name, label in sorted(texts.items()):
        values = []
        for b in bids:
            v = b.sheet_fields.get(name)
            if isinstance(v, str) and len(v.strip()) >= MIN_TEXT_CHARS and v.strip() != label:
                values.append((v.strip(), b.bidder))
        for v, who in _groups(values):
            evidence = {"pattern": "same_text", "field": name, "label": label, "value": v}
            out.append(Found(SignalKind.SAME_SHEET_ERROR, who, evidence))
    return out


def _phone(v: str) -> str:
    return "".join(ch for ch in v if ch.isascii() and ch.isdigit())


def same_person(bids: list[BidFacts]) -> list[Found]:
    """The same person for different bidders (实施条例第四十条: 委托同一单位或者个人办理投标事宜):
    the same registration contact phone (digits compared; ``same_name`` says whether the contact's
    name is the same too), or the same non-empty legal representative (法定代表人)."""
    out = []
    names = {b.bidder: " ".join(b.contact_name.split()) for b in bids}
    for phone, who in _groups((_phone(b.contact_phone), b.bidder) for b in bids):
        shared = {names[w] for w in who}
        evidence = {"field": "contact_phone", "value": phone, "same_name": len(shared) == 1 and "" not in shared}
        if evidence["same_name"]:
            evidence["name"] = names[who[0]]
        out.append(Found(SignalKind.SAME_PERSON, who, evidence))
    for rep, who in _groups((" ".join(b.legal_representative.split()), b.bidder) for b in bids):
        out.append(Found(SignalKind.SAME_PERSON, who, {"field": "legal_representative", "value": rep}))
    return out


def all_signals(bids: list[BidFacts], declared: list[dict[str, Any]], ref: Reference = Reference()) -> list[Found]:
    """Every signal of a lot, in a stable order (kind, then as each rule orders them)."""
    prices = {b.bidder: b.price for b in bids if b.price is not None}
    return [
        *same_address(bids),
        *same_install(bids),
        *same_file(bids, ref),
        *same_metadata(bids, ref),
        *price_pattern(prices),
        *same_sheet_error(bids, declared),
        *same_person(bids),
    ]
