"""The audit page: pages of 50 in sequence order, filters, and events described in words."""

from __future__ import annotations

import datetime as dt
import html
import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, AuditEvent, record_event
from tests.factories import make_user, page_login
from tests.trading.tenders.test_sealed_trail import bidder_steps, published
from trading.accounts.models import Role
from trading.audit.trail import PAGE_SIZE
from trading.tenders.operations import close_due

ROW = re.compile(r'<tr><td class="num">#(\d+)<br>([^<]+)<br>([^<]+)</td>(.*?)</tr>', re.S)


def rows(page: str) -> list[tuple[int, str, str]]:
    return [(int(seq), f"{day} {time}", html.unescape(rest)) for seq, day, time, rest in ROW.findall(page)]


def visible(page: str) -> str:
    """The page's text a person reads: no tags, attributes, code or the details' JSON."""
    page = re.sub(r"<(code|pre|script|style|option)[^>]*>.*?</\1>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def last_seq(session: Session) -> int:
    return int(session.scalar(select(func.max(AuditEvent.seq))) or 0)


def test_paging_in_sequence_order_with_links(client: FlaskClient, session: Session) -> None:
    staff = make_user(session, Role.STAFF)
    start = last_seq(session)
    for i in range(2 * PAGE_SIZE + 7):
        record_event(session, SYSTEM, "notification.send", ("notification", str(i)), {"i": i})
    session.commit()
    page_login(client, staff.username)
    first = client.get("/audit?action=notification.send").get_data(as_text=True)
    shown = rows(first)
    assert len(shown) == PAGE_SIZE
    seqs = [s for s, _, _ in shown]
    assert seqs == sorted(seqs, reverse=True) and seqs[0] > start
    times = [at for _, at, _ in shown]
    assert times == sorted(times, reverse=True)  # sequence and time agree
    assert "共 107 条，第 1 / 3 页" in first
    assert 'href="/audit?action=notification.send&amp;page=2" rel="next"' in first
    third = client.get("/audit?action=notification.send&page=3").get_data(as_text=True)
    assert [s for s, _, _ in rows(third)] == list(range(start + 7, start, -1))
    assert 'rel="prev"' in third and 'rel="next"' not in third
    # past the last page is the last page; a page that is not a number is named
    assert rows(client.get("/audit?action=notification.send&page=99").get_data(as_text=True)) == rows(third)
    r = client.get("/audit?page=abc")
    assert r.status_code == 422 and "页码：应为正整数" in r.get_data(as_text=True)


def test_events_are_described_in_words(client: FlaskClient, session: Session) -> None:
    supervisor = make_user(session, Role.SUPERVISOR)
    bidder = make_user(session, Role.BIDDER)
    client.post("/api/v1/auth/token", json={"username": bidder.username, "password": "correct horse battery"})
    page_login(client, supervisor.username)
    page = client.get(f"/audit?actor={bidder.username}").get_data(as_text=True)
    (_, _, rest), *_ = rows(page)
    org = bidder.organisation.name if bidder.organisation else ""
    assert f"<td>测试用户 · {org} · 投标人</td>" in rest
    assert '<span title="session.open.api">取得访问令牌</span>' in rest
    assert re.search(r'<code class="hash">[0-9a-f]{64}</code>', rest)
    text = visible(page)
    assert "session.open" not in text and "user:" not in text and "（bidder）" not in text
    system = client.get("/audit?actor=system").get_data(as_text=True)
    assert all("平台（定时任务）" in r for _, _, r in rows(system))


def test_filters_by_action_kind_and_dates(client: FlaskClient, session: Session) -> None:
    staff = make_user(session, Role.STAFF)
    base = dt.datetime(2031, 3, 10, 3, 0, tzinfo=dt.UTC)  # 11:00 Beijing time
    for day, action in ((0, "holiday.set"), (1, "holiday.delete"), (2, "holiday.set")):
        with clock.frozen(base + dt.timedelta(days=day)):
            record_event(session, SYSTEM, action, ("holiday", f"2031-04-0{day + 1}"))
    with clock.frozen(base + dt.timedelta(days=2, hours=14)):  # 01:00 on the 13th, Beijing time
        record_event(session, SYSTEM, "holiday.set", ("holiday", "2031-05-01"))
    session.commit()
    page_login(client, staff.username)

    def seqs(query: str) -> int:
        return len(rows(client.get(f"/audit?{query}").get_data(as_text=True)))

    assert seqs("action=holiday.*") == 4
    assert seqs("action=holiday.set") == 3
    assert seqs("action=holiday.*&from=2031-03-11&to=2031-03-12") == 2
    assert seqs("action=holiday.*&from=2031-03-13") == 1  # the day is Beijing's
    assert seqs("action=holiday.*&to=2031-03-10") == 1
    for query, line in (
        ("action=nothing.here", "操作：不是可选的值"),
        ("from=2031-02-30", "开始日期：日期格式不正确"),
        ("from=2031-03-12&to=2031-03-11", "开始日期：晚于结束日期"),
        ("to=9999-12-31", "结束日期：超出可查询的范围"),  # its next midnight is no instant: was a 500
        ("from=0001-01-01", "开始日期：超出可查询的范围"),
    ):
        r = client.get(f"/audit?{query}")
        assert r.status_code == 422 and line in r.get_data(as_text=True), query
    assert "没有用户名为“nobody”的用户" in client.get("/audit?actor=nobody").get_data(as_text=True)


def test_a_time_is_never_earlier_than_the_event_before(client: FlaskClient, session: Session) -> None:
    """The trail holds an event's time at its predecessor's (archive.audit.record_event): the page
    never shows a later event at an earlier time, even when the clock went back."""
    staff = make_user(session, Role.STAFF)
    with clock.frozen(dt.datetime(2031, 6, 1, 2, 0, tzinfo=dt.UTC)):
        record_event(session, SYSTEM, "holiday.set", ("holiday", "2031-06-01"))
    with clock.frozen(dt.datetime(2031, 6, 1, 1, 0, tzinfo=dt.UTC)):
        record_event(session, SYSTEM, "holiday.delete", ("holiday", "2031-06-01"))
    session.commit()
    page_login(client, staff.username)
    shown = rows(client.get("/audit?action=holiday.*&from=2031-06-01&to=2031-06-01").get_data(as_text=True))
    assert [at for _, at, _ in shown] == ["2031-06-01 10:00:00", "2031-06-01 10:00:00"]


def test_filter_by_tender_keeps_bidders_sealed_until_the_deadline(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    s = published(client, session, app)
    for b in s.bidders:
        bidder_steps(client, s, b)
    page_login(client, s.supervisor.username)
    page = client.get(f"/audit?tender={s.code}").get_data(as_text=True)
    shown = [rest for _, _, rest in rows(page)]
    labels = [re.search(r"<span title=\"([^\"]+)\"", r).group(1) for r in shown]  # type: ignore[union-attr]
    assert {"tender.create", "tender.submit", "tender.publish", "tender_document.upload"} <= set(labels)
    assert not any("投标人（身份密封" in r for r in shown)  # no bid, download or question before the deadline
    assert "没有项目编号为“NO-SUCH”的招标项目" in client.get("/audit?tender=NO-SUCH").get_data(as_text=True)

    with clock.frozen(s.deadline + dt.timedelta(seconds=1)):
        close_due(session, clock.now())
        session.commit()
        page_login(client, s.supervisor.username)  # 25 days on: the first session has expired
        after = [rest for _, _, rest in rows(client.get(f"/audit?tender={s.code}").get_data(as_text=True))]
    assert sum('title="bid.submit"' in r for r in after) == 2, after
    assert any('title="tender.bidding_close"' in r for r in after)


def test_the_log_check_is_told_in_chinese(client: FlaskClient, session: Session) -> None:
    from tests.factories import csrf_from
    from trading.audit.trail import problem_line

    assert problem_line("event 12", "重算的根与签名的根不符，树大小 3 (root mismatch)") == (
        "事件 #12",
        "重算的根与签名的根不符，树大小 3",
    )
    assert problem_line("checkpoint 4", "签名无效 (signature invalid): bad") == (
        "检查点 4",
        "签名无效 (signature invalid): bad",
    )
    staff = make_user(session, Role.STAFF)
    session.commit()
    page_login(client, staff.username)
    token = csrf_from(client.get("/audit").get_data(as_text=True))
    page = client.post("/audit/verify", data={"csrf_token": token}).get_data(as_text=True)
    assert "哈希链完整" in page or "发现" in page
    assert "event " not in visible(page)


def test_payload_lines_show_beijing_time_and_short_hashes() -> None:
    from trading.audit.trail import payload_items

    sm3 = "ab" * 32
    items = payload_items(
        f'{{"at": "2026-12-03T18:08:00+00:00", "sm3": "{sm3}", "n": 1, "x": {{"a": "甲"}}, "d": "2026-12-03"}}'
    )
    assert items == [
        ("at", "2026-12-04 02:08:00（北京时间）", False),
        ("d", "2026-12-03", False),
        ("n", "1", False),
        ("sm3", sm3, True),
        ("x", '{"a": "甲"}', False),
    ]
    assert payload_items("[1, 2]") == [("", "[1, 2]", False)]
    assert payload_items("not json") == [("", "not json", False)]


def test_an_operator_is_named_with_the_login_name_as_code(client: FlaskClient, session: Session) -> None:
    from archive.audit import ActorRef

    staff = make_user(session, Role.STAFF)
    record_event(session, ActorRef("cli:ops", "admin"), "holiday.set", ("holiday", "2031-07-01"))
    record_event(session, ActorRef("issuer-bot", "issuer"), "holiday.set", ("holiday", "2031-07-02"))
    session.commit()
    page_login(client, staff.username)
    shown = [rest for _, _, rest in rows(client.get("/audit?action=holiday.set").get_data(as_text=True))]
    assert "<td>运维命令行（<code>ops</code>）</td>" in shown[1]
    assert "<td><code>issuer-bot</code></td>" in shown[0]
