"""`ggzy-bid decrypt` checks the sealed file's header against the bidder's encryption certificate
(``recipient_cert_sm3``, ENVELOPE.md) before anything is sent: a bid on record whose header names
another certificate is refused with ``recipient_mismatch`` and no key leaves the machine."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pathlib
import threading
from collections.abc import Callable, Iterable
from typing import Any

from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from archive import clock
from bidding.cli import main
from signing.certs import Usage
from signing.envelope import DEFAULT_CHUNK
from tests.factories import BidderKeys, api_token, make_bidder_with_keys, platform_keys, seal_bid, upload_bid
from tests.trading.opening.test_ceremony import bid_package, open_tender, signin_sig

PASSWORD = "bidder-pass-123"


def key_folder(folder: pathlib.Path, b: BidderKeys) -> pathlib.Path:
    """What `ggzy-bid keygen` and the certificates from the CA leave on the bidder's machine."""
    folder.mkdir()
    for kind, key, cert in (("sign", b.sign_key, b.sign_cert), ("enc", b.enc_key, b.enc_cert)):
        # few iterations: the tool only warns, and the test stays fast
        (folder / f"{kind}.key").write_bytes(key.to_pem(PASSWORD.encode(), iterations=1000))
        (folder / f"{kind}.crt").write_bytes(cert.to_pem())
    return folder


def run_cli(app: Flask, token: str, args: list[str]) -> tuple[Result, list[str]]:
    """The tool in a thread, against the app served over real HTTP on this thread (whose database
    connection is the test's); returns its result and the request paths the platform received."""
    seen: list[str] = []

    def recording(environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        seen.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}")
        return app.wsgi_app(environ, start)  # type: ignore[no-any-return]

    server = make_server("127.0.0.1", 0, recording)
    server.timeout = 0.05
    env = {
        "GGZY_SERVER": f"http://127.0.0.1:{server.server_port}",
        "GGZY_TOKEN": token,
        "GGZY_KEY_PASSWORD": PASSWORD,
        "GGZY_NO_PROGRESS": "1",
    }
    out: list[Result] = []
    worker = threading.Thread(target=lambda: out.append(CliRunner(env=env).invoke(main, args)))
    worker.start()
    while worker.is_alive():
        server.handle_request()
    server.server_close()
    return out[0], seen


def test_decrypt_refuses_a_bid_whose_header_names_another_certificate(
    client: FlaskClient, session: Session, app: Flask, tmp_path: pathlib.Path
) -> None:
    t = open_tender(client, session, app, 2)
    code = t["code"]
    b = make_bidder_with_keys(session, app)
    # a second certificate for the same encryption key (a renewal): the envelope names it, while the
    # bidder's key folder holds the first one
    other = platform_keys(app).ca.issue(
        b.enc_key.public_key, common_name="另一张加密证书", usage=Usage.ENCRYPT, now=clock.now()
    )
    session.commit()
    h = api_token(client, b.user.username)
    assert client.post(f"/api/v1/tenders/{code}/interest", headers=h).status_code == 201
    blob = seal_bid(
        dataclasses.replace(b, enc_cert=other), code, bid_package(code, "9500000.00"), chunk_size=DEFAULT_CHUNK
    )
    assert upload_bid(client, h, blob, code).status_code == 201
    sealed = tmp_path / "bid.sealed"
    sealed.write_bytes(blob)
    cid, room = t["cid"], f"/api/v1/ceremonies/{t['cid']}"
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        for bidder, headers in [*zip(t["bidders"], t["headers"], strict=True), (b, h)]:
            r = client.post(f"{room}/signin", json={"signature": signin_sig(bidder, cid, code)}, headers=headers)
            assert r.status_code == 200, r.get_json()
        client.post(f"{room}/advance", headers=t["staff"])
        assert client.post(f"{room}/advance", headers=t["staff"]).get_json()["stage"] == "decrypting"

        token = h["Authorization"].split()[1]
        args = ["decrypt", "--ceremony", str(cid), "--sealed", str(sealed), "--no-wait"]
        result, seen = run_cli(app, token, [*args, "--keys", str(key_folder(tmp_path / "keys", b))])
        assert result.exit_code == 2, result.output
        assert "recipient_mismatch" in result.output
        # refused on the bidder's machine: the platform was asked for the room's state only
        assert not any(p.endswith(("/key", "/decrypt")) for p in seen), seen
        assert client.get(room, headers=h).get_json()["me"]["outcome"] == "pending"

        # with the certificate the header names (same key), the same file's key is released
        renewed = key_folder(tmp_path / "renewed", dataclasses.replace(b, enc_cert=other))
        result, seen = run_cli(app, token, [*args, "--keys", str(renewed)])
        assert result.exit_code == 0, result.output
        assert f"POST {room}/decrypt" in seen
