"""Bid uploads staged in the object store (S3, through the minio SDK against an S3 server on
loopback), as several app processes serve them: each part taken by another app process, each of
which has forgotten the upload's running hash (as a process that died, or never saw it, has), and the
bid completed on yet another. Nothing is lost or read twice; the bid object is the sealed file byte
for byte; the staged parts are gone once the upload ends (completed or abandoned); a part that is
not the one the client says it is is refused and can be sent again (issue 24: stateless app nodes)."""

from __future__ import annotations

import datetime as dt
import io
import pathlib
import uuid
from typing import Any

import pytest
from flask import Flask

from signing.digest import SM3, sm3_hex
from tests.bidding.test_bids import PRICE_SHEET
from tests.conftest import fresh_pg_database
from tests.factories import (
    api_token,
    init_upload,
    make_bidder_with_keys,
    make_signer,
    make_user,
    seal_bid,
    tender_body,
    upload,
)
from trading.accounts.models import Role
from trading.bids import uploads as bid_uploads
from trading.bids.models import BidUpload
from trading.bids.staging import forget, remember, running_hash, staged_path
from trading.bids.uploads import head_agrees
from trading.core.db import upgrade
from trading.core.services import object_store

pytestmark = pytest.mark.integration


def staged(app: Flask, upload_id: str) -> list[str]:
    with app.app_context():
        store: Any = object_store(app)
        return [o.object_name for o in store.client.list_objects(store.bucket, prefix=f"staging/{upload_id}/")]


def test_any_app_process_takes_any_part_and_none_keeps_one(
    settings_for: Any, s3_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trading.app import create_app
    from trading.core.platform_keys import ensure_platform_keys

    monkeypatch.setattr(bid_uploads, "PART_SIZE", 64 * 1024)  # a 200 KB bid in four parts
    with fresh_pg_database("ggzy_staged") as url:
        upgrade(url)
        settings = settings_for(url, object_store_url=f"minio://ak:sk@{s3_server}/objects-{uuid.uuid4().hex[:8]}")
        nodes = [create_app(settings), create_app(settings), create_app(settings)]
        ensure_platform_keys(settings)
        a = nodes[0]
        db, client = a.extensions["ggzy.db"], a.test_client()
        try:
            with db.session() as s:
                tenderee = make_signer(s, a, Role.TENDEREE)
                staff = make_user(s, Role.STAFF)
                bidder = make_bidder_with_keys(s, a)
                s.commit()
                ht = api_token(client, tenderee.user.username)
                deadline = dt.datetime.now(dt.UTC) + dt.timedelta(days=21)
                code = client.post("/api/v1/tenders", json=tender_body(deadline), headers=ht).get_json()["code"]
                upload(client, ht, tenderee, code, "招标文件.pdf", b"%PDF docs")
                client.post(f"/api/v1/tenders/{code}/submit", headers=ht)
                published = client.post(f"/api/v1/tenders/{code}/publish", headers=api_token(client, staff.username))
                assert published.status_code == 200, published.get_json()
                h = api_token(client, bidder.user.username)
                client.post(f"/api/v1/tenders/{code}/interest", headers=h)
                blob = seal_bid(bidder, code, PRICE_SHEET + b"x" * 200_000)

            up = init_upload(client, h, blob, code).get_json()
            uid, size = up["upload_id"], up["part_size"]
            parts = [blob[i : i + size] for i in range(0, len(blob), size)]
            assert len(parts) >= 4
            prefix = SM3()

            def put(node: int, n: int, data: bytes, digest: str) -> Any:
                forget(uid)  # this process has never seen the upload (or another one died)
                headers = h | {"X-Prefix-SM3": digest, "Content-Type": "application/octet-stream"}
                return (
                    nodes[node].test_client().put(f"/api/v1/bids/uploads/{uid}/parts/{n}", data=data, headers=headers)
                )

            for n, part in enumerate(parts, start=1):
                prefix.update(part)
                if n == 2:  # a part that is not what the client says: refused, then sent again
                    wrong = put(1, n, part[:-1] + bytes([part[-1] ^ 1]), prefix.hexdigest())
                    assert wrong.status_code == 422 and wrong.get_json()["error"]["code"] == "part_digest_mismatch"
                r = put(n % 3, n, part, prefix.hexdigest())
                assert r.status_code == 200, r.get_json()
            assert put(1, len(parts), parts[-1], prefix.hexdigest()).status_code == 200  # a retry of the last
            assert len(staged(a, uid)) == len(parts)

            forget(uid)
            done = nodes[2].test_client().post(f"/api/v1/bids/uploads/{uid}/complete", headers=h)
            assert done.status_code == 201, done.get_json()
            assert done.get_json()["ciphertext_sm3"] == sm3_hex(blob)
            with a.app_context():
                assert object_store(a).read_bytes("sm3/" + sm3_hex(blob)) == blob
            assert staged(a, uid) == []  # nothing left waiting

            longer = init_upload(client, h, blob, code).get_json()  # a staged part changed in the store
            lid, digest = longer["upload_id"], SM3()
            for n, part in enumerate(parts, start=1):
                digest.update(part)
                headers = h | {"X-Prefix-SM3": digest.hexdigest(), "Content-Type": "application/octet-stream"}
                r = client.put(f"/api/v1/bids/uploads/{lid}/parts/{n}", data=part, headers=headers)
                assert r.status_code == 200, r.get_json()
            with a.app_context():
                object_store(a).put_staged(f"{lid}/{len(parts)}", io.BytesIO(parts[-1] + b"TAIL"))
            forget(lid)
            late = nodes[1].test_client().post(f"/api/v1/bids/uploads/{lid}/complete", headers=h)
            assert late.status_code == 409 and late.get_json()["error"]["code"] == "staging_lost"
            assert client.get(f"/api/v1/bids/uploads/{lid}", headers=h).get_json()["received"] == 0

            again = init_upload(client, h, blob, code).get_json()  # abandoned half way: its parts go
            first = parts[0]
            r = (
                nodes[1]
                .test_client()
                .put(
                    f"/api/v1/bids/uploads/{again['upload_id']}/parts/1",
                    data=first,
                    headers=h | {"X-Prefix-SM3": sm3_hex(first), "Content-Type": "application/octet-stream"},
                )
            )
            assert r.status_code == 200, r.get_json()
            assert len(staged(a, again["upload_id"])) == 1
            gone = nodes[2].test_client().delete(f"/api/v1/bids/uploads/{again['upload_id']}", headers=h)
            assert gone.status_code in (200, 204), gone.get_data(as_text=True)
            assert staged(a, again["upload_id"]) == []
        finally:
            for node in nodes:
                node.extensions["ggzy.db"].engine.dispose()


def test_the_header_is_checked_however_the_first_part_is_read() -> None:
    head = bytes(range(40))
    assert head_agrees(head, 0, head[:20]) and head_agrees(head, 20, head[20:] + b"body")
    assert not head_agrees(head, 20, b"\xff" + head[21:])  # a change past the first read
    assert head_agrees(head, 40, b"anything after the header")


def test_a_remembered_hash_is_used_only_for_the_committed_digest(tmp_path: pathlib.Path) -> None:
    """After a restart at part 1 elsewhere the same length can come back with other bytes: a hash
    this process remembers for that length must not vouch for them."""

    upload = BidUpload(id="ab" * 16, received=6, parts=1, prefix_sm3=sm3_hex(b"staged"))
    staged_path(tmp_path, upload.id).write_bytes(b"staged")
    remember(upload.id, 6, SM3(b"before"))  # the same length, other bytes
    try:
        assert running_hash(upload, tmp_path).hexdigest() == sm3_hex(b"staged")
    finally:
        forget(upload.id)
