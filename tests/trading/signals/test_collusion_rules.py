"""Each collusion signal fires on crafted bids and stays silent on honest ones (pure rules, no
database), and the package reader hashes files and reads PDF and Office metadata within bounds."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from typing import Any

import pytest
from pypdf import PdfWriter

from signing.digest import sm3_hex
from trading.signals import packages, rules
from trading.signals.models import SignalKind
from trading.signals.rules import BidFacts, DocMeta, FileFact, Reference

D = Decimal
DECLARED = [
    {"name": "duration_days", "label": "工期（日历天）", "kind": "integer"},
    {"name": "labour", "label": "人工费", "kind": "amount"},
    {"name": "material", "label": "材料费", "kind": "amount"},
    {"name": "quality", "label": "质量标准", "kind": "text"},
]


def f(name: str, data: bytes) -> FileFact:
    return FileFact(name, sm3_hex(data), len(data))


def kinds(found: list[rules.Found]) -> list[SignalKind]:
    return [s.kind for s in found]


def test_same_address_and_install() -> None:
    honest = [BidFacts(1, ("10.0.0.1", "10.0.0.1"), "a" * 64), BidFacts(2, ("10.0.0.2", "10.0.0.3"), "b" * 64)]
    assert rules.same_address(honest) == [] and rules.same_install(honest) == []
    crafted = [
        BidFacts(1, ("10.0.0.1", "10.0.0.9"), "a" * 64),
        BidFacts(2, ("10.0.0.2", "10.0.0.9"), "a" * 64),
        BidFacts(3, ("?", "127.0.0.1"), None),
        BidFacts(4, ("?", "127.0.0.1"), None),
    ]
    [addr] = rules.same_address(crafted)
    assert addr.bidders == (1, 2) and addr.evidence == {"address": "10.0.0.9"}  # unknown or loopback links nobody
    [inst] = rules.same_install(crafted)
    assert inst.bidders == (1, 2) and inst.evidence["install_id"] == "a" * 64


def test_same_file_but_not_the_tender_documents_tiny_files_or_the_price_sheet() -> None:
    form, plan, tiny = b"blank form " * 20, "施工组织设计 v1".encode() * 20, b"ok"
    sheet = b'{"price":"1.00"}' * 10
    ref = Reference(sm3=frozenset({sm3_hex(form)}))
    honest = [
        BidFacts(1, files=(f("a/form.docx", form), f("t.txt", tiny), f("开标一览表.json", sheet), f("p", b"x" * 99))),
        BidFacts(2, files=(f("b/form.docx", form), f("u.txt", tiny), f("开标一览表.json", sheet), f("p", b"y" * 99))),
    ]
    assert rules.same_file(honest, ref) == []
    crafted = [*honest[:1], BidFacts(2, files=(f("技术标/方案.pdf", plan),)), BidFacts(3, files=(f("x.pdf", plan),))]
    [s] = rules.same_file(crafted, ref)
    assert s.bidders == (2, 3) and s.evidence["count"] == 1
    assert s.evidence["files"][0] == {
        "sm3": sm3_hex(plan),
        "size": len(plan),
        "names": {"2": ["技术标/方案.pdf"], "3": ["x.pdf"]},
    }


def meta(**fields: str) -> tuple[DocMeta, ...]:
    return (DocMeta("doc.pdf", fields),)


def test_same_metadata_fires_on_author_company_or_time_never_on_a_tool_alone() -> None:
    word = "Microsoft® Word 2016"
    honest = [
        BidFacts(1, metadata=meta(author="Administrator", tool=word, created="D:20261201100000+08'00'")),
        BidFacts(2, metadata=meta(author="administrator", tool=word, created="D:20261202090000+08'00'")),
        BidFacts(3, metadata=meta(author="招标代理张工", created="D:20261101000000+08'00'")),
        BidFacts(4, metadata=meta(author="招标代理张工", created="D:20261101000000+08'00'")),
    ]
    # the same tool and a generic author; an author and time that come from the tender's own form
    ref = Reference(metadata=frozenset({("author", "招标代理张工"), ("created", "D:20261101000000+08'00'")}))
    assert rules.same_metadata(honest, ref) == []
    crafted = [
        BidFacts(1, metadata=(DocMeta("a.docx", {"author": "李四", "company": "甲公司"}),)),
        BidFacts(2, metadata=(DocMeta("b.docx", {"last_modified_by": "李四", "company": "甲公司"}),)),
        BidFacts(3, metadata=meta(tool=word, created="D:20261203101010+08'00'")),
        BidFacts(4, metadata=meta(tool=word, created="D:20261203101010+08'00'")),
    ]
    found = rules.same_metadata(crafted)
    by = {(s.evidence["field"], s.evidence["value"]): s.bidders for s in found}
    assert by == {
        ("author", "李四"): (1, 2),  # the author of one, the last modifier of the other
        ("company", "甲公司"): (1, 2),
        ("created", "D:20261203101010+08'00'"): (3, 4),
    }
    created = next(s for s in found if s.evidence["field"] == "created")
    assert created.evidence["tools"] == [word] and created.kind is SignalKind.SAME_METADATA


@pytest.mark.parametrize(
    ("prices", "pattern", "linked"),
    [
        ({1: D("9000000.00"), 2: D("9000000.00"), 3: D("8500000.00")}, "equal", (1, 2)),
        ({1: D("8800000.00"), 2: D("8900000.00"), 3: D("9000000.00"), 4: D("9600000.00")}, "equal_gaps", (1, 2, 3)),
        ({1: D("8812345.67"), 2: D("9001234.67"), 3: D("9500000.00")}, "same_cents", (1, 2)),
        ({1: D("9000000.00"), 2: D("9004000.00"), 3: D("8996500.00")}, "within", (1, 2, 3)),
    ],
)
def test_price_pattern_fires(prices: dict[int, Decimal], pattern: str, linked: tuple[int, ...]) -> None:
    found = [s for s in rules.price_pattern(prices) if s.evidence["pattern"] == pattern]
    assert [s.bidders for s in found] == [linked]


def test_price_pattern_thresholds_and_honest_prices() -> None:
    honest = {1: D("8712000.00"), 2: D("9050500.00"), 3: D("9433300.00"), 4: D("8000000.50")}
    assert rules.price_pattern(honest) == []
    # 0.1 % of the mean, exactly: fires; a cent beyond: silent
    assert [s.evidence["pattern"] for s in rules.price_pattern({1: D("999.00"), 2: D("1001.00")})] == ["within"]
    assert rules.price_pattern({1: D("998.99"), 2: D("1001.01")}) == []
    assert [
        s for s in rules.price_pattern({1: D("998.98"), 2: D("1001.00")}) if s.evidence["pattern"] == "within"
    ] == []
    # equal gaps need three prices in a row: a price between breaks the run
    assert rules.price_pattern({1: D("100.00"), 2: D("150.00"), 3: D("170.00"), 4: D("200.00")}) == []


def sheet(price: str, labour: str, material: str, quality: str) -> BidFacts:
    return BidFacts(0, price=D(price), sheet_fields={"labour": labour, "material": material, "quality": quality})


def test_same_sheet_error() -> None:
    a = sheet("1000.00", "400.00", "600.00", "合格")
    b = sheet("2000.00", "900.00", "1100.00", "合格")
    honest = [
        BidFacts(1, price=a.price, sheet_fields=a.sheet_fields),
        BidFacts(2, price=b.price, sheet_fields=b.sheet_fields),
    ]
    assert rules.same_sheet_error(honest, DECLARED) == []
    c = sheet("1000.00", "400.00", "590.00", "符合国家现行验收规范要求，一次验收合格")
    d = sheet("2000.00", "900.00", "1090.00", "符合国家现行验收规范要求，一次验收合格")
    crafted = [
        BidFacts(1, price=c.price, sheet_fields=c.sheet_fields),
        BidFacts(2, price=d.price, sheet_fields=d.sheet_fields),
    ]
    found = rules.same_sheet_error(crafted, DECLARED)
    assert [(s.evidence["pattern"], s.bidders) for s in found] == [("sum_gap", (1, 2)), ("same_text", (1, 2))]
    assert found[0].evidence["gap"] == "10.00"


def test_same_person() -> None:
    honest = [
        BidFacts(1, contact_name="张伟", contact_phone="13800000001", legal_representative="赵一"),
        BidFacts(2, contact_name="张伟", contact_phone="13800000002", legal_representative=""),
        BidFacts(3, contact_name="", contact_phone="", legal_representative=""),
    ]
    assert rules.same_person(honest) == []  # a common name alone, or nothing, links nobody
    crafted = [
        BidFacts(1, contact_name="张伟", contact_phone="138-0000-0001", legal_representative="赵一"),
        BidFacts(2, contact_name="张伟", contact_phone="13800000001", legal_representative="钱二"),
        BidFacts(3, contact_name="李娜", contact_phone="139 0000 0003", legal_representative="赵一"),
    ]
    found = rules.same_person(crafted)
    assert [(s.evidence["field"], s.bidders) for s in found] == [
        ("contact_phone", (1, 2)),
        ("legal_representative", (1, 3)),
    ]
    assert found[0].evidence["same_name"] is True and found[0].evidence["name"] == "张伟"


def test_an_honest_lot_has_no_signal_at_all() -> None:
    bids = [
        BidFacts(
            i,
            (f"10.0.{i}.1", f"10.0.{i}.2"),
            f"{i}" * 64,
            (f(f"技术标{i}.pdf", f"方案 {i}".encode() * 50),),
            meta(author=f"作者{i}", created=f"D:2026120{i}100000+08'00'"),
            D(p),
            {"labour": "100.00", "material": str(D(p) - 100), "quality": "合格"},
            f"联系人{i}",
            f"1380000000{i}",
            f"代表{i}",
        )
        for i, p in ((1, "8712000.00"), (2, "9050500.00"), (3, "9433300.00"))
    ]
    assert rules.all_signals(bids, DECLARED) == []


# ---------------------------------------------------------------- reading packages
def pdf(**info: str) -> bytes:
    w = PdfWriter()
    w.add_blank_page(100, 100)
    if info:
        w.add_metadata({f"/{k}": v for k, v in info.items()})
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def docx(creator: str, company: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr(
            "docProps/core.xml",
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"'
            ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/">'
            f"<dc:creator>{creator}</dc:creator><cp:lastModifiedBy>{creator}</cp:lastModifiedBy>"
            "<dcterms:created>2026-12-01T10:00:00Z</dcterms:created></cp:coreProperties>",
        )
        z.writestr(
            "docProps/app.xml",
            '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
            f"<Application>Microsoft Office Word</Application><AppVersion>16.0000</AppVersion><Company>{company}</Company>"
            "</Properties>",
        )
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def package(files: dict[str, bytes]) -> io.BytesIO:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    out.seek(0)
    return out


def test_a_package_is_hashed_and_its_documents_metadata_read() -> None:
    p = pdf(Author="李四", Creator="WPS 文字", Producer="WPS", CreationDate="D:20261201100000+08'00'")
    d = docx("李四", "甲公司")
    facts = packages.read_package(package({"商务标/投标函.pdf": p, "技术标/方案.docx": d, "readme.txt": b"hello"}))
    assert {x.name: x.sm3 for x in facts.files} == {
        "商务标/投标函.pdf": sm3_hex(p),
        "技术标/方案.docx": sm3_hex(d),
        "readme.txt": sm3_hex(b"hello"),
    }
    got: dict[str, Any] = {m.file: dict(m.fields) for m in facts.metadata}
    assert got["商务标/投标函.pdf"] == {
        "author": "李四",
        "created": "D:20261201100000+08'00'",
        "tool": "WPS 文字 / WPS",
    }
    assert got["技术标/方案.docx"] == {
        "author": "李四",
        "last_modified_by": "李四",
        "created": "2026-12-01T10:00:00Z",
        "tool": "Microsoft Office Word 16.0000",
        "company": "甲公司",
    }


def test_broken_documents_have_no_metadata_and_a_broken_package_is_named() -> None:
    assert packages.pdf_metadata(b"%PDF-1.4 /Info garbage") == {}
    hostile = pdf(Author="李\x00四\x1b[2J\u202e\n", Title="x")
    assert packages.pdf_metadata(hostile)["author"] == "李四[2J"  # nothing a terminal or database chokes on
    assert packages.pdf_metadata(hostile + b"%" + b"x" * 4096) == {}  # bytes after %%EOF: not parsed
    assert packages.office_metadata(b"PK\x03\x04 not really") == {}
    entity = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'
    assert packages.office_metadata(docx("x", "y").replace(b"<Types/>", b"<Types/>")) != {}
    assert packages._xml(entity) is None
    with pytest.raises(packages.PackageUnreadable) as err:
        packages.read_package(io.BytesIO(b"not a zip at all"))
    assert err.value.code == "archive_unreadable"


def test_a_package_slow_to_read_spends_its_budget_and_is_still_hashed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bidder filling its bid with documents slow to parse delays its own package by the budget,
    not the lot: past it the rest are hashed only, and counted."""
    p = pdf(Author="李四")
    monkeypatch.setattr(packages, "META_BUDGET_SECONDS", 0.0)
    facts = packages.read_package(package({"a.pdf": p, "b.pdf": p + b"\n", "c.txt": b"x"}))
    assert len(facts.files) == 3 and facts.metadata == () and facts.unread == 2
