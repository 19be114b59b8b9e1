"""Portal search over 100,000 published announcements on PostgreSQL.

    python bench/portal.py [--quick]        (GGZY_TEST_PG overrides the server URL)

Target (issue 4): median answer under 100 ms. Each figure is the median of repeated runs of one
query shape through trading.portal.search.search; the ratio compares it with the same text
query answered by ILIKE alone (no bigram index), measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import pathlib
import random
import re
import statistics
import sys
import time
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, insert, text
from sqlalchemy.orm import Session

from bench._common import emit

PG = os.environ.get("GGZY_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PLACES = ["福州", "厦门", "泉州", "漳州", "莆田", "三明", "南平", "龙岩", "宁德", "平潭", "闽侯", "长乐", "福清"]
WORKS = [
    "道路改造",
    "桥梁维修",
    "排涝泵站",
    "污水管网",
    "学校建设",
    "医院设备采购",
    "办公家具采购",
    "绿化养护服务",
    "物业管理服务",
    "隧道加固",
    "河道清淤",
    "路灯改造",
    "保障性住房",
    "体育馆建设",
    "数据中心运维",
]
KINDS = ["工程", "项目", "采购", "服务", "施工", "监理"]
FILLER = "本招标项目已由有关部门批准建设，项目业主为当地人民政府，建设资金来自财政资金，项目已具备招标条件，现对该项目进行公开招标。"


def build(url: str, n: int) -> None:
    from trading.core.db import upgrade
    from trading.tenders.models import Announcement, Tender
    from trading.tenders.search import terms

    upgrade(url)
    eng = create_engine(url)
    rnd = random.Random(7)
    regions = ["350102", "350103", "350104", "350105", "350111", "350121", "350181", "350203", "350206", "350502"]
    cats = ["construction", "goods", "services", "land_use", "mining", "state_property", "emission"]
    now = dt.datetime.now(dt.UTC)
    with Session(eng) as s:
        s.execute(
            text(
                "INSERT INTO organisation (id, name, credit_code, kind, region, created_at) VALUES "
                "(1, '基准招标人', '913501005000000000', 'tenderee', '350100', now())"
            )
        )
        s.execute(
            text(
                "INSERT INTO user_account (id, username, display_name, password_hash, organisation_id, is_active,"
                " created_at) VALUES (1, 'bench', 'bench', 'x', 1, true, now())"
            )
        )
        batch = 5000
        for start in range(0, n, batch):
            tenders, anns = [], []
            for i in range(start, min(n, start + batch)):
                title = f"{rnd.choice(PLACES)}{rnd.choice(PLACES)}{rnd.choice(WORKS)}{rnd.choice(KINDS)}（{i}）"
                body = f"{title}。{FILLER}招标编号 ZB{i:07d}。{rnd.choice(WORKS)}，{rnd.choice(WORKS)}。"
                at = now - dt.timedelta(minutes=i)
                tenders.append(
                    {
                        "id": i + 1,
                        "code": f"GGZY-B-{i:07d}",
                        "title": title,
                        "description": "",
                        "category": rnd.choice(cats),
                        "procedure_code": "construction_open",
                        "tenderee_org_id": 1,
                        "region": rnd.choice(regions),
                        "status": "published",
                        "bid_deadline": at + dt.timedelta(days=20),
                        "bid_validity_days": 90,
                        "docs_issued_at": at,
                        "created_by_user_id": 1,
                        "created_at": at,
                        "updated_at": at,
                    }
                )
                anns.append(
                    {
                        "id": i + 1,
                        "tender_id": i + 1,
                        "kind": "tender",
                        "status": "published",
                        "title": title,
                        "body": body,
                        "affects_bids": False,
                        "created_by_user_id": 1,
                        "created_at": at,
                        "published_at": at,
                        "content_sm3": "0" * 64,
                        "search_terms": terms(f"{title} {body}"),
                    }
                )
            s.execute(insert(Tender.__table__), tenders)
            s.execute(insert(Announcement.__table__), anns)
            s.commit()
        s.execute(text("ANALYZE"))
        s.commit()
    eng.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 10_000 if args.quick else 100_000
    repeat = 15 if args.quick else 30
    name = f"ggzy_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = re.sub(r"/[^/]+$", f"/{name}", PG)
    try:
        t0 = time.perf_counter()
        build(url, n)
        emit("portal_build_time", time.perf_counter() - t0, "s", None, None, "lower")
        from trading.portal.search import PortalQuery, like_pattern, search
        from trading.tenders.models import TenderCategory

        eng = create_engine(url)
        shapes = {
            "latest": PortalQuery(),
            "text_common": PortalQuery(q="道路改造"),
            "text_rare": PortalQuery(q="ZB0054321"),
            "text_phrase": PortalQuery(q="福州排涝泵站"),
            "text_and_filters": PortalQuery(q="采购", category=TenderCategory.GOODS, region="3501"),
            "filters_page_5": PortalQuery(category=TenderCategory.CONSTRUCTION, region="350102", page=5),
        }
        medians = []
        with Session(eng) as s:
            for label, pq in shapes.items():
                times = []
                for _ in range(repeat):
                    t = time.perf_counter()
                    search(s, pq)
                    times.append(time.perf_counter() - t)
                med = statistics.median(times) * 1000
                medians.append(med)
                baseline = None
                if pq.q:
                    # The same text query without the bigram index: ILIKE over title/body only.
                    sql = text(
                        "SELECT a.id FROM announcement a JOIN tender t ON t.id = a.tender_id "
                        "WHERE a.status = 'published' AND (a.title ILIKE :p OR a.body ILIKE :p) "
                        "ORDER BY a.published_at DESC LIMIT 21"
                    )
                    bt = []
                    for _ in range(max(3, repeat // 5)):
                        t = time.perf_counter()
                        s.execute(sql, {"p": like_pattern(pq.q)}).all()
                        bt.append(time.perf_counter() - t)
                    baseline = statistics.median(bt) * 1000
                emit(
                    f"portal_search_{label}_median",
                    med,
                    "ms",
                    None if baseline is None else med / baseline,
                    100,
                    "lower",
                )
        emit("portal_search_worst_median", max(medians), "ms", None, 100, "lower")
        emit("portal_announcements", n, "rows", None, None, "higher")
        eng.dispose()
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
