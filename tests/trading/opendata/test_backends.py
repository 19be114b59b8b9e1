"""On each database (SQLite, and PostgreSQL where the suite runs it): published tenders swept into
releases that validate, served by the API, never changed, never made twice."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from tests.trading.test_sweep_isolation import published_tenders
from trading.core.services import services
from trading.opendata.models import OcdsRelease, ReleaseChanged
from trading.opendata.publish import sweep
from trading.opendata.validation import check


def test_published_tenders_become_releases_once(session: Session, app: Flask, client: FlaskClient) -> None:
    made = published_tenders(session, app, 2)
    prefix = services(app).settings.ocds_ocid_prefix
    assert sweep(session, prefix, clock.now()) >= 2
    assert sweep(session, prefix, clock.now()) == 0
    for t in made:
        r = client.get(f"/api/v1/ocds/records/{prefix}-{t['code']}")
        assert r.status_code == 200
        pkg = r.get_json()
        assert check(pkg) == []
        (rec,) = pkg["records"]
        assert [x["tag"] for x in rec["releases"]] == [["tender"]]
        assert "bids" not in rec["compiledRelease"] and "tenderers" not in rec["compiledRelease"]["tender"]
    page = client.get("/api/v1/ocds/releases?since=2000-01-01&limit=500").get_json()
    assert {x["tender"]["id"] for x in page["releases"]} >= {t["code"] for t in made}
    row = session.scalars(select(OcdsRelease)).first()
    assert row is not None
    session.delete(row)
    with pytest.raises(ReleaseChanged):
        session.flush()
