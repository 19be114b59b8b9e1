"""The demo's OCDS releases: every one validates on the vendored schema (Draft 4, extensions
merge-patched in); each tender's compiled record is ocdsmerge's and says what the platform says;
nothing of a bidder appears in a release dated before the deadline; a sweep run again adds
nothing; a tender whose releases cannot be built holds up no other."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
from typing import Any

import ocdsmerge
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from tests.trading.opendata.conftest import PREFIX, Demo
from trading.accounts.models import Organisation
from trading.core.db import make_engine
from trading.evaluation.models import Evaluation
from trading.opendata.compiled import compile_releases, merge_rules, record
from trading.opendata.models import OcdsHeld, OcdsRelease, ReleaseChanged
from trading.opendata.publish import ocids, releases_of, sweep
from trading.opendata.validation import check, release_validator
from trading.opendata.vendored import release_schema
from trading.opening.models import Ceremony, CeremonyBidder, Stage
from trading.tenders.models import Interest, Lot, Tender

#: the opening stages at or after the reading (唱标), where bidders and prices are public
READ = [Stage.READING, Stage.CONFIRMING, Stage.CLOSED]


def all_releases(s: Session) -> dict[str, list[dict[str, Any]]]:
    return {o: releases_of(s, o) for o in ocids(s)}


def test_every_release_validates(demo: Demo) -> None:
    with demo.session() as s:
        found = all_releases(s)
    assert len(found) == 4 and demo.made == sum(len(r) for r in found.values())
    v = release_validator()
    for rs in found.values():
        for r in rs:
            assert [e.message for e in v.iter_errors(r)] == [], r["id"]
        assert check({"ocid": rs[0]["ocid"], **record(rs)}) == []
    tags = [r["tag"][0] for rs in found.values() for r in rs]
    assert {"tender", "tenderUpdate", "award", "awardUpdate"} <= set(tags)


def test_merge_rules_and_records_are_ocdsmerges(demo: Demo) -> None:
    schema = release_schema()
    assert merge_rules() == ocdsmerge.rules.get_merge_rules(schema)
    merger = ocdsmerge.Merger(schema)
    with demo.session() as s:
        for rs in all_releases(s).values():
            assert compile_releases(rs) == merger.create_compiled_release(rs)


def test_records_say_what_the_platform_says(demo: Demo) -> None:
    with demo.session() as s:
        for tender in s.scalars(select(Tender).where(Tender.docs_issued_at.is_not(None))):
            c = compile_releases(releases_of(s, f"{PREFIX}-{tender.code}"))
            t = c["tender"]
            assert (t["id"], t["title"]) == (tender.code, tender.title)
            assert [(x["id"], x["title"], x["value"]["amount"]) for x in t["lots"]] == [
                (str(lot.number), lot.name, int(lot.estimated_price)) for lot in tender.lots
            ]
            assert c["buyer"]["name"] == tender.tenderee.name
            bidders = {
                o.name
                for o in s.scalars(
                    select(Organisation)
                    .join(CeremonyBidder, CeremonyBidder.org_id == Organisation.id)
                    .join(Ceremony, Ceremony.id == CeremonyBidder.ceremony_id)
                    .where(Ceremony.tender_id == tender.id, Ceremony.stage.in_(READ))
                )
            }
            read = {b["tenderers"][0]["name"] for b in c.get("bids", {}).get("details", [])}
            assert read == bidders
            for lot in tender.lots:
                ev = s.scalar(select(Evaluation).where(Evaluation.lot_id == lot.id))
                awards = [a for a in c.get("awards", []) if a["relatedLots"] == [str(lot.number)]]
                if ev is None or ev.winner_bidder_id is None:
                    assert all(a["status"] == "pending" for a in awards)
                    continue
                winner = s.get(CeremonyBidder, ev.winner_bidder_id)
                assert winner is not None and winner.price_sheet is not None
                org = s.get(Organisation, winner.org_id)
                assert org is not None
                (award,) = awards
                assert award["status"] == "active" and lot.status.value == "awarded"
                assert award["suppliers"] == [{"id": f"CN-USCC-{org.credit_code}", "name": org.name}]
                assert c["tender"]["lots"][lot.number - 1]["status"] == "complete"
        awarded = [a for o in ocids(s) for a in compile_releases(releases_of(s, o)).get("awards", [])]
    assert any(a["status"] == "active" for a in awarded) and any(a["status"] == "pending" for a in awarded)


def test_nothing_of_a_bidder_before_the_deadline(demo: Demo) -> None:
    """招标投标法第二十二条: who registered or bid stays secret until the opening."""
    with demo.session() as s:
        names = set(s.scalars(select(Organisation.name).join(Interest, Interest.org_id == Organisation.id)))
        codes = set(s.scalars(select(Organisation.credit_code).join(Interest, Interest.org_id == Organisation.id)))
        before = 0
        for rs in all_releases(s).values():
            for r in rs:
                end = dt.datetime.fromisoformat(r["tender"]["tenderPeriod"]["endDate"].replace("Z", "+00:00"))
                if dt.datetime.fromisoformat(r["date"].replace("Z", "+00:00")) >= end:
                    continue
                before += 1
                text = json.dumps(r, ensure_ascii=False)
                assert "bids" not in r and "tenderers" not in r["tender"] and "numberOfTenderers" not in r["tender"]
                assert all(
                    p["roles"] in (["buyer"], ["buyer", "procuringEntity"], ["procuringEntity"]) for p in r["parties"]
                )
                assert not [n for n in names | codes if n in text], r["id"]
    assert before >= 4  # every tender's publication, at least


def test_a_second_sweep_adds_nothing_and_releases_do_not_change(demo: Demo) -> None:
    with demo.session() as s:
        assert sweep(s, PREFIX, clock.now()) == 0
        r = s.scalars(select(OcdsRelease)).first()
        assert r is not None
        r.body = "{}"
        with pytest.raises(ReleaseChanged):
            s.flush()
        s.rollback()


def test_one_broken_tender_holds_up_no_other(demo: Demo, tmp_path: pathlib.Path) -> None:
    engine = make_engine(demo.copy(tmp_path / "broken.db"))
    with Session(engine) as s:
        # the first tender with an evaluation (the demo's history begins with one in the review queue)
        first = s.scalars(
            select(Tender).join(Lot).join(Evaluation, Evaluation.lot_id == Lot.id).order_by(Tender.id)
        ).first()
        assert first is not None
        ev = s.scalar(select(Evaluation).join(Lot, Lot.id == Evaluation.lot_id).where(Lot.tender_id == first.id))
        assert ev is not None and ev.report is not None
        report = dict(ev.report)
        ev.report = report | {"candidates": [{"rank": 1}]}  # a report that lost its candidates' names
        s.commit()
        made = sweep(s, PREFIX, clock.now())
        held = s.scalars(select(OcdsHeld)).all()
        assert [h.tender_id for h in held] == [first.id] and "KeyError" in held[0].error
        assert s.scalar(select(OcdsRelease).where(OcdsRelease.tender_id == first.id)) is None
        assert made == demo.made - 5  # the first tender's five releases wait
        ev.report = report
        s.commit()
        assert sweep(s, PREFIX, clock.now()) == 0  # not retried at once
        assert sweep(s, PREFIX, clock.now() + dt.timedelta(minutes=1)) == 5  # retried after a pause, released
        assert s.scalars(select(OcdsHeld)).all() == []
    engine.dispose()
