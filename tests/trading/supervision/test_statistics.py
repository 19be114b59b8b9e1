"""The trading statistics (交易统计): the rules of each figure, the facts sweep and its audit event,
``--verify`` from a log export (agreeing, and catching a tampered export), the pages, downloads,
permissions and bad filters."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, AuditEvent, record_event
from archive.transparency import request_checkpoint, sign_pending
from tests.factories import api_token, make_user, page_login, platform_keys
from trading.accounts.models import Role
from trading.core.errors import InvalidInput
from trading.supervision import facts, statistics, stats_queries
from trading.supervision.log_export import export_log, verify_export
from trading.supervision.models import FactSource, LotFact
from trading.supervision.statistics import Fact, tables
from trading.supervision.stats_api import Filters, csv_bytes, read_filters

D = Decimal
UTC = dt.UTC


def fact(
    key: str,
    outcome: str = "awarded",
    budget: str = "100.00",
    award: str | None = "90.00",
    bids: int | None = 3,
    concluded: dt.datetime = dt.datetime(2026, 3, 10, 2, 0, tzinfo=UTC),
    days: float = 30,
    category: str = "construction",
    region: str = "350100",
    source: str = "trail",
) -> Fact:
    return Fact(
        source,
        key,
        category,
        "construction_open",
        region,
        concluded - dt.timedelta(days=days),
        concluded,
        outcome,
        D(budget),
        D(award) if award is not None and outcome == "awarded" else None,
        bids,
    )


def test_each_figure_follows_its_one_rule() -> None:
    got = tables(
        [
            fact("A/1", budget="1000.00", award="800.00", bids=4, days=20),
            fact("A/2", budget="500.00", award="500.00", bids=2, days=40),
            fact("B/1", "failed", budget="9999.00", bids=1),
            fact("C/1", "terminated", budget="300.00", bids=None),
        ]
    )["category"]
    row = got.rows[0]
    assert (row.tenders, row.lots, row.awarded, row.failed, row.terminated) == (3, 4, 2, 1, 1)
    assert row.budget == D("11799.00") and row.award == D("1300.00") and row.awarded_budget == D("1500.00")
    # 节资率 over the awarded lots only: (1500 − 1300) / 1500; the failed lot's budget is not "saved"
    assert row.savings_rate == statistics.savings_rate(D("1500.00"), D("1300.00")) == D(200) / D(1500)
    assert statistics.percent(row.savings_rate) == "13.33%"
    assert row.failure_rate == D(1) / D(3)  # failed ÷ (awarded + failed); the terminated lot neither
    assert row.average_bids == D(7) / D(3)  # over the lots whose opening states bids
    assert row.average_days == D(30)  # announcement → award, awarded lots only
    assert got.total.figures() == ("total", *row.figures()[1:])
    assert statistics.savings_rate(D(0), D(0)) is None and statistics.percent(None) == "—"


def test_months_are_beijing_months_across_a_boundary() -> None:
    late_january_utc = dt.datetime(2026, 1, 31, 17, 0, tzinfo=UTC)  # 2026-02-01 01:00 in Beijing
    before = dt.datetime(2026, 1, 31, 15, 59, tzinfo=UTC)  # 23:59 in Beijing, still January
    got = tables([fact("A/1", concluded=late_january_utc), fact("B/1", concluded=before)])["month"]
    assert [(r.key, r.label, r.lots) for r in got.rows] == [("2026-01", "2026年1月", 1), ("2026-02", "2026年2月", 1)]
    assert stats_queries.year_bounds(2026)[0] == dt.datetime(2025, 12, 31, 16, 0, tzinfo=UTC)


def test_csv_is_utf8_with_bom_and_neutralises_formulas() -> None:
    hostile = fact('=HYPERLINK("http://x")/1', category="@SUM(A1)", budget="100.00", award="120.00")
    t = tables([hostile, fact("B/1", region="+350100")])["category"]
    data = csv_bytes(t)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["分组代码", "分组", "数据来源"]
    cells = [c for r in rows[1:] for c in r]
    assert "'@SUM(A1)" in cells and not any(c.startswith(("=", "+", "@")) for c in cells)
    assert "-0.200000" in cells  # a negative savings rate is a number, not neutralised
    assert rows[-1][0] == "total"


def test_filters_are_bounded() -> None:
    assert read_filters({}) == Filters()
    assert read_filters({"by": "month", "year": "2026", "source": "trail"}) == Filters("month", 2026, "trail")
    for bad in ({"by": "tenderee"}, {"year": "99999999999999999999"}, {"year": "１２３４"}, {"source": "x"}):
        with pytest.raises(InvalidInput) as e:
            read_filters(bad)
        assert e.value.code == "stats_filter"


def test_sql_and_python_paths_agree(session: Session) -> None:
    n = facts.generate_history(session, months=13, seed=7, now=dt.datetime(2026, 3, 1, tzinfo=UTC), per_month=6)
    session.add(
        LotFact(
            source=FactSource.TRAIL,
            lot_key="T-1/1",
            category="goods",
            procedure_code="gp_open",
            region="350200",
            announced_at=dt.datetime(2026, 1, 1, 1, 2, 3, 456789, tzinfo=UTC),
            concluded_at=dt.datetime(2026, 1, 31, 16, 30, tzinfo=UTC),  # February in Beijing
            outcome="awarded",
            budget=D("1234567.89"),
            award_amount=D("1000000.01"),
            bids=5,
        )
    )
    session.flush()
    assert n > 50
    for year, source in ((None, "all"), (2026, "all"), (None, "trail"), (2025, "generated")):
        by_sql = stats_queries.sql_tables(session, year, source)
        by_python = tables(stats_queries.load_facts(session, year, source))
        for dim in statistics.DIMENSIONS:
            a, b = by_sql[dim].rows, by_python[dim].rows
            assert [r.figures() for r in a] == [r.figures() for r in b]
            assert by_sql[dim].total.figures() == by_python[dim].total.figures()
    trail = stats_queries.sql_tables(session, None, "trail")["month"]
    assert [r.key for r in trail.rows] == ["2026-02"] and trail.generated == 0
    assert stats_queries.sql_tables(session)["category"].generated == n


# ---------------------------------------------------------------- from the audit trail
def concluded_lots(client: FlaskClient, session: Session, app: Flask) -> dict[str, Any]:
    """One lot awarded (three bids) and one that failed at its deadline (no bid)."""
    from tests.trading.opening.test_ceremony import open_tender
    from tests.trading.test_draw import run_opening
    from tests.trading.test_evaluation import evaluate_and_award

    failed = open_tender(client, session, app, 0)
    t = open_tender(client, session, app, 3)
    run_opening(client, app, t)
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)) as moment:
        client.get(f"/api/v1/ceremonies/{failed['cid']}")  # its deadline has passed: it fails
        got = evaluate_and_award(client, session, app, t, moment)
        now = clock.now()
    return {"awarded": t, "failed": failed, "price": got["winner"]["price"], "now": now}


def sign_checkpoint(session: Session, app: Flask) -> None:
    keys = platform_keys(app)
    request_checkpoint(session, "test")
    sign_pending(session, keys.sign_key, keys.sign_cert)
    session.flush()


def exported(session: Session) -> list[str]:
    out = io.StringIO()
    export_log(session, out)
    return out.getvalue().splitlines()


def test_facts_from_the_trail_are_verified_from_an_export(client: FlaskClient, session: Session, app: Flask) -> None:
    got = concluded_lots(client, session, app)
    with clock.frozen(got["now"] + dt.timedelta(minutes=1)):
        assert facts.sweep_facts(session, clock.now()) == 2
        assert facts.sweep_facts(session, clock.now()) == 0  # idempotent
    rows = {f.lot_key: f for f in session.scalars(select(LotFact).where(LotFact.source == FactSource.TRAIL))}
    win = rows[f"{got['awarded']['code']}/1"]
    lost = rows[f"{got['failed']['code']}/1"]
    assert (win.outcome, win.award_amount, win.bids) == ("awarded", D(got["price"]), 3)
    assert (lost.outcome, lost.award_amount, lost.bids) == ("failed", None, 0)
    ev = session.get(AuditEvent, win.fact_seq)
    assert ev is not None and ev.action == "stats.lot_fact" and ev.object_type == "lot"
    body = json.loads(ev.payload)
    assert body["award_amount"] == facts.money(got["price"]) and body["bids"] == 3
    cited = {k: session.get(AuditEvent, v) for k, v in body["sources"].items()}
    assert [cited[k].action for k in ("publish", "conclusion", "opening")] == [  # type: ignore[union-attr]
        "tender.publish",
        "lot.award",
        "ceremony.sign_in",
    ]
    assert json.loads(cited["conclusion"].payload)["price"] == got["price"]  # type: ignore[union-attr]

    sign_checkpoint(session, app)
    trusted = platform_keys(app).sign_cert
    lines = exported(session)
    result = verify_export(lines, trusted, session)
    assert result.findings == [] and result.facts == 2 and result.lots == 2

    # the award price changed in the export: the leaf no longer matches, nor the signed root
    i = next(n for n, line in enumerate(lines) if '"action": "lot.award"' in line)
    tampered = lines.copy()
    tampered[i] = tampered[i].replace(got["price"], "1.00")
    assert {f.code for f in verify_export(tampered, trusted, session).findings} >= {"leaf_mismatch", "root_mismatch"}
    # an event dropped from the export
    dropped = lines[:i] + lines[i + 1 :]
    assert [f.code for f in verify_export(dropped, trusted, session).findings] == ["event_missing"]
    # the fact in the database changed: the export still proves the old one
    win.award_amount = D("1.00")
    session.flush()
    codes = {f.code for f in verify_export(lines, trusted, session).findings}
    assert codes == {"fact_differs", "figure_differs"}
    # a fact whose payload disagrees with its source (checked from the export alone)
    forged = dict(body, award_amount="1.00")
    events = {s: json.loads(line) for line in lines[1:] for s in [json.loads(line)["seq"]]}
    assert [f.code for f in facts_check(win.fact_seq, forged, events)] == ["fact_disagrees"]


def facts_check(seq: int | None, body: dict[str, Any], events: dict[int, dict[str, Any]]) -> list[Any]:
    from trading.supervision.log_export import check_fact

    assert seq is not None
    return check_fact(seq, body, events)


# ---------------------------------------------------------------- pages, downloads, permissions
def test_pages_downloads_permissions_and_bad_filters(client: FlaskClient, session: Session) -> None:
    supervisor, bidder = make_user(session, Role.SUPERVISOR), make_user(session, Role.BIDDER)
    n = facts.generate_history(session, months=12, seed=3, per_month=5)
    session.commit()
    assert client.get("/supervision/statistics").status_code == 302  # to the login page
    assert client.get("/api/v1/supervision/statistics").status_code == 401
    hb = api_token(client, bidder.username)
    assert client.get("/api/v1/supervision/statistics", headers=hb).status_code == 403
    h = api_token(client, supervisor.username)
    r = client.get("/api/v1/supervision/statistics?by=region", headers=h)
    assert r.status_code == 200 and r.get_json()["generated_lots"] == n
    assert {row["source"] for row in r.get_json()["rows"]} == {"generated"}
    bad = client.get("/api/v1/supervision/statistics?year=1999", headers=h)
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "stats_filter"
    page_login(client, supervisor.username)
    html = client.get("/supervision/statistics?by=month").get_data(as_text=True)
    assert 'id="generated-banner"' in html and f"{n} 个标段" in html and "节资率 =" in html
    assert "<polyline" in html and "演示生成数据" in html
    html = client.get("/supervision/statistics?by=category").get_data(as_text=True)
    assert html.count('<rect class="bar"') >= 2
    assert client.get("/supervision/statistics?by=nope").status_code == 422
    got = client.get("/supervision/statistics.csv?by=region&source=generated")
    assert got.mimetype == "text/csv" and got.data.startswith(b"\xef\xbb\xbf")
    assert "attachment" in got.headers["Content-Disposition"]
    body = json.loads(client.get("/supervision/statistics.json?by=procedure").data)
    assert body["total"]["lots"] == n and body["formulas"]["savings_rate"].startswith("节资率")
    trail_only = client.get("/supervision/statistics?source=trail").get_data(as_text=True)
    assert 'id="generated-banner"' not in trail_only
    page_login(client, bidder.username)
    assert client.get("/supervision/statistics").status_code == 403


def test_the_command_line(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``ggzy stats`` prints the tables; ``ggzy audit export`` and ``ggzy stats --verify`` agree on an
    untouched export and fail, naming the finding, on an edited one."""
    from click.testing import CliRunner

    from tests.trading.test_cli import demo_environment
    from trading.cli import main
    from trading.cli.common import database, settings
    from trading.core.platform_keys import load_platform_keys

    demo_environment(monkeypatch, tmp_path / "instance")
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    keys = load_platform_keys(settings())
    db = database(settings())
    with db.session() as s:
        n = generate_history_for_cli(s)
        record_event(s, SYSTEM, "scheduler.acquire", ("scheduler", "1"), {"holder": "test"})  # a log to export
        request_checkpoint(s, "test")
        sign_pending(s, keys.sign_key, keys.sign_cert)
        s.commit()
    db.engine.dispose()
    got = runner.invoke(main, ["stats", "--by", "month", "--json"])
    assert got.exit_code == 0, got.output
    assert json.loads(got.output)["total"]["lots"] == n
    text = runner.invoke(main, ["stats", "--by", "region"])
    assert "龙岩市" in text.output or "福州市" in text.output
    assert runner.invoke(main, ["stats", "--by", "tenderee"]).exit_code == 2
    out = tmp_path / "log.jsonl"
    exported = runner.invoke(main, ["audit", "export", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    ok = runner.invoke(main, ["stats", "--verify", str(out)])
    assert ok.exit_code == 0 and "统计核验通过" in ok.output, ok.output
    lines = out.read_text(encoding="utf-8").splitlines()
    lines[-1] = lines[-1].replace('"payload": "{', '"payload": "{\\"x\\":1,', 1)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad = runner.invoke(main, ["stats", "--verify", str(out)])
    assert bad.exit_code == 1 and "root_mismatch" in bad.output, bad.output


def generate_history_for_cli(session: Session) -> int:
    return facts.generate_history(session, months=6, seed=5, per_month=4)


def test_a_trail_fact_without_its_event_fails_the_verification(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    """A "trail" row inserted into the table (no stats.lot_fact event) would move every figure; the
    verification names it, and a malformed fact in the export is a named finding, not a crash."""
    got = concluded_lots(client, session, app)
    with clock.frozen(got["now"] + dt.timedelta(minutes=1)):
        facts.sweep_facts(session, clock.now())
    sign_checkpoint(session, app)
    trusted = platform_keys(app).sign_cert
    lines = exported(session)
    assert verify_export(lines, trusted, session).findings == []
    session.add(
        LotFact(
            source=FactSource.TRAIL,
            lot_key="GGZY-2099-000001/1",
            category="construction",
            procedure_code="construction_open",
            region="350100",
            announced_at=got["now"],
            concluded_at=got["now"],
            outcome="awarded",
            budget=D("100000000.00"),
            award_amount=D("1.00"),
            bids=3,
            fact_seq=None,
        )
    )
    session.flush()
    assert "fact_without_event" in {f.code for f in verify_export(lines, trusted, session).findings}
    i = next(n for n, line in enumerate(lines) if '"action": "stats.lot_fact"' in line)
    row = json.loads(lines[i])
    row["payload"] = json.dumps(dict(json.loads(row["payload"]), announced_at=5))
    broken = [*lines[:i], json.dumps(row), *lines[i + 1 :]]
    assert verify_export(broken, trusted, None).findings  # named, never raised
