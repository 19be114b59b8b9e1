"""Every bidder action in ``ggzy-bid`` (issue 20 item 3), against the app served over HTTP on
loopback (SQLite and PostgreSQL): certificates registered, the tender registered for, a question
asked and its answer read, notices listed and followed with back-off until Ctrl+C, an objection to
the candidates' publicity recorded, the opening's objections listed, guarantees followed and an
application cancelled. Bad input is refused here with exit code 2 before anything is sent; the
platform's refusals are shown with their code and Chinese message, never a traceback; times are
Beijing time; long work shows a bar at a terminal and plain lines otherwise."""

from __future__ import annotations

import datetime as dt
import pathlib
import threading
from collections.abc import Callable, Iterator

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from archive import clock
from bidding.cli import account
from bidding.cli import main as bid
from bidding.cli.common import beijing
from signing.certs import Usage
from signing.sm2 import PrivateKey
from tests.bidding.test_guarantees import _issued
from tests.factories import api_token, make_bidder_with_keys, platform_keys
from tests.trading.opening.test_ceremony import open_tender
from tests.trading.test_draw import run_opening
from tests.trading.test_evaluation import evaluate_to_publicity

KEY_PASSWORD = "口令-bidder-actions-1"
Tool = Callable[..., str]


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The app on loopback, in a thread (its requests join the test's transaction, one at a time:
    ggzy-bid waits for each answer). A short poll interval: shutting down takes 50 ms, not 500."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def tool_for(url: str, headers: dict[str, str], tmp_path: pathlib.Path, **env: str) -> Tool:
    """``ggzy-bid`` as the holder of ``headers``' token; ``run(*args, code=0)`` gives its output."""
    runner = CliRunner(
        env={
            "GGZY_SERVER": url,
            "GGZY_TOKEN": headers["Authorization"].removeprefix("Bearer "),
            "GGZY_BID_CONFIG": str(tmp_path / "unused.json"),
            "GGZY_KEY_PASSWORD": KEY_PASSWORD,
            "GGZY_NO_PROGRESS": "1",
            **env,
        }
    )

    def run(*args: str, code: int = 0) -> str:
        r = runner.invoke(bid, list(args))
        assert r.exit_code == code, (args, r.output, repr(r.exception))
        assert "Traceback" not in r.output and "+00:00" not in r.output  # never a trace, never UTC
        return r.output

    return run


def test_certificates_registration_questions_and_notices(
    client: FlaskClient,
    session: Session,
    app: Flask,
    served: str,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t = open_tender(client, session, app, 0)  # a published tender; its outsider has not registered
    code, url = t["code"], f"/api/v1/tenders/{t['code']}"
    b = make_bidder_with_keys(session, app)
    session.commit()
    me = api_token(client, b.user.username)
    run = tool_for(served, me, tmp_path)

    # --- certificates: a new UKey's pair, issued by the platform CA, registered from the key folder
    assert b.user.organisation is not None
    folder = tmp_path / "新密钥"
    folder.mkdir()
    ca, org = platform_keys(app).ca, b.user.organisation.credit_code
    new = {}
    for usage, kind in ((Usage.SIGN, "sign"), (Usage.ENCRYPT, "enc")):
        key = PrivateKey.generate()
        new[usage.value] = ca.issue(key.public_key, common_name="新锁", usage=usage, now=clock.now(), org_code=org)
        (folder / f"{kind}.pub").write_bytes(key.public_key.to_pem())
        (folder / f"{kind}.crt").write_bytes(new[usage.value].to_pem())
    listed = run("certs")
    assert b.sign_cert.fingerprint in listed and "有效期至" in listed and "北京时间" in listed
    out = run("certs", "register", "--keys", str(folder))
    assert out.count("已登记") == 2
    mine = client.get("/api/v1/me/certificates", headers=me).get_json()
    assert {u: mine[u]["fingerprint"] for u in ("sign", "encrypt")} == {u: c.fingerprint for u, c in new.items()}
    assert "无需重复" in run("certs", "register", "--keys", str(folder), "--usage", "sign")
    (folder / "sign.pub").write_bytes(PrivateKey.generate().public_key.to_pem())  # not the certificate's key
    assert "不符" in run("certs", "register", "--keys", str(folder), code=2)
    (folder / "sign.crt").write_bytes(b"not a certificate")
    run("certs", "register", "--keys", str(folder), "--usage", "sign", code=2)
    (folder / "enc.crt").unlink()
    assert "缺少证书" in run("certs", "register", "--keys", str(folder), "--usage", "encrypt", code=2)
    stranger = ca.issue(
        PrivateKey.generate().public_key,
        common_name="他人",
        usage=Usage.ENCRYPT,
        now=clock.now(),
        org_code="91350100MA2XXXXX1X",
    )
    (folder / "enc.crt").write_bytes(stranger.to_pem())
    (folder / "enc.pub").unlink()
    out = run("certs", "register", "--keys", str(folder), "--usage", "encrypt", code=2)
    assert "HTTP 4" in out and "证书" in out  # the platform's refusal, its code and words

    # --- register for the tender, then ask (the outsider's token: a bidder that has not registered)
    run = tool_for(served, t["outsider"], tmp_path)
    out = run("questions", "ask", "--tender", code, "--text", "第三章的工程量清单是否含暂列金额？", code=2)
    assert "not_registered" in out and "请先报名" in out
    assert "未报名" in run("register", "--tender", code, "--check")
    assert "已报名" in run("register", "--tender", code)
    got = client.get(f"{url}/interest", headers=t["outsider"]).get_json()
    assert got["registered"] is True and got["credit_result"] == "clean" and len(got["credit_check_sm3"]) == 64
    assert "无需重复" in run("register", "--tender", code)
    assert "not_found" in run("register", "--tender", "GGZY-1999-000001", code=2)
    assert "5–2000" in run("questions", "ask", "--tender", code, "--text", "  何？ ", code=2)
    run("questions", code=2)  # no tender named
    texts = ["第三章的工程量清单是否含暂列金额？", "投标保证金可否用电子保函？\t（第二问）"]
    asked = [run("questions", "ask", "--tender", code, "--text", text) for text in texts]
    assert all("已提问" in a and "北京时间" in a for a in asked)
    questions = client.get(f"{url}/questions", headers=t["tenderee"]).get_json()["items"]
    assert [q["text"] for q in questions] == texts  # on the platform, as asked
    out = run("questions", "--tender", code)
    assert out.count("待答复") == 2 and "（第二问）" in out and "\t（第二问）" not in out  # its tab kept in its column
    assert "没有通知" in run("notices")

    answer = f"{url}/questions/{questions[0]['id']}/answer"
    assert client.post(answer, json={"answer": "不含暂列金额。"}, headers=t["tenderee"]).status_code == 200
    answered_at = client.get(f"{url}/questions", headers=t["outsider"]).get_json()["items"][0]["answered_at"]
    out = run("questions", "--tender", code)
    assert f"答复（{beijing(answered_at)}）：不含暂列金额。" in out and out.count("待答复") == 1
    out = run("notices")
    assert "发布了新的答疑" in out and beijing(answered_at)[:16] in out

    # --- follow: what arrives while waiting is shown; the wait doubles while nothing comes; Ctrl+C stops
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 1:
            second = f"{url}/questions/{questions[1]['id']}/answer"
            assert client.post(second, json={"answer": "可以。"}, headers=t["tenderee"]).status_code == 200
        if len(waits) == 4:
            raise KeyboardInterrupt

    monkeypatch.setattr(account, "pause", sleep)
    out = run("notices", "--follow", "--interval", "2", "--max-interval", "6")
    assert out.count("发布了新的答疑") == 2 and "已停止" in out
    assert waits == [2, 2, 4, 6]  # back to the first interval after a notice, then doubling to the longest
    run("notices", "--interval", "0", code=2)


def test_following_notices_loses_none_when_many_arrive_between_two_polls(
    client: FlaskClient,
    session: Session,
    app: Flask,
    served: str,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """130 notices while ggzy-bid waits (the default answer holds 20; a page of ``since`` 100, and
    several share one instant): every one shown once, oldest first, none of another organisation."""
    from tests.factories import make_user
    from trading.accounts.models import Role
    from trading.tenders.models import Notification

    me, other = make_user(session, Role.BIDDER), make_user(session, Role.BIDDER)
    session.commit()
    start = clock.now()
    session.add(Notification(org_id=me.organisation_id, message="旧通知", created_at=start - dt.timedelta(days=1)))
    session.commit()
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 1:
            session.add_all(
                Notification(org_id=org, message=f"通知{i:03d}", created_at=start + dt.timedelta(milliseconds=i // 3))
                for i in range(130)
                for org in (me.organisation_id, other.organisation_id)
            )
            session.commit()
        if len(waits) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(account, "pause", sleep)
    out = tool_for(served, api_token(client, me.username), tmp_path)("notices", "--follow", "--interval", "1")
    shown = [line.split("\t")[-1] for line in out.splitlines() if "\t" in line]
    assert shown == ["旧通知", *(f"通知{i:03d}" for i in range(130))] and waits == [1, 1, 2]


def test_publicity_objection_and_the_openings_objections(
    client: FlaskClient, session: Session, app: Flask, served: str, tmp_path: pathlib.Path
) -> None:
    t = open_tender(client, session, app, 3)
    run_opening(client, app, t)
    code, cid = t["code"], str(t["cid"])
    bidder = tool_for(served, t["headers"][2], tmp_path)
    assert "没有异议" in bidder("objections", "--ceremony", cid)
    assert "看不到异议" in tool_for(served, t["outsider"], tmp_path)("objections", "--ceremony", cid, code=2)
    assert "[not_started, HTTP 404]" in bidder("publicity", "--tender", code, code=2)  # no room yet: said so
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)):
        got = evaluate_to_publicity(client, session, app, t)
        session.commit()
        pub = client.get(f"{got['url']}/publicity").get_json()
        out = bidder("publicity", "--tender", code)
        assert out == bidder("publicity", "--evaluation", str(got["id"]))  # the id the publicity page shows
        assert "--evaluation" in bidder("publicity", code=2)
        assert f"公示期至 {beijing(pub['ends_at'])}（北京时间）" in out
        first = pub["candidates"][0]
        assert f"第1名\t{first['bidder']}\t投标报价 " in out
        assert "10–5000" in bidder("publicity", "object", "--tender", code, "--text", "有问题", code=2)
        text = "第一名投标人的项目经理资格证书已过期，\n请核查。"
        out = bidder("publicity", "object", "--tender", code, "--text", text)
        assert "异议已提交" in out and "北京时间" in out
        pub = client.get(f"{got['url']}/publicity").get_json()
        assert [o["text"] for o in pub["objections"]] == [text] and pub["suspended"]
        out = bidder("publicity", "--tender", code)
        assert "公示暂停" in out and "待答复" in out and "已过期， 请核查。" in out  # one line per objection
        out = tool_for(served, t["outsider"], tmp_path)("publicity", "object", "--tender", code, "--text", text, code=2)
        assert "HTTP 403" in out
        assert "没有澄清要求" in bidder("clarifications")
        assert "not_found" in bidder("clarifications", "answer", "999999", "--text", "补充说明", code=2)


def test_guarantee_status_and_cancel(
    client: FlaskClient, session: Session, app: Flask, served: str, tmp_path: pathlib.Path
) -> None:
    t = open_tender(client, session, app, 3)
    _, issuer, orders = _issued(client, session, app, t)
    assert issuer.user.organisation is not None
    issuer_code = issuer.user.organisation.credit_code
    first = tool_for(served, t["headers"][0], tmp_path)
    out = first("guarantee", "status", str(orders[0]["order"]))
    assert "BH-0001" in out and "有效" in out and "保函文件 SM3" in out
    assert "没有编号为" in first("guarantee", "status", str(orders[2]["order"]), code=2)  # another bidder's
    third = tool_for(served, t["headers"][2], tmp_path)
    assert "被保证人资信不足" in third("guarantee", "status", str(orders[2]["order"]))
    assert "wrong_state" in third("guarantee", "cancel", str(orders[2]["order"]), code=2)

    outsider = tool_for(served, t["outsider"], tmp_path)
    apply = ("guarantee", "apply", "--tender", t["code"], "--issuer", issuer_code)
    assert "not_registered" in outsider(*apply, code=2)
    outsider("register", "--tender", t["code"])
    applied = outsider(*apply)
    order = next(o for o in client.get("/api/v1/guarantees/mine", headers=t["outsider"]).get_json()["items"])
    assert f"已提交申请 (applied) {order['id']}" in applied
    assert "取消" in outsider("guarantee", "cancel", str(order["id"]))
    mine = client.get("/api/v1/guarantees/mine", headers=t["outsider"]).get_json()["items"][0]
    assert mine["state"] == "cancelled"
    assert "wrong_state" in outsider("guarantee", "cancel", str(order["id"]), code=2)
    outsider("guarantee", "status", "abc", code=2)


def test_guarantee_download(
    client: FlaskClient, session: Session, app: Flask, served: str, tmp_path: pathlib.Path
) -> None:
    from tests.bidding.test_guarantees import DOC

    t = open_tender(client, session, app, 3)
    _, _, orders = _issued(client, session, app, t)
    first = tool_for(served, t["headers"][0], tmp_path)
    out = first("guarantee", "download", str(orders[0]["order"]), "--out", str(tmp_path / "保函.pdf"))
    assert "SM3 与平台核验的一致" in out and (tmp_path / "保函.pdf").read_bytes() == DOC
    assert "没有可下载" in tool_for(served, t["headers"][2], tmp_path)(
        "guarantee", "download", str(orders[2]["order"]), "--out", str(tmp_path / "x.pdf"), code=2
    )


def test_progress_is_a_bar_at_a_terminal_and_plain_lines_elsewhere(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline: keygen, a self-signed pair is enough to seal and unseal one's own file."""
    from signing.certs import CertificateAuthority

    folder = tmp_path / "keys"
    folder.mkdir()
    root = CertificateAuthority.create("测试根", now=clock.now())
    for kind, usage in (("sign", Usage.SIGN), ("enc", Usage.ENCRYPT)):
        key = PrivateKey.generate()
        (folder / f"{kind}.key").write_bytes(key.to_pem(KEY_PASSWORD.encode()))
        (folder / f"{kind}.crt").write_bytes(
            root.issue(key.public_key, common_name="甲", usage=usage, now=clock.now()).to_pem()
        )
    (tmp_path / "root.pem").write_bytes(root.cert.to_pem())
    (tmp_path / "bid.zip").write_bytes(b"x" * 40_000)
    runner = CliRunner(env={"GGZY_KEY_PASSWORD": KEY_PASSWORD})
    seal = ["seal", str(tmp_path / "bid.zip"), "--tender", "T", "--lot", "1", "--bidder", "B", "--keys", str(folder)]
    r = runner.invoke(bid, [*seal, "--out", str(tmp_path / "a.sealed"), "--chunk-size", "4096"])
    assert r.exit_code == 0, r.output
    lines = [line for line in r.output.splitlines() if line.startswith("加密：")]
    assert [line.split("（")[0] for line in lines] == ["加密：25%", "加密：50%", "加密：75%", "加密：100%"]
    assert lines[-1] == "加密：100%（40,000 / 40,000 字节）"
    quiet = CliRunner(env={"GGZY_KEY_PASSWORD": KEY_PASSWORD, "GGZY_NO_PROGRESS": "1"})
    r = quiet.invoke(bid, [*seal, "--out", str(tmp_path / "b.sealed")])
    assert r.exit_code == 0 and "加密：" not in r.output
    monkeypatch.setattr("bidding.cli.common.interactive", lambda: True)  # as at a terminal: rich's bar
    args = ["unseal", str(tmp_path / "a.sealed"), "--keys", str(folder), "--ca", str(tmp_path / "root.pem")]
    r = runner.invoke(bid, [*args, "--out", str(tmp_path / "own.zip")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "own.zip").read_bytes() == b"x" * 40_000 and "解密：25%" not in r.output
