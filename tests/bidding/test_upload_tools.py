"""The bidder's own unfinished uploads (issue 17 item 8 follow-ups): `ggzy-bid uploads` lists and
gives them up, `ggzy-bid upload` explains the cap and resumes its own upload of the same file,
waits out `507 staging_full`; the bids page lists them with an abandon button; and two inits at
the same instant no longer pass the per-lot cap by one."""

from __future__ import annotations

import dataclasses
import pathlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.serving import make_server

from bidding import client as bid_client
from bidding.cli import main
from tests.bidding import test_bids
from tests.factories import (
    api_token,
    csrf_from,
    init_upload,
    make_bidder_with_keys,
    make_signer,
    make_user,
    page_login,
    seal_bid,
    tender_body,
    upload,
)
from trading.accounts.models import Role
from trading.bids import uploads as bid_uploads
from trading.bids.models import BidUpload, UploadState
from trading.bids.uploads import StagingFull

PRICE_SHEET = test_bids.PRICE_SHEET
tender = test_bids.tender  # the fixture: a published tender, two registered bidders


def test_bids_page_lists_and_abandons_open_uploads(client: FlaskClient, app: Flask, tender: dict[str, Any]) -> None:
    """Failed before: the page showed no uploads and had no way to give one up."""
    t = tender
    blob = seal_bid(t["b1"], t["code"], PRICE_SHEET)
    ids = [init_upload(client, t["h1"], blob, t["code"]).get_json()["upload_id"] for _ in range(2)]
    other = init_upload(client, t["h2"], seal_bid(t["b2"], t["code"], PRICE_SHEET), t["code"]).get_json()["upload_id"]
    page = app.test_client()
    page_login(page, t["b1"].user.username)
    html = page.get("/my/bids").get_data(as_text=True)
    assert all(f'data-upload="{i}"' in html for i in ids) and other not in html  # only its own
    assert f"{t['code']} 第1标段" in html
    token = csrf_from(html)
    assert page.post(f"/my/bids/uploads/{ids[0]}/abandon").status_code == 400  # no CSRF token
    r = page.post(f"/my/bids/uploads/{ids[0]}/abandon", data={"csrf_token": token}, follow_redirects=True)
    assert r.status_code == 200 and "已放弃该上传" in r.get_data(as_text=True)
    assert f'data-upload="{ids[0]}"' not in r.get_data(as_text=True)
    # another bidder's upload is not found, and an abandoned one cannot be abandoned again
    r = page.post(f"/my/bids/uploads/{other}/abandon", data={"csrf_token": token}, follow_redirects=True)
    assert "未放弃" in r.get_data(as_text=True)
    r = page.post(f"/my/bids/uploads/{ids[0]}/abandon", data={"csrf_token": token}, follow_redirects=True)
    assert "未放弃" in r.get_data(as_text=True)
    listed = client.get("/api/v1/bids/uploads", headers=t["h2"]).get_json()["items"]
    assert [u["upload_id"] for u in listed] == [other]  # untouched


# ---------------------------------------------------------------- against a real server (PostgreSQL)
@pytest.fixture
def platform(pg_app: Flask, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A published tender with two registered bidders, served over HTTP on loopback; ggzy-bid set
    up as bidder 1."""
    app = pg_app
    db = app.extensions["ggzy.db"]
    client = app.test_client()
    with db.session() as s:
        tenderee = make_signer(s, app, Role.TENDEREE)
        staff = make_user(s, Role.STAFF)
        b1, b2 = make_bidder_with_keys(s, app), make_bidder_with_keys(s, app)
    ht = api_token(client, tenderee.user.username)
    code = client.post("/api/v1/tenders", json=tender_body(), headers=ht).get_json()["code"]
    upload(client, ht, tenderee, code, "招标文件.pdf", b"%PDF docs")
    client.post(f"/api/v1/tenders/{code}/submit", headers=ht)
    assert client.post(f"/api/v1/tenders/{code}/publish", headers=api_token(client, staff.username)).status_code == 200
    h1, h2 = api_token(client, b1.user.username), api_token(client, b2.user.username)
    for h in (h1, h2):
        assert client.post(f"/api/v1/tenders/{code}/interest", headers=h).status_code in (200, 201)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setattr(bid_client, "CONFIG", tmp_path / "bid-config.json")
    monkeypatch.setenv("GGZY_SERVER", url)
    monkeypatch.setenv("GGZY_TOKEN", h1["Authorization"].removeprefix("Bearer "))
    monkeypatch.setenv("GGZY_NO_PROGRESS", "1")
    try:
        yield {"app": app, "client": client, "code": code, "b1": b1, "b2": b2, "h1": h1, "h2": h2, "url": url}
    finally:
        server.shutdown()
        thread.join(10)


def open_count(app: Flask, org_id: int) -> int:
    with app.extensions["ggzy.db"].session() as s:
        q = select(func.count()).where(BidUpload.org_id == org_id, BidUpload.state == UploadState.OPEN)
        return int(s.scalar(q) or 0)


@pytest.mark.integration
def test_cli_lists_abandons_and_explains_the_cap(platform: dict[str, Any], tmp_path: pathlib.Path) -> None:
    """Failed before: `ggzy-bid uploads` did not exist, and a refused upload said only the server's
    message, with no command that frees a place."""
    p, runner = platform, CliRunner()
    code, org = p["code"], p["b1"].user.organisation_id
    other = seal_bid(p["b1"], code, PRICE_SHEET + b"a" * 5000)
    ids = [init_upload(p["client"], p["h1"], other, code).get_json()["upload_id"] for _ in range(3)]
    sealed = tmp_path / "bid.sealed"
    sealed.write_bytes(seal_bid(p["b1"], code, PRICE_SHEET + b"b" * 5000))  # another file: nothing to resume

    r = runner.invoke(main, ["upload", str(sealed), "--tender", code])
    assert r.exit_code == 2, r.output
    assert "too_many_open_uploads" in r.output and f"ggzy-bid uploads --tender {code}" in r.output
    assert "ggzy-bid uploads abandon" in r.output and "Traceback" not in r.output

    r = runner.invoke(main, ["uploads", "--tender", code])
    assert r.exit_code == 0, r.output
    rows = [line.split("\t") for line in r.output.splitlines() if line[:32] in ids]
    assert sorted(row[0] for row in rows) == sorted(ids)
    assert all(row[1] == code and row[2] == "1" and row[3] == f"{len(other)} 字节" for row in rows)
    assert "北京时间" in r.output
    r = runner.invoke(main, ["uploads", "--tender", "GGZY-1999-000001"])
    assert r.exit_code == 0 and "没有未完成的上传" in r.output

    r = runner.invoke(main, ["uploads", "abandon", ids[0]])
    assert r.exit_code == 0 and ids[0] in r.output, r.output
    assert open_count(p["app"], org) == 2
    r = runner.invoke(main, ["uploads", "abandon", ids[0]])
    assert r.exit_code == 2 and "upload_closed" in r.output, r.output
    r = runner.invoke(main, ["uploads", "abandon", "--all"])
    assert r.exit_code == 2 and "--all --tender" in r.output
    r = runner.invoke(main, ["uploads", "abandon", "--all", "--tender", code])
    assert r.exit_code == 0 and all(i in r.output for i in ids[1:]), r.output
    assert open_count(p["app"], org) == 0

    r = runner.invoke(main, ["upload", str(sealed), "--tender", code])
    assert r.exit_code == 0 and "投标成功" in r.output, r.output


@pytest.mark.integration
def test_upload_resumes_its_own_upload_without_the_side_file(
    platform: dict[str, Any], tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failed before: without `bid.sealed.upload.json` (another machine, a cleaned folder) the tool
    began a new upload each run, and the fourth run was refused (409 too_many_open_uploads)."""
    monkeypatch.setattr(bid_uploads, "PART_SIZE", 64 * 1024)
    p = platform
    blob = seal_bid(p["b1"], p["code"], PRICE_SHEET + b"r" * 200_000)
    sealed = tmp_path / "bid.sealed"
    sealed.write_bytes(blob)
    first = init_upload(p["client"], p["h1"], blob, p["code"]).get_json()
    part = blob[: first["part_size"]]
    h = bid_client.SM3(part)
    r = p["client"].put(
        f"/api/v1/bids/uploads/{first['upload_id']}/parts/1",
        data=part,
        headers=p["h1"] | {"X-Prefix-SM3": h.hexdigest(), "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 200
    for _ in range(2):  # the cap is full: a new upload would be refused
        init_upload(p["client"], p["h1"], blob, p["code"])
    r = CliRunner().invoke(main, ["upload", str(sealed), "--tender", p["code"]])
    assert r.exit_code == 0, r.output
    with p["app"].extensions["ggzy.db"].session() as s:
        done = s.get(BidUpload, first["upload_id"])
        assert done is not None and done.state is UploadState.COMPLETED


@pytest.mark.integration
def test_a_part_refused_for_staging_full_is_sent_again(platform: dict[str, Any], tmp_path: pathlib.Path) -> None:
    """Failed before: the first 507 staging_full ended the upload. Another bidder's staged bytes fill
    the shared budget; while the tool waits, that upload is given up, and the part goes through."""
    p = platform
    app = p["app"]
    settings = app.extensions["ggzy.settings"]
    theirs = seal_bid(p["b2"], p["code"], PRICE_SHEET + b"t" * 30_000)
    up = init_upload(p["client"], p["h2"], theirs, p["code"]).get_json()
    r = p["client"].put(
        f"/api/v1/bids/uploads/{up['upload_id']}/parts/1",
        data=theirs,
        headers=p["h2"]
        | {"X-Prefix-SM3": bid_client.SM3(theirs).hexdigest(), "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 200
    mine = seal_bid(p["b1"], p["code"], PRICE_SHEET + b"m" * 30_000)
    sealed = tmp_path / "bid.sealed"
    sealed.write_bytes(mine)
    app.extensions["ggzy.settings"] = dataclasses.replace(settings, staging_max_bytes=len(theirs) + len(mine) - 1)
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:  # the other upload is given up while we wait the second time
            assert p["client"].delete(f"/api/v1/bids/uploads/{up['upload_id']}", headers=p["h2"]).status_code == 204

    try:
        bid = bid_client.upload_sealed(bid_client.Client.from_config(), sealed, p["code"], 1, wait=wait)
    finally:
        app.extensions["ggzy.settings"] = settings
    # the server's Retry-After (StagingFull.retry_after), not the client's own default, sets the wait
    assert bid["status"] == "accepted" and waits == [float(StagingFull.retry_after or 0)] * 2

    # bounded: a volume that stays full ends with the explanation, the progress kept
    app.extensions["ggzy.settings"] = dataclasses.replace(settings, staging_max_bytes=1)
    again = tmp_path / "again.sealed"
    again.write_bytes(seal_bid(p["b1"], p["code"], PRICE_SHEET + b"n" * 30_000))
    waits.clear()
    try:
        with pytest.raises(bid_client.ApiError) as err:
            bid_client.upload_sealed(bid_client.Client.from_config(), again, p["code"], 1, wait=waits.append)
    finally:
        app.extensions["ggzy.settings"] = settings
    assert err.value.code == "staging_full" and len(waits) == bid_client.STAGING_RETRIES
    assert (tmp_path / "again.sealed.upload.json").exists()  # the next run resumes it


@pytest.mark.integration
def test_two_inits_at_the_same_instant_keep_the_per_lot_cap(platform: dict[str, Any]) -> None:
    """Failed before (both answered 201: four open uploads with a cap of three): each init counted
    the bidder's open uploads, then inserted, with nothing ordering the two. Now the second init
    waits on the bidder's interest rows until the first commits, then counts three."""
    from tests.races import when_statement

    p = platform
    app, code, org = p["app"], p["code"], p["b1"].user.organisation_id
    blob = seal_bid(p["b1"], code, PRICE_SHEET)
    for _ in range(2):
        assert init_upload(p["client"], p["h1"], blob, code).status_code == 201
    theirs: list[Any] = []
    second = threading.Thread(target=lambda: theirs.append(init_upload(app.test_client(), p["h1"], blob, code)))

    def the_other_init() -> None:
        second.start()
        second.join(1.5)  # done by now unless it waits for our lock

    counting = "SELECT bid_upload.lot_id, bid_upload.declared_size"
    with when_statement(app, counting, the_other_init, after=True) as fired:
        ours = init_upload(app.test_client(), p["h1"], blob, code)
    second.join(30)
    assert fired[0]
    statuses = sorted([ours.status_code, theirs[0].status_code])
    assert statuses == [201, 409], statuses
    refused = ours if ours.status_code == 409 else theirs[0]
    assert refused.get_json()["error"]["code"] == "too_many_open_uploads"
    assert open_count(app, org) == 3
