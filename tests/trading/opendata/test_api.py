"""The open-data API, page, bulk files and ``ggzy ocds`` on the swept demo: packages that validate,
paging that loses nothing, named 4xx for a bad ``since`` or ocid, bulk files written once."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import pathlib

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from tests.trading.opendata.conftest import PREFIX, Demo
from trading.cli import main
from trading.core.db import make_engine
from trading.core.services import Services
from trading.opendata.models import OcdsBulk
from trading.opendata.publish import bulk_due, gzip_lines, lines, write_bulk
from trading.opendata.validation import check


def test_release_pages_validate_and_lose_nothing(demo: Demo, demo_app: Flask) -> None:
    c = demo_app.test_client()
    seen: list[str] = []
    url: str | None = "/api/v1/ocds/releases?limit=5"
    while url:
        r = c.get(url)
        assert r.status_code == 200, r.get_json()
        pkg = r.get_json()
        assert check(pkg) == [] and pkg["extensions"]
        seen += [x["id"] for x in pkg["releases"]]
        url = pkg.get("links", {}).get("next")
    assert len(seen) == len(set(seen)) == demo.made
    later = c.get("/api/v1/ocds/releases?since=2026-12-04T00:00:00%2B08:00").get_json()["releases"]
    assert later and all(x["date"] >= "2026-12-03T16:00:00" for x in later) and len(later) < demo.made


def test_a_record_package_per_published_tender(demo_app: Flask) -> None:
    c = demo_app.test_client()
    r = c.get(f"/api/v1/ocds/records/{PREFIX}-GGZY-2026-000003")
    assert r.status_code == 200
    pkg = r.get_json()
    assert check(pkg) == []
    (rec,) = pkg["records"]
    assert rec["compiledRelease"]["awards"][0]["status"] == "active"
    assert rec["releases"][0]["tag"] == ["tender"]


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/api/v1/ocds/releases?since=yesterday", 422, "invalid_input"),
        ("/api/v1/ocds/releases?since=2026-13-01", 422, "invalid_input"),
        ("/api/v1/ocds/releases?since=9999-12-31T23:59:59-14:00", 422, "invalid_input"),
        ("/api/v1/ocds/releases?limit=0", 422, "invalid_input"),
        ("/api/v1/ocds/releases?after=-1", 422, "invalid_input"),
        ("/api/v1/ocds/records/ocds-x%20y", 422, "invalid_input"),
        (f"/api/v1/ocds/records/{PREFIX}-GGZY-2099-000001", 404, "not_found"),
        ("/api/v1/ocds/bulk/2026-02-30/releases.jsonl.gz", 404, "not_found"),
        ("/api/v1/ocds/bulk/2026-12-01/bids.jsonl.gz", 404, "not_found"),
    ],
)
def test_bad_input_is_a_named_4xx(demo_app: Flask, url: str, status: int, code: str) -> None:
    r = demo_app.test_client().get(url)
    assert (r.status_code, r.get_json()["error"]["code"]) == (status, code)


def test_bulk_files_are_written_once(demo: Demo, demo_app: Flask, tmp_path: pathlib.Path) -> None:
    store = Services(demo.settings).store
    day = clock.local(clock.now()).date()
    engine = make_engine(demo.settings.database_url)
    with Session(engine) as s:
        assert write_bulk(s, store, day, clock.now()) == 2
        s.commit()
        assert write_bulk(s, store, day, clock.now()) == 0  # the day is done: nothing rewritten
        # the job a day later writes every finished day still missing (a scheduler that was down
        # catches up), then nothing more
        bulk_due(s, store, clock.now() + dt.timedelta(days=1))
        s.commit()
        assert bulk_due(s, store, clock.now() + dt.timedelta(days=1)) == 0
        days = sorted({b.day for b in s.scalars(select(OcdsBulk))})
        assert days == [days[0] + dt.timedelta(days=i) for i in range(len(days))] and days[-1] == day
        files = {b.kind: b for b in s.scalars(select(OcdsBulk).where(OcdsBulk.day == day))}
        # the same lines make the same bytes (no time in the gzip header): a rerun stores nothing new
        assert gzip_lines(lines(s, "releases", clock.now() + dt.timedelta(days=2)))[0] == store.read_bytes(
            files["releases"].object_key
        )
    engine.dispose()
    assert files["releases"].count == demo.made and files["records"].count == 4
    c = demo_app.test_client()
    listed = c.get("/api/v1/ocds/bulk").get_json()["items"]
    assert {(i["day"], i["kind"]) for i in listed} >= {(day.isoformat(), "releases"), (day.isoformat(), "records")}
    r = c.get(f"/api/v1/ocds/bulk/{day.isoformat()}/records.jsonl.gz")
    assert r.status_code == 200 and r.mimetype == "application/gzip"
    records = [json.loads(x) for x in gzip.decompress(r.data).splitlines()]
    assert [check(x) for x in records] == [[]] * 4
    page = c.get("/opendata").get_data(as_text=True)
    assert "开放数据" in page and f"{PREFIX}-GGZY-2026-000002" in page and "records.jsonl.gz" in page
    r = c.get("/opendata/tenders/GGZY-2026-000002")
    assert r.status_code == 302 and r.location.endswith(f"/api/v1/ocds/records/{PREFIX}-GGZY-2026-000002")
    assert c.get("/opendata/tenders/GGZY-2099-000001").status_code == 404


def test_cli_exports_and_validates(demo: Demo, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GGZY_INSTANCE", str(demo.instance))
    monkeypatch.setenv("GGZY_ENV", "demo")
    monkeypatch.setenv("OCDS_OCID_PREFIX", PREFIX)
    for var in ("DATABASE_URL", "OBJECT_STORE_URL", "ARCHIVE_STORE_URL", "SECRET_KEY"):
        monkeypatch.delenv(var, raising=False)
    run = CliRunner()
    out = tmp_path / "releases.json"
    assert run.invoke(main, ["ocds", "releases", "--out", str(out)]).exit_code == 0
    r = run.invoke(main, ["ocds", "validate", str(out)])
    assert r.exit_code == 0 and "全部通过" in r.output, r.output
    rec = tmp_path / "record.json"
    assert run.invoke(main, ["ocds", "record", f"{PREFIX}-GGZY-2026-000002", "--out", str(rec)]).exit_code == 0
    assert run.invoke(main, ["ocds", "validate", str(rec)]).exit_code == 0
    bad = json.loads(out.read_text())
    bad["releases"][0]["tender"]["lots"][0]["status"] = "awarded"  # not in the lots extension's codelist
    out.write_text(json.dumps(bad))
    r = run.invoke(main, ["ocds", "validate", str(out)])
    assert r.exit_code != 0 and "releases/0/tender/lots/0/status" in r.output
    assert run.invoke(main, ["ocds", "publish"]).output.strip() == "新生成发布 0 条"
