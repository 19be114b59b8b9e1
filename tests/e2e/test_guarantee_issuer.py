"""E-guarantees end to end over HTTP with the reference issuer (infra/reference_issuer) as a separate
process: bidders apply, the issuer decides and pushes signed guarantees, the platform verifies them,
the price reading shows them, a bidder withdraws after the deadline (never releases its key), the
tenderee claims, the issuer pays. The platform runs on loopback in real time (the issuer's signed
messages carry the real clock), with a tender whose deadline is seconds away."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import subprocess
import sys
from typing import Any

import pytest
from click.testing import CliRunner

from archive import clock
from bidding.cli import main as bid_main
from signing.envelope import DEFAULT_CHUNK
from tests.e2e.conftest import LiveServer
from tests.factories import (
    api_token,
    make_bidder_with_keys,
    make_signer,
    make_user,
    seal_bid,
    tender_body,
    upload,
    upload_bid,
)
from tests.trading.opening.test_ceremony import bid_package, release, signin_sig
from trading.accounts.models import Role
from trading.core.services import services
from trading.demo.actors import DEMO_PROCEDURE, ensure_demo_procedure
from trading.opening.decryption import run_pending

ROOT = pathlib.Path(__file__).resolve().parents[2]
ISSUER = ROOT / "infra" / "reference_issuer" / "issuer.py"
PASSWORD = "issuer-key-password"


def run_issuer(url: str, username: str, keys: pathlib.Path, *extra: str) -> str:
    env = {**os.environ, "GGZY_KEY_PASSWORD": PASSWORD}
    r = subprocess.run(
        [sys.executable, str(ISSUER), "--server", url, "--username", username, "--keys", str(keys), "--once", *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().splitlines()[-1]


def test_reference_issuer_over_http(live_app: Any, tmp_path: pathlib.Path, request: pytest.FixtureRequest) -> None:
    client = live_app.test_client()
    with live_app.extensions["ggzy.db"].session() as s:
        ensure_demo_procedure(s)
        tenderee = make_signer(s, live_app, Role.TENDEREE)
        staff = make_user(s, Role.STAFF)
        bidders = [make_bidder_with_keys(s, live_app) for _ in range(3)]
        issuer = make_bidder_with_keys(s, live_app, Role.ISSUER)
        s.commit()
        names = {"issuer": issuer.user.username, "tenderee": tenderee.user.username, "staff": staff.username}
        folder = tmp_path / "issuer-keys"
        folder.mkdir()
        for kind, key, cert in (("sign", issuer.sign_key, issuer.sign_cert), ("enc", issuer.enc_key, issuer.enc_cert)):
            (folder / f"{kind}.key").write_bytes(key.to_pem(PASSWORD.encode()))
            (folder / f"{kind}.crt").write_bytes(cert.to_pem())
        bidder_users = [b.user.username for b in bidders]
    ht, hs = api_token(client, names["tenderee"]), api_token(client, names["staff"])
    H = [api_token(client, u) for u in bidder_users]
    deadline = (clock.now() + dt.timedelta(seconds=30)).replace(microsecond=0)
    body = tender_body(deadline, procedure_code=DEMO_PROCEDURE)
    r = client.post("/api/v1/tenders", json=body, headers=ht)
    assert r.status_code == 201, r.get_json()
    code = r.get_json()["code"]
    upload(client, ht, tenderee, code, "招标文件.pdf", b"%PDF docs")
    client.post(f"/api/v1/tenders/{code}/submit", headers=ht)
    assert client.post(f"/api/v1/tenders/{code}/publish", headers=hs).status_code == 200
    with LiveServer(live_app) as srv:
        issuer_code = client.get("/api/v1/guarantees/issuers", headers=H[0]).get_json()["items"][0]["credit_code"]
        blobs = []
        for i, h in enumerate(H):
            client.post(f"/api/v1/tenders/{code}/interest", headers=h)
            blob = seal_bid(bidders[i], code, bid_package(code, f"{9_000_000 + i * 1000}.00"), chunk_size=DEFAULT_CHUNK)
            assert upload_bid(client, h, blob, code).status_code == 201
            blobs.append(blob)
        # bidder 0 applies with ggzy-bid, the others through the API
        tool = CliRunner(env={"GGZY_SERVER": srv.url, "GGZY_TOKEN": H[0]["Authorization"][7:]})
        r = tool.invoke(bid_main, ["guarantee", "issuers"])
        assert r.exit_code == 0 and issuer_code in r.output
        r = tool.invoke(bid_main, ["guarantee", "apply", "--tender", code, "--lot", "1", "--issuer", issuer_code])
        assert r.exit_code == 0, r.output
        r = tool.invoke(bid_main, ["guarantee", "apply", "--tender", code, "--lot", "1", "--issuer", issuer_code])
        assert r.exit_code != 0 and "duplicate_order" in r.output
        for h in H[1:]:
            r = client.post("/api/v1/guarantees", json={"tender": code, "lot": 1, "issuer": issuer_code}, headers=h)
            assert r.status_code == 201
        out = run_issuer(srv.url, names["issuer"], folder)
        assert '"issued": 3' in out, out
        mine = client.get("/api/v1/guarantees/mine", headers=H[0]).get_json()["items"][0]
        assert mine["state"] == "issued" and mine["guarantee"]["number"].startswith("REF-")
        r = tool.invoke(bid_main, ["guarantee", "list"])
        assert r.exit_code == 0 and mine["guarantee"]["number"] in r.output and "有效" in r.output
        assert run_issuer(srv.url, names["issuer"], folder).startswith('{"issued": 0')  # nothing left to decide

        # the deadline passes at once: the platform's clock jumps past it and keeps running, so the
        # live server and the issuer's signed, timestamped requests still see time move
        shift = deadline + dt.timedelta(seconds=1) - clock.now()
        clock.set_clock(lambda: dt.datetime.now(dt.UTC) + shift)
        request.addfinalizer(lambda: clock.set_clock(None))
        cid = client.get(f"/api/v1/tenders/{code}/ceremonies").get_json()["items"][0]["id"]
        t = {"cid": cid, "bidders": bidders, "blobs": blobs, "headers": H}
        for i in range(3):
            sig = {"signature": signin_sig(bidders[i], cid, code)}
            assert client.post(f"/api/v1/ceremonies/{cid}/signin", json=sig, headers=H[i]).status_code == 200
        for _ in range(2):
            assert client.post(f"/api/v1/ceremonies/{cid}/advance", headers=hs).status_code == 200
        for i in (0, 2):  # bidder 1 withdraws after the deadline: it never releases its key
            assert release(client, t, i).status_code == 202
        run_pending(live_app.extensions["ggzy.db"], services(live_app))
        r = client.post(f"/api/v1/ceremonies/{cid}/extend", json={"minutes": 1, "reason": "等待投标人"}, headers=hs)
        assert r.status_code == 200
        st = client.get(f"/api/v1/ceremonies/{cid}").get_json()
        assert st["stage"] == "decrypting"
        # the window ends by the clock; the reading shows every bidder's guarantee
        from trading.opening import ceremonies

        with live_app.extensions["ggzy.db"].session() as s:
            c = ceremonies.get_ceremony(s, cid)
            assert c.stage_ends_at is not None
            later = c.stage_ends_at + dt.timedelta(seconds=1)
        with clock.frozen(later):
            st = client.get(f"/api/v1/ceremonies/{cid}").get_json()
        assert st["stage"] == "reading"
        assert all(r["bond"].startswith("电子保函 REF-") for r in st["table"]), st["table"]

        listed = client.get(f"/api/v1/tenders/{code}/lots/1/guarantees", headers=ht).get_json()["items"]
        withdrew = bidders[1].user.organisation.credit_code  # type: ignore[union-attr]
        target = next(g for g in listed if g["principal"]["credit_code"] == withdrew)
        claim = {
            "ground": "withdrew_after_deadline",
            "statement": "该投标人在投标截止后未解密投标文件，依法不予退还保证金。",
        }
        r = client.post(f"/api/v1/guarantees/{target['id']}/claims", json=claim, headers=ht)
        assert r.status_code == 201, r.get_json()
        assert '"paid": 1' in run_issuer(srv.url, names["issuer"], folder)
        listed = client.get(f"/api/v1/tenders/{code}/lots/1/guarantees", headers=ht).get_json()["items"]
        paid = next(g for g in listed if g["id"] == target["id"])
        assert paid["state"] == "paid" and paid["claims"][0]["state"] == "paid"
        assert {g["state"] for g in listed if g["id"] != target["id"]} == {"valid"}

        # the opening closes; two bids are evaluated, publicised and the first candidate awarded
        from tests.trading.test_draw import run_opening  # noqa: F401  (the same steps, done by hand above)
        from tests.trading.test_evaluation import evaluate_and_award
        from trading.awards.release import release_due

        t |= {
            "code": code,
            "staff_username": names["staff"],
            "tenderee_username": names["tenderee"],
            "tenderee": ht,
            "tenderee_signer": tenderee,  # it sits on the committee as the tenderee's representative
        }
        with clock.frozen(later) as moment:
            for _ in range(3):
                moment.advance(hours=1)
                client.get(f"/api/v1/ceremonies/{cid}")
            assert client.get(f"/api/v1/ceremonies/{cid}").get_json()["stage"] == "closed"
            with live_app.extensions["ggzy.db"].session() as s:
                got = evaluate_and_award(client, s, live_app, t, moment)
        # back in real time, the scheduler's sweep releases the loser's bond; the issuer sees it
        with live_app.extensions["ggzy.db"].session() as s:
            assert release_due(s, clock.now()) == 1
            s.commit()
        assert '"released": 1' in run_issuer(srv.url, names["issuer"], folder)
        listed = client.get(f"/api/v1/tenders/{code}/lots/1/guarantees", headers=ht).get_json()["items"]
        assert sorted(g["state"] for g in listed) == ["paid", "released", "valid"]
        # the winner refuses the contract: the tenderee claims, the issuer pays on the platform's record
        won = next(g for g in listed if g["state"] == "valid")
        assert won["principal"]["name"] == got["winner"]["bidder"]
        claim = {"ground": "refused_contract", "statement": "中标人收到中标通知书后拒绝签订合同，依法不予退还保证金。"}
        r = client.post(f"/api/v1/guarantees/{won['id']}/claims", json=claim, headers=ht)
        assert r.status_code == 201, r.get_json()
        assert r.get_json()["evidence"]["contract_signed"] is False
        assert '"paid": 1' in run_issuer(srv.url, names["issuer"], folder)
