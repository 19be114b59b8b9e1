"""The expert draw's seed is not readable in the database before the draw: the row holds it wrapped
with the platform's key-encryption key (kept beside the platform keys, not in the database); the
draw still verifies (``ggzy draw verify``)."""

from __future__ import annotations

import datetime as dt
import json
import pathlib

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from archive import clock
from signing.digest import sm3_hex
from tests.factories import make_user, valid_code
from tests.trading.test_draw import opened_lot
from trading.accounts.models import Role
from trading.core.config import ConfigError
from trading.core.platform_keys import key_encryption_key, unwrap_secret
from trading.evaluation.models import Draw


def test_the_stored_seed_is_not_the_seed_and_the_draw_verifies(
    client: FlaskClient, session: Session, app: Flask, tmp_path: pathlib.Path
) -> None:
    t = opened_lot(client, session, app)
    experts = [make_user(session, Role.EXPERT) for _ in range(6)]
    session.commit()
    hs = t["staff"]
    for i, u in enumerate(experts):
        body = {
            "name": f"专家{i}",
            "username": u.username,
            "specialties": ["A01"],
            "region": "350100",
            "employer": valid_code(710_000_000 + i),
        }
        assert client.post("/api/v1/experts", json=body, headers=hs).status_code == 201
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)):
        d = client.post(f"/api/v1/tenders/{t['code']}/lots/1/draws", json={}, headers=hs).get_json()
        stored = bytes(session.get(Draw, d["id"]).seed)  # type: ignore[union-attr]
        drawn = client.post(f"/api/v1/draws/{d['id']}/run", headers=hs).get_json()
    seed = bytes.fromhex(drawn["seed"])
    assert sm3_hex(seed) == d["seed_sm3"]
    # before the draw the database held neither the seed nor anything its commitment matches
    assert seed not in stored and sm3_hex(stored) != d["seed_sm3"] and len(stored) > len(seed)
    kek = key_encryption_key(app.extensions["ggzy.settings"])
    assert unwrap_secret(kek, stored, f"draw-seed:{d['seed_sm3']}") == seed
    with pytest.raises(ConfigError):
        unwrap_secret(bytes(16), stored, f"draw-seed:{d['seed_sm3']}")  # not without the KEK
    with pytest.raises(ConfigError):
        unwrap_secret(kek, stored, f"draw-seed:{'0' * 64}")  # nor moved to another draw
    session.expire_all()
    assert bytes(session.get(Draw, d["id"]).seed) == seed  # published once drawn  # type: ignore[union-attr]

    from trading.cli import main

    path = tmp_path / "draw.json"
    path.write_text(json.dumps(client.get(f"/api/v1/draws/{d['id']}/bundle", headers=hs).get_json()))
    r = CliRunner().invoke(main, ["draw", "verify", str(path)])
    assert r.exit_code == 0, r.output
