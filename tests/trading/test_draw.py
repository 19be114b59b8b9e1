"""The expert pool and the verifiable draw: every exclusion rule, determinism and the re-run check
(pure functions), and the API on SQLite and PostgreSQL: commitments published before the seed, the
draw, confirmations, a decline replaced by a new round, ``ggzy draw verify`` and bad input."""

from __future__ import annotations

import base64
import datetime as dt
import json
import pathlib
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import AuditEvent
from tests.factories import add_expert_of, api_token, draw_and_confirm, make_user, valid_code
from tests.trading.opening.test_ceremony import all_released, open_tender
from trading.accounts.models import Role
from trading.core.services import services
from trading.evaluation import draw as rules
from trading.evaluation.models import Expert
from trading.opening.decryption import run_pending

DAY = dt.date(2026, 12, 20)
TENDEREE, BIDDER = valid_code(900_000_001), valid_code(900_000_002)


def rules_for(**over: Any) -> rules.Rules:
    base: dict[str, Any] = {
        "tenderee": TENDEREE,
        "bidders": (BIDDER,),
        "on": DAY,
        "slots": (rules.Slot("350100", "A01", 1),),
    }
    return rules.Rules(**{**base, **over})


def expert(i: int, **over: Any) -> rules.Candidate:
    base: dict[str, Any] = {
        "id": i,
        "specialties": ("A01",),
        "region": "350100",
        "employer": valid_code(800_000_000 + i),
    }
    return rules.Candidate(**{**base, **over})


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        (expert(1, available=False), "unavailable"),
        (expert(1, suspended_until="2026-12-31"), "suspended"),
        (expert(1, employer=BIDDER), "employer"),
        (expert(1, employer=TENDEREE), "employer"),
        (expert(1, history=({"credit_code": BIDDER, "from": "2020-01-01", "to": "2024-06-30"},)), "former_employer"),
        (
            expert(
                1, relations=({"kind": "director", "credit_code": BIDDER, "from": "2019-01-01", "to": "2024-01-01"},)
            ),
            "director",
        ),
        (
            expert(1, relations=({"kind": "shareholder", "credit_code": TENDEREE, "from": "2025-01-01", "to": None},)),
            "shareholder",
        ),
        (
            expert(
                1, relations=({"kind": "kinship", "credit_code": BIDDER, "from": "1990-01-01", "to": "2000-01-01"},)
            ),
            "kinship",
        ),
        (expert(1, served=({"tenderee": TENDEREE, "on": "2026-09-01"},)), "same_tenderee"),
    ],
)
def test_each_exclusion(candidate: rules.Candidate, reason: str) -> None:
    assert rules.excluded(candidate, rules_for()) == reason


def test_what_does_not_exclude() -> None:
    r = rules_for()
    old_job = {"credit_code": BIDDER, "from": "2015-01-01", "to": "2023-12-19"}  # left more than 3 years ago
    old_board = {"kind": "director", "credit_code": BIDDER, "from": "2010-01-01", "to": "2022-01-01"}
    assert rules.excluded(expert(1, history=(old_job,), relations=(old_board,)), r) is None
    assert rules.excluded(expert(1, suspended_until="2026-12-19"), r) is None  # suspension over
    assert rules.excluded(expert(1, served=({"tenderee": TENDEREE, "on": "2026-06-01"},)), r) is None  # cooled off
    assert rules.excluded(expert(1, served=({"tenderee": BIDDER, "on": "2026-12-01"},)), r) is None  # another tenderee


def test_the_draw_is_deterministic_and_verifiable() -> None:
    pool = [
        expert(i, region="350100" if i % 2 else "350200", specialties=("A01", "B02") if i % 3 else ("B02",))
        for i in range(1, 200)
    ]
    r = rules_for(slots=(rules.Slot("350100", "A01", 3), rules.Slot("350200", "B02", 2)), exclude=(3,))
    seed = bytes(range(32))
    got = rules.draw(pool, r, seed)
    assert got == rules.draw(list(reversed(pool)), r, seed)  # pool order does not matter
    assert [s for s, _ in got] == [0, 0, 0, 1, 1] and len({x for _, x in got}) == 5 and 3 not in {x for _, x in got}
    assert rules.draw(pool, r, bytes(32)) != got  # another seed, another committee
    snap = rules.snapshot_bytes(pool, r)
    from signing.digest import sm3_hex

    assert rules.verify(snap, sm3_hex(snap), seed, sm3_hex(seed), got) == []
    assert rules.verify(snap, sm3_hex(snap), bytes(32), sm3_hex(seed), got)  # another seed than committed
    tampered = snap.replace(b'"employer":"', b'"employer":"X', 1)
    assert rules.verify(tampered, sm3_hex(snap), seed, sm3_hex(seed), got)  # the snapshot changed
    assert rules.verify(snap, sm3_hex(snap), seed, sm3_hex(seed), [*got[:-1], (1, 1)])  # another result
    with pytest.raises(rules.NotEnoughExperts):
        rules.draw(pool[:3], r, seed)


def opened_lot(client: FlaskClient, session: Session, app: Flask, **lot: Any) -> dict[str, Any]:
    """A lot whose opening has closed (evaluating), its three bidders known."""
    t = open_tender(client, session, app, 3, **lot)
    run_opening(client, app, t)
    return t


def run_opening(client: FlaskClient, app: Flask, t: dict[str, Any]) -> None:
    """``t``'s opening from the deadline to its close: all sign in and release their keys; the
    confirmation window runs out (silence is deemed confirmation)."""
    room = f"/api/v1/ceremonies/{t['cid']}"
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)) as moment:
        all_released(client, t)
        run_pending(app.extensions["ggzy.db"], services(app))
        for _ in range(3):  # each window runs out in turn
            moment.advance(hours=1)
            client.get(room)
        assert client.get(room).get_json()["stage"] == "closed"


def _expert_body(i: int, username: str, employer: str) -> dict[str, Any]:
    return {"name": f"专家{i}", "username": username, "specialties": ["A01"], "region": "350100", "employer": employer}


def _experts(session: Session, t: dict[str, Any], n: int = 8) -> list[Any]:
    """``n`` expert accounts in the pool (operation ``add_expert``); expert 0 works for bidder 0."""
    codes = [b.user.organisation.credit_code for b in t["bidders"]]
    experts = [make_user(session, Role.EXPERT) for _ in range(n)]
    session.commit()
    for i, u in enumerate(experts):
        add_expert_of(session, t, **_expert_body(i, u.username, codes[0] if i == 0 else valid_code(700_000_000 + i)))
    return experts


def _drawn(client: FlaskClient, session: Session, app: Flask) -> tuple[dict[str, Any], Any, list[dict[str, str]]]:
    """The lot's first round committed and run by the operations (clock frozen by the caller): the
    lot, the draw, the eight experts' tokens."""
    t = opened_lot(client, session, app)
    he = [api_token(client, u.username) for u in _experts(session, t)]
    return t, draw_and_confirm(session, app, t, confirm=False), he


def _invited(client: FlaskClient, he: list[dict[str, str]]) -> dict[int, list[Any]]:
    return {i: client.get("/api/v1/me/invitations", headers=h).get_json()["items"] for i, h in enumerate(he)}


def _cli_env(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", str(app.extensions["ggzy.settings"].database_url))
    monkeypatch.setenv("GGZY_INSTANCE", str(app.extensions["ggzy.settings"].instance))
    monkeypatch.setenv("GGZY_ENV", "test")


def test_a_draw_through_the_api(
    client: FlaskClient, session: Session, app: Flask, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one path over HTTP: the pool, a declaration, the committed draw, its run, a decline
    replaced by a new round, ``ggzy draw verify``; the refusals have their own tests below."""
    t = opened_lot(client, session, app)
    bidder_codes = [b.user.organisation.credit_code for b in t["bidders"]]  # type: ignore[union-attr]
    experts = [make_user(session, Role.EXPERT) for _ in range(8)]
    session.commit()
    hs = t["staff"]
    for i, u in enumerate(experts):  # expert 0 works for a bidder
        body = _expert_body(i, u.username, bidder_codes[0] if i == 0 else valid_code(700_000_000 + i))
        r = client.post("/api/v1/experts", json=body, headers=hs)
        assert r.status_code == 201, r.get_json()
    he = [api_token(client, u.username) for u in experts]
    # expert 1 declares that it sat on the board of a bidder until last year
    board = {"kind": "director", "credit_code": bidder_codes[2], "from": "2018-01-01", "to": "2025-06-30"}
    r = client.put(
        "/api/v1/experts/me", json={"employer": valid_code(700_000_001), "relations": [board]}, headers=he[1]
    )
    assert r.status_code == 200

    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)):
        lot = f"/api/v1/tenders/{t['code']}/lots/1/draws"
        r = client.post(lot, json={}, headers=hs)  # the lot asks for 4 of A01 at 350100
        assert r.status_code == 201, r.get_json()
        d = r.get_json()
        assert d["seed"] is None and len(d["seed_sm3"]) == 64  # committed, not revealed
        d = client.post(f"/api/v1/draws/{d['id']}/run", headers=hs).get_json()
        assert d["state"] == "drawn" and d["members"] == {"invited": 4}
        from signing.digest import sm3_hex

        assert sm3_hex(bytes.fromhex(d["seed"])) == d["seed_sm3"]
        invited = _invited(client, he)
        assert invited[0] == [] and invited[1] == []  # the bidder's employee and its former director
        drawn = [i for i in range(8) if invited[i]]
        assert len(drawn) == 4
        first, *rest = drawn
        inv = invited[first][0]["id"]
        r = client.post(
            f"/api/v1/invitations/{inv}/respond", json={"accept": False, "reason": "当日出差"}, headers=he[first]
        )
        assert r.status_code == 200
        for i in rest:
            r = client.post(f"/api/v1/invitations/{invited[i][0]['id']}/respond", json={"accept": True}, headers=he[i])
            assert r.status_code == 200
        # the decline is replaced by a new round drawn the same way, never the same expert again
        r2 = client.post(f"{lot}/replace", json={}, headers=hs)
        assert r2.status_code == 201
        d2 = client.post(f"/api/v1/draws/{r2.get_json()['id']}/run", headers=hs).get_json()
        assert d2["round"] == 2 and d2["members"] == {"invited": 1}
        again = [i for i in range(8) if len(_invited(client, he)[i]) == 2]
        assert again == []  # nobody drawn twice

    # ggzy draw verify, offline from the exported file
    from trading.cli import main

    _cli_env(app, monkeypatch)
    path = tmp_path / "draw.json"
    path.write_text(json.dumps(client.get(f"/api/v1/draws/{d['id']}/bundle", headers=hs).get_json()))
    r = CliRunner().invoke(main, ["draw", "verify", str(path)])
    assert r.exit_code == 0, r.output


def test_the_pool_refuses_bad_experts_and_declarations(client: FlaskClient, session: Session, app: Flask) -> None:
    t = opened_lot(client, session, app)
    experts = _experts(session, t, 2)
    body, hs = _expert_body(9, make_user(session, Role.EXPERT).username, valid_code(700_000_009)), t["staff"]
    session.commit()
    assert client.post("/api/v1/experts", json={**body, "region": "35"}, headers=hs).status_code == 422
    assert client.post("/api/v1/experts", json={**body, "username": experts[1].username}, headers=hs).status_code == 409
    assert client.post("/api/v1/experts", json=body, headers=t["headers"][0]).status_code == 403
    he1 = api_token(client, experts[1].username)
    assert client.put("/api/v1/experts/me", json={"employer": "x"}, headers=he1).status_code == 422


def test_staff_may_split_the_seats_never_change_the_committee(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    t = opened_lot(client, session, app)
    _experts(session, t)
    hs = t["staff"]
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)):
        lot = f"/api/v1/tenders/{t['code']}/lots/1/draws"
        events = session.scalar(select(func.count()).select_from(AuditEvent))
        for slots in (
            [{"region": "350100", "specialty": "A01", "count": 1}],  # a committee of one
            [
                {"region": "350100", "specialty": "A01", "count": 3},
                {"region": "350200", "specialty": "A01", "count": 2},
            ],
            [
                {"region": "350100", "specialty": "A01", "count": 3},
                {"region": "350100", "specialty": "B02", "count": 1},
            ],
        ):
            r = client.post(lot, json={"slots": slots}, headers=hs)
            assert r.status_code == 422 and "规划 4 名" in r.get_json()["error"]["message"], r.get_json()
        bad = {"slots": [{"region": "350100", "specialty": "A01", "count": 0}]}
        assert client.post(lot, json=bad, headers=hs).status_code == 422
        assert client.post(lot, json={}, headers=t["headers"][0]).status_code == 403
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == events  # nothing written
        r = client.post(lot, json={}, headers=hs)
        assert r.status_code == 201, r.get_json()
        d = r.get_json()
        assert client.post(lot, json={}, headers=hs).get_json()["error"]["code"] == "already_drawn"
        # nor can a second round add seats: after the first, only freed seats are drawn again
        extra = {"slots": [{"region": "350100", "specialty": "A01", "count": 4}]}
        assert client.post(lot, json=extra, headers=hs).get_json()["error"]["code"] == "already_drawn"
        commit_ev = session.scalars(select(AuditEvent).where(AuditEvent.action == "draw.commit")).one()
        assert d["seed_sm3"] in commit_ev.payload and d["snapshot_sm3"] in commit_ev.payload
        assert client.post(f"/api/v1/draws/{d['id']}/run", headers=t["headers"][0]).status_code == 403
        d = client.post(f"/api/v1/draws/{d['id']}/run", headers=hs).get_json()
        assert "专家" not in json.dumps(d)  # names stay secret
        assert client.post(f"/api/v1/draws/{d['id']}/run", headers=hs).status_code == 409


def test_invitations_are_answered_once_by_their_expert(client: FlaskClient, session: Session, app: Flask) -> None:
    with clock.frozen(dt.datetime.now(dt.UTC) + dt.timedelta(days=60)):
        t, _, he = _drawn(client, session, app)
        invited = _invited(client, he)
        first, second, *_ = [i for i in range(8) if invited[i]]
        inv = invited[first][0]["id"]
        url = f"/api/v1/invitations/{inv}/respond"
        assert client.post(url, json={"accept": False}, headers=he[first]).status_code == 422
        r = client.post(url, json={"accept": False, "reason": "当日出差"}, headers=he[first])
        assert r.status_code == 200
        assert client.post(url, json={"accept": True}, headers=he[first]).status_code == 409
        other = invited[second][0]["id"]
        assert (
            client.post(f"/api/v1/invitations/{other}/respond", json={"accept": True}, headers=he[first]).status_code
            == 404
        )
        lot = f"/api/v1/tenders/{t['code']}/lots/1/draws"
        r2 = client.post(f"{lot}/replace", json={}, headers=t["staff"])
        client.post(f"/api/v1/draws/{r2.get_json()['id']}/run", headers=t["staff"])
        assert client.post(f"{lot}/replace", json={}, headers=t["staff"]).status_code == 409  # nothing declined now


def test_draw_verify_finds_a_changed_bundle(
    client: FlaskClient, session: Session, app: Flask, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trading.cli import main

    with clock.frozen(dt.datetime.now(dt.UTC) + dt.timedelta(days=60)):
        t, d, he = _drawn(client, session, app)
        bundle = client.get(f"/api/v1/draws/{d.id}/bundle", headers=t["staff"]).get_json()
        assert client.get(f"/api/v1/draws/{d.id}/bundle", headers=he[0]).status_code == 403
    _cli_env(app, monkeypatch)
    path = tmp_path / "draw.json"
    path.write_text(json.dumps(bundle))
    r = CliRunner().invoke(main, ["draw", "verify", str(path)])
    assert r.exit_code == 0, r.output
    bad = {**bundle, "result": list(reversed(bundle["result"]))}
    path.write_text(json.dumps(bad))
    assert CliRunner().invoke(main, ["draw", "verify", str(path)]).exit_code == 1
    snap = json.loads(base64.b64decode(bundle["snapshot"]))
    snap["pool"] = snap["pool"][1:]  # drop an expert from the logged pool
    path.write_text(json.dumps({**bundle, "snapshot": base64.b64encode(json.dumps(snap).encode()).decode()}))
    r = CliRunner().invoke(main, ["draw", "verify", str(path)])
    assert r.exit_code == 1 and "快照" in r.output
    assert CliRunner().invoke(main, ["draw", "verify", "no-such-thing"]).exit_code == 2


def test_draw_pages(client: FlaskClient, session: Session, app: Flask) -> None:
    from tests.factories import csrf_from, page_login

    t = opened_lot(client, session, app)
    experts = [make_user(session, Role.EXPERT) for _ in range(6)]
    session.commit()
    for i, u in enumerate(experts):
        body = {
            "name": f"专家{i}",
            "username": u.username,
            "specialties": ["A01"],
            "region": "350100" if i < 5 else "350200",  # one at the sub-venue
            "employer": valid_code(710_000_000 + i),
        }
        assert client.post("/api/v1/experts", json=body, headers=t["staff"]).status_code == 201
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)):
        staff = app.test_client()
        page_login(staff, t["staff_username"])
        url = f"/tenders/{t['code']}/lots/1/draws"
        html = staff.get(url).get_data(as_text=True)
        assert "规划 4 名" in html and "A01 4" not in html and 'name="sub_region"' in html
        token = csrf_from(html)

        def commit(region: str, count: str) -> str:
            form = {"csrf_token": token, "sub_region": region, "sub_specialty": "A01", "sub_count": count}
            return staff.post(f"{url}/commit", data=form, follow_redirects=True).get_data(as_text=True)

        for region, count, why in (
            ("350100", "1", "主场（福州市）以外"),
            ("350200", "5", "超过招标文件规定的人数"),
            ("35", "1", "地区代码应为 6 位数字"),
            ("350200", "两", "1–51 的整数"),
        ):
            html = commit(region, count)
            assert "未执行" in html and why in html, why
        assert session.scalar(select(AuditEvent.seq).where(AuditEvent.action == "draw.commit")) is None
        html = commit("350200", "1")  # three seats at the main venue, one at the sub-venue
        assert "已公布本轮抽取" in html and "抽取后公开" in html and 'id="commit-form"' not in html
        draw_id = session.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "draw.commit")).one()
        html = staff.post(f"{url}/run", data={"csrf_token": token, "draw": draw_id}, follow_redirects=True).get_data(
            as_text=True
        )
        assert "已抽取并通知专家" in html and "待确认 4" in html and "专家0" not in html
        assert ops_invitations(client, experts[5])  # the sub-venue's seat went to its only expert
        html = staff.post(f"{url}/run", data={"csrf_token": token, "draw": draw_id}, follow_redirects=True).get_data(
            as_text=True
        )
        assert "未执行" in html  # already drawn: a clear refusal, not a 500
        bidder = app.test_client()
        page_login(bidder, t["bidders"][0].user.username)
        assert bidder.get(url).status_code == 403

        drawn = [u for u in experts if ops_invitations(client, u)]
        ex = app.test_client()
        page_login(ex, drawn[0].username)
        html = ex.get("/expert").get_data(as_text=True)
        token = csrf_from(html)
        member = ops_invitations(client, drawn[0])[0]["id"]
        r = ex.post(f"/expert/invitations/{member}", data={"csrf_token": token, "accept": "0"}, follow_redirects=True)
        assert "未答复" in r.get_data(as_text=True)  # a decline needs a reason
        r = ex.post(f"/expert/invitations/{member}", data={"csrf_token": token, "accept": "1"}, follow_redirects=True)
        assert "已确认参加评标" in r.get_data(as_text=True)
        row = {"row_kind": "kinship", "row_code": valid_code(710_000_009), "row_from": "2001-01-01", "row_to": ""}
        form = {"csrf_token": token, "employer": valid_code(710_000_000), "available": "1", "action": "save"}
        r = ex.post("/expert/declarations", data={**form, **row, "row_from": "不是日期"})
        assert r.status_code == 400 and "未保存" in r.get_data(as_text=True)  # the form comes back as typed
        assert "不是日期" in r.get_data(as_text=True)
        r = ex.post("/expert/declarations", data={**form, **row}, follow_redirects=True)
        assert "申报已更新" in r.get_data(as_text=True)
        session.expire_all()
        me = session.scalars(select(Expert).where(Expert.user_id == drawn[0].id)).one()
        assert me.relations == [{"credit_code": row["row_code"], "from": "2001-01-01", "to": None, "kind": "kinship"}]


def ops_invitations(client: FlaskClient, user: Any) -> list[dict[str, Any]]:
    return list(client.get("/api/v1/me/invitations", headers=api_token(client, user.username)).get_json()["items"])
