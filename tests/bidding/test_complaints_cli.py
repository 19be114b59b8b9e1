"""``ggzy-bid complaints`` against the app served on loopback (SQLite and PostgreSQL): a complaint
signed with the bidder's own key file and filed with its evidence, listed and shown as the
department handles it, a statement request answered; bad input refused with exit code 2 before
anything is sent, the platform's refusals shown by code; and a hostile server's words escaped."""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from bidding.cli import main as bid
from signing.certs import Usage
from tests.bidding import test_bidder_actions
from tests.bidding.hostile_server import as_json, serving
from tests.bidding.test_bidder_actions import KEY_PASSWORD, tool_for
from tests.bidding.test_hostile_text import EVIL, forbidden
from tests.trading.supervision.test_complaints import asked_and_answered, published
from trading.pki.operations import current_certificate

served = test_bidder_actions.served  # the fixture: the real app on 127.0.0.1


def test_file_follow_and_answer(
    client: FlaskClient, session: Session, app: Flask, served: str, tmp_path: pathlib.Path
) -> None:
    t = published(client, session, app, bidders=1)
    a, code = t["bidders"][0], t["code"]
    asked_and_answered(client, t, 0)
    keys = tmp_path / "keys"
    keys.mkdir()
    cert = current_certificate(session, a.user, Usage.SIGN)
    assert cert is not None
    (keys / "sign.key").write_bytes(a.key.to_pem(KEY_PASSWORD.encode()))
    (keys / "sign.crt").write_bytes(cert.to_pem())
    (tmp_path / "g.txt").write_text(
        "招标文件第三章的资格条件排斥外地企业，违反实施条例第三十二条。\n", encoding="utf-8"
    )
    (tmp_path / "r.txt").write_text("责令招标人修改招标文件。", encoding="utf-8")
    (tmp_path / "e.pdf").write_bytes(b"%PDF evidence")
    run = tool_for(served, t["h"][0], tmp_path)
    args = ["complaints", "file", "--tender", code, "--matter", "documents", "--grounds", str(tmp_path / "g.txt")]
    args += ["--requests", str(tmp_path / "r.txt"), "--evidence", str(tmp_path / "e.pdf"), "--keys", str(keys)]

    # refused here, before anything is sent
    assert "1–999" in run(*args, "--lot", "0", code=2)
    many = [x for i in range(11) for x in ("--evidence", str(tmp_path / "e.pdf"))]
    assert "至多 10 个" in run(*args, *many, code=2)
    (tmp_path / "empty.txt").write_text("  ")
    assert "为空" in run(*[str(tmp_path / "empty.txt") if x.endswith("g.txt") else x for x in args], code=2)

    saved = tmp_path / "complaint.json"
    assert "已签名并保存" in run(*args, "--out", str(saved))
    body = json.loads(saved.read_text())
    assert body["kind"] == "construction" and body["evidence"][0]["size"] == len(b"%PDF evidence")

    out = run(*args)
    assert "投诉已提交" in out and "（北京时间）" in out
    number = re.search(r"TS-\d{4}-\d{6}", out)
    assert number is not None
    cid = int(re.search(r"编号 (\d+)", out).group(1))  # type: ignore[union-attr]
    assert "[complaint_open, HTTP 409]" in run(*args, code=2)  # the platform's refusal, by its code
    assert number.group(0) in run("complaints", "list")

    sup = t["sup"]
    assert client.post(f"/api/v1/complaints/{cid}/accept", json={}, headers=sup).status_code == 200
    ask = {"org": a.user.organisation_id, "question": "请补充外地企业受限的具体条款。"}
    assert client.post(f"/api/v1/complaints/{cid}/ask", json=ask, headers=sup).status_code == 201
    listing = run("complaints", "list")
    assert "已受理" in listing and "说明要求" in listing and "待说明" in listing
    rid = int(re.search(r"说明要求 (\d+)", listing).group(1))  # type: ignore[union-attr]
    assert "5–10000" in run("complaints", "answer", str(rid), "--text", "短", code=2)
    assert "说明已提交" in run("complaints", "answer", str(rid), "--text", "第三章第二节要求本地业绩。")
    shown = run("complaints", "show", str(cid))
    assert "受理通知书" in shown and "证明材料" in shown and "已说明" in shown and "平台签名" in shown
    assert "[no_such_complaint, HTTP 404]" in run("complaints", "show", "999999", code=2)
    assert "投诉已撤回" in run("complaints", "withdraw", str(cid), "--reason", "招标人已修改招标文件。")


def _routes() -> dict[str, Any]:
    e = EVIL
    complaint = {
        "id": 1,
        "number": e,
        "tender": e,
        "tender_title": e,
        "lot": e,
        "kind_label": e,
        "matter_label": e,
        "complainant": e,
        "state_label": e,
        "suspended": True,
        "filed_at": e,
        "acceptance_due": e,
        "accepted_at": e,
        "decision_due": e,
        "refused_at": e,
        "refusal_reason": e,
        "decided_at": e,
        "finding_label": e,
        "decision": e,
        "measures": e,
        "grounds": e,
        "requests": e,
        "files": [{"id": e, "kind_label": e, "name": e, "created_at": e, "sm3": e, "signed": True}],
        "statements": [{"id": e, "org_name": e, "question": e, "answer": e, "due_at": e}],
    }
    summary = {k: e for k in ("id", "number", "tender", "lot", "matter", "state_label", "filed_at")}
    asked = {"id": e, "number": e, "question": e, "answer": None, "due_at": e, "answered_at": None}
    return {
        "/api/v1/complaints": as_json({"items": [summary]}),
        "/api/v1/complaint-statements": as_json({"items": [asked]}),
        "/api/v1/complaints/1": as_json(complaint),
        "/api/v1/complaints/2": as_json({"error": {"code": e, "message": e}}, 409),
    }


def test_no_complaints_command_prints_the_platforms_control_characters() -> None:
    with serving(_routes()) as server:
        runner = CliRunner(env={"GGZY_SERVER": server, "GGZY_TOKEN": "t", "GGZY_NO_PROGRESS": "1"})
        for args in (["complaints", "list"], ["complaints", "show", "1"], ["complaints", "show", "2"]):
            r = runner.invoke(bid, args)
            assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
            assert not forbidden(r.output) and "\\x1b]0;pwned\\x07" in r.output, (args, r.output)
            assert not any(line.startswith("第二行") for line in r.output.splitlines())
