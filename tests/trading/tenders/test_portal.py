"""Portal search (Chinese without a segmenter), filters, paging, JSON API and the Atom feed."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from archive import clock
from tests.factories import make_org, make_user
from trading.accounts.models import OrgKind, Role
from trading.tenders.models import (
    Announcement,
    AnnouncementKind,
    AnnouncementState,
    EvaluationMethod,
    Lot,
    Tender,
    TenderCategory,
    TenderState,
)
from trading.tenders.publishing import seal
from trading.tenders.search import query_terms, terms


def publish(session: Session, title: str, body: str, category: TenderCategory, region: str, n: int) -> Tender:
    """A published tender row built directly (the lifecycle itself is tested in test_tender_api)."""
    org = make_org(session, OrgKind.TENDEREE)
    user = make_user(session, Role.TENDEREE, org=org)
    now = clock.now() - dt.timedelta(minutes=n)
    t = Tender(
        code=f"T-PORTAL-{n:04d}-{org.id}",
        title=title,
        category=category,
        procedure_code="construction_open",
        tenderee_org_id=org.id,
        region=region,
        status=TenderState.PUBLISHED,
        bid_deadline=now + dt.timedelta(days=30),
        docs_issued_at=now,
        created_by_user_id=user.id,
        created_at=now,
        updated_at=now,
    )
    t.lots = [
        Lot(
            number=1,
            name="一",
            estimated_price=100,
            bond_amount=1,
            region=region,
            evaluation_method=EvaluationMethod.LOWEST_PRICE,
            criteria={},
            committee_size=5,
            specialties=[],
            price_fields=[],
        )
    ]
    session.add(t)
    session.flush()
    a = Announcement(
        tender_id=t.id,
        kind=AnnouncementKind.TENDER,
        status=AnnouncementState.DRAFT,
        title=title,
        body=body,
        created_by_user_id=user.id,
        created_at=now,
    )
    session.add(a)
    session.flush()
    seal(session, a, None, now)
    return t


def test_terms() -> None:
    assert {"公共", "共资", "资源", "公", "gov", "2026"} <= set(terms("公共资源 GOV 2026"))
    assert query_terms("道路改造") == ["改造", "路改", "道路"]
    assert query_terms("桥") == ["桥"]


def test_search_filters_and_paging(client: FlaskClient, session: Session) -> None:
    publish(session, "滨海新城道路改造工程", "道路改造施工", TenderCategory.CONSTRUCTION, "350102", 1)
    publish(session, "市立医院医疗设备采购", "CT 设备 采购", TenderCategory.GOODS, "350100", 2)
    publish(session, "厦门港航道疏浚工程", "疏浚 改造", TenderCategory.CONSTRUCTION, "350200", 3)
    session.commit()

    def titles(qs: str) -> list[str]:
        r = client.get(f"/api/v1/announcements?{qs}")
        assert r.status_code == 200, r.get_json()
        return [i["title"] for i in r.get_json()["items"]]

    assert titles("q=道路改造") == ["滨海新城道路改造工程"]
    assert titles("q=路道") == []  # bigrams present? no — and the phrase recheck would catch co-occurrence
    assert titles("q=ct") == ["市立医院医疗设备采购"]
    assert "厦门港航道疏浚工程" not in titles("region=3501")
    assert set(titles("region=350100")) >= {"滨海新城道路改造工程", "市立医院医疗设备采购"}
    assert titles("category=goods") == ["市立医院医疗设备采购"]
    assert titles("q=改造&category=construction&region=35")[:2] == ["滨海新城道路改造工程", "厦门港航道疏浚工程"]
    r = client.get("/api/v1/announcements?page_size=1&q=工程").get_json()
    assert len(r["items"]) == 1 and r["has_more"] is True
    for bad in ("page=0", "page_size=500", "region=abc", "status=bogus", "page=x", "page=%D9%A3", "page_size=1_0"):
        assert client.get(f"/api/v1/announcements?{bad}").status_code == 422, bad
    assert titles("q=%25") == [] and titles("q=_") == []  # LIKE wildcards are literal


def test_atom_feed_is_valid(client: FlaskClient, session: Session) -> None:
    publish(session, "某排污权交易公告 <特别> & 说明", "排污权", TenderCategory.EMISSION, "350100", 4)
    session.commit()
    r = client.get("/feed.atom")
    assert r.status_code == 200 and r.mimetype == "application/atom+xml"
    root = ET.fromstring(r.data)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [e.findtext("a:title", namespaces=ns) for e in root.findall("a:entry", ns)]
    assert "某排污权交易公告 <特别> & 说明" in titles


def test_unpublished_never_listed(client: FlaskClient, session: Session) -> None:
    t = publish(session, "草稿中的测试项目公告", "不应出现", TenderCategory.SERVICES, "350100", 5)
    a = t.announcements[0]
    a.status, a.published_at, a.content_sm3 = AnnouncementState.DRAFT, None, None
    session.commit()
    assert client.get("/api/v1/announcements?q=草稿中的测试").get_json()["items"] == []


def test_search_page_reads_as_chinese(client: FlaskClient, session: Session) -> None:
    """The page names regions, formats estimates and tells a bad parameter in Chinese (the API
    keeps its keys)."""
    t = publish(
        session, "鼓楼区学校操场改造工程", "操场改造\n第二行：工期 90 日历天", TenderCategory.CONSTRUCTION, "350102", 6
    )
    t.lots[0].estimated_price = 12_800_000
    session.commit()
    html = client.get("/portal?q=操场改造").get_data(as_text=True)
    assert "福州市鼓楼区" in html and "估算价 12,800,000.00 元" in html
    assert '<option value="350100" >福州市</option>' in html or ">福州市</option>" in html
    for bad, name in (("category=bogus", "类别"), ("page=x", "页码"), ("page_size=500", "每页条数")):
        r = client.get(f"/portal?{bad}")
        assert r.status_code == 422 and name in r.get_data(as_text=True), bad
        assert "category" not in r.get_data(as_text=True).split("<main>")[1].split("<form")[0]
    api = client.get("/api/v1/announcements?page=x").get_json()["error"]
    assert "page" in api["fields"] and "页码" in api["message"]
    # the announcement keeps its lines and lists the lots' estimates
    ann = client.get(f"/announcements/{t.announcements[0].id}").get_data(as_text=True)
    assert "<p>操场改造</p><p>第二行：工期 90 日历天</p>" in ann and "估算价 12,800,000.00 元" in ann
