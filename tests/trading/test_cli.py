"""``ggzy`` as operators run it: init, demo seeding, users, certificates, audit verify, serve."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import urllib.request

import pytest
from click.testing import CliRunner

from tests.conftest import free_port, wait_for_port
from trading.cli import main


def demo_environment(monkeypatch: pytest.MonkeyPatch, inst: pathlib.Path) -> None:
    monkeypatch.setenv("GGZY_INSTANCE", str(inst))
    monkeypatch.setenv("GGZY_ENV", "demo")
    monkeypatch.setenv("ARGON2_MEMORY_KIB", "8")  # the test cost; the default is checked in test_accounts
    monkeypatch.setenv("ARGON2_TIME_COST", "1")
    for var in ("DATABASE_URL", "OBJECT_STORE_URL", "ARCHIVE_STORE_URL", "SECRET_KEY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def instance(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    inst = tmp_path / "instance"
    demo_environment(monkeypatch, inst)
    return inst


@pytest.fixture(scope="module")
def finished_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, str]:
    """One ``ggzy demo --no-serve`` for the tests of this module that read a finished demo (each
    works on a copy; a process running both runs it once): its instance folder and what it printed."""
    inst = tmp_path_factory.mktemp("demo") / "instance"
    with pytest.MonkeyPatch.context() as mp:
        demo_environment(mp, inst)
        r = CliRunner().invoke(main, ["demo", "--no-serve"])
    assert r.exit_code == 0, r.output
    return inst, r.output


def copy_of(demo: tuple[pathlib.Path, str], instance: pathlib.Path) -> str:
    shutil.copytree(demo[0], instance)
    return demo[1]


def test_demo_seeds_every_role_once(instance: pathlib.Path, finished_demo: tuple[pathlib.Path, str]) -> None:
    from archive import clock

    output = copy_of(finished_demo, instance)
    for name in ("admin", "staff", "supervisor", "tenderee", "agency", "bidder1", "issuer", "expert1"):
        assert name in output
    assert "已发布，投标截止" in output and "等待交易中心工作人员" in output
    r_first = output
    first = (instance / "demo-accounts.txt").read_text()
    r = CliRunner().invoke(main, ["demo", "--no-serve"])  # idempotent: same accounts, no second tender
    assert r.exit_code == 0 and (instance / "demo-accounts.txt").read_text() == first
    assert "已发布" not in r.output
    assert CliRunner().invoke(main, ["audit", "verify"]).exit_code == 0
    finished = clock.now()

    # The demo tender is published with a near deadline; the scheduler's sweep closes it.
    import datetime as dt

    from sqlalchemy import select

    from archive.audit import AuditEvent
    from trading.core.db import Database
    from trading.tenders.models import Tender, TenderState
    from trading.tenders.operations import close_due

    db = Database(f"sqlite:///{instance / 'ggzy.db'}")
    with db.session() as s:
        # The trail records only instants that have happened, in order: the history was played in
        # the past, oldest first, the live tenders last.
        times = [clock.as_utc(t) for t in s.scalars(select(AuditEvent.at).order_by(AuditEvent.seq))]
        assert times == sorted(times) and times[-1] <= finished
        # the accounts were hashed at the configured cost (ARGON2_* above), not the library's default
        from trading.accounts.models import User

        hashes = s.scalars(select(User.password_hash)).all()
        assert hashes and all(h.startswith("$argon2id$v=19$m=8,t=1,") for h in hashes), hashes[:2]
        assert times[0] <= finished - dt.timedelta(days=2)
        # history first (opened, joint), then the live tender and the one in the review queue
        history = s.scalars(select(Tender).order_by(Tender.id)).all()
        demo = [history[2], history[3], history[0], history[1]]
        assert [t.status for t in demo] == [
            TenderState.PUBLISHED,
            TenderState.SUBMITTED,
            TenderState.BIDDING_CLOSED,
            TenderState.BIDDING_CLOSED,
        ]
        # the third went through its whole opening, played by the scripted bidders and staff
        from trading.opening.models import Ceremony, Outcome, Stage

        opened = s.scalars(select(Ceremony).where(Ceremony.tender_id == demo[2].id)).one()
        assert opened.stage is Stage.CLOSED and opened.final_record_statement is not None
        assert [b.outcome for b in opened.bidders] == [Outcome.DECRYPTED] * 3
        assert sorted(b.price_sheet["price"] for b in opened.bidders) == ["3588000.00", "3650000.00", "3702500.00"]
        # their bonds are e-guarantees from the demo issuer, verified and shown in the record
        from trading.guarantees.models import Guarantee, GuaranteeState

        bonds = s.scalars(select(Guarantee).where(Guarantee.lot_id == opened.lot_id)).all()
        assert len(bonds) == 3 and {g.state for g in bonds} == {GuaranteeState.VALID}
        assert all(b["bond"]["status"] == "satisfied" for b in opened.record["bidders"])
        # its committee evaluated it remotely and signed the report; the candidates are publicised
        from trading.evaluation.models import EvalState, Evaluation, ReportSignature

        ev = s.scalars(select(Evaluation).where(Evaluation.lot_id == opened.lot_id)).one()
        assert ev.state is EvalState.PUBLICITY and ev.report is not None and len(ev.report["candidates"]) == 3
        signed = s.scalars(select(ReportSignature).where(ReportSignature.evaluation_id == ev.id)).all()
        # the whole committee of five: four drawn experts (two regions) and the tenderee's representative
        assert len(signed) == 5 and len({x["region"] for x in ev.report["committee"]}) == 2
        assert [x["representative"] for x in ev.report["committee"]].count(True) == 1
        # the fourth: two lots opened together, waiting in the decryption window for bidder1 only
        joint = s.scalars(select(Ceremony).where(Ceremony.tender_id == demo[3].id).order_by(Ceremony.id)).all()
        assert demo[3].joint_opening and [c.stage for c in joint] == [Stage.DECRYPTING, Stage.DECRYPTING]
        for c in joint:
            assert [b.outcome for b in c.bidders].count(Outcome.DECRYPTED) == 2
            assert [b.outcome for b in c.bidders].count(Outcome.PENDING) == 1
        assert "合并开标，正在解密" in r_first
        # the opened tender's committee: drawn (4 of the 5 demo experts), and re-runnable
        from trading.evaluation.models import Draw, DrawMember

        (d,) = s.scalars(select(Draw)).all()
        assert d.lot_id == opened.lot_id and len(s.scalars(select(DrawMember)).all()) == 4
        assert "ggzy draw verify" in r_first
        draw_id = d.id
        assert demo[0].bid_deadline - demo[0].docs_issued_at < dt.timedelta(minutes=16)
        assert close_due(s, demo[0].bid_deadline + dt.timedelta(seconds=1)) == 1
    db.engine.dispose()
    r = CliRunner().invoke(main, ["draw", "verify", str(draw_id)])
    assert r.exit_code == 0 and "抽取可复算" in r.output, r.output

    # The bidders' demo keys work with ggzy-bid as printed.
    from bidding.cli import main as bid

    keys = instance / "demo-keys" / "bidder1"
    (instance / "bid.txt").write_text("开标一览表：投标报价 12,345,678.00 元", encoding="utf-8")
    env = {"GGZY_KEY_PASSWORD": "demo-key-password", "GGZY_NO_PROGRESS": "1"}
    r = CliRunner(env=env).invoke(
        bid,
        [
            "seal",
            str(instance / "bid.txt"),
            "--tender",
            demo[0].code,
            "--lot",
            "1",
            "--bidder",
            "bidder1",
            "--keys",
            str(keys),
            "--out",
            str(instance / "b.sealed"),
        ],
    )
    assert r.exit_code == 0, r.output
    r = CliRunner(env=env).invoke(
        bid,
        [
            "verify",
            str(instance / "b.sealed"),
            "--ca",
            str(instance / "demo-keys" / "root.pem"),
            "--tender",
            demo[0].code,
        ],
    )
    assert r.exit_code == 0, r.output


def test_users_and_certificates(instance: pathlib.Path, tmp_path: pathlib.Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    r = runner.invoke(
        main,
        [
            "users",
            "add-org",
            "--name",
            "某公司",
            "--credit-code",
            "91350100M000100Y44",
            "--kind",
            "enterprise",
            "--region",
            "350100",
        ],
    )
    assert r.exit_code != 0 and "校验位错误" in r.output
    r = runner.invoke(
        main,
        [
            "users",
            "add-org",
            "--name",
            "某公司",
            "--credit-code",
            "91350100M000100Y43",
            "--kind",
            "enterprise",
            "--region",
            "350100",
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        main,
        ["users", "add", "--username", "zhangsan", "--name", "张三", "--org", "1", "--role", "bidder"],
        input="a long password\na long password\n",
    )
    assert r.exit_code == 0, r.output
    from signing.sm2 import PrivateKey

    (tmp_path / "k.pub").write_bytes(PrivateKey.generate().public_key.to_pem())
    r = runner.invoke(
        main,
        ["ca", "issue", str(tmp_path / "k.pub"), "--usage", "sign", "--cn", "张三", "--out", str(tmp_path / "k.crt")],
    )
    assert r.exit_code == 0, r.output
    (tmp_path / "bad.pub").write_bytes(b"not a key")
    r = runner.invoke(
        main,
        ["ca", "issue", str(tmp_path / "bad.pub"), "--usage", "sign", "--cn", "x", "--out", str(tmp_path / "bad.crt")],
    )
    assert r.exit_code != 0 and not (tmp_path / "bad.crt").exists()


def test_audit_verify_fails_on_tampering(instance: pathlib.Path, finished_demo: tuple[pathlib.Path, str]) -> None:
    import sqlite3

    copy_of(finished_demo, instance)
    # the demo's decisive moments asked for checkpoints; the scheduler signs them
    assert CliRunner().invoke(main, ["scheduler", "--once"]).exit_code == 0
    r = CliRunner().invoke(main, ["archive", "verify-log"])
    assert r.exit_code == 0 and "日志完整" in r.output, r.output
    assert int(r.output.split("：")[1].split(" ")[0]) >= 4  # bid deadline, decryption end, both records
    con = sqlite3.connect(instance / "ggzy.db")
    con.execute("UPDATE audit_event SET payload = '{}' WHERE seq = 3")
    con.commit()
    con.close()
    r = CliRunner().invoke(main, ["audit", "verify"])
    assert r.exit_code == 1 and "事件 3" in r.output
    r = CliRunner().invoke(main, ["archive", "verify-log"])
    assert r.exit_code == 1 and "event 3" in r.output


def test_serve_starts_the_platform(instance: pathlib.Path) -> None:
    """`ggzy demo` the way a newcomer runs it: a real server process answering on loopback."""
    port = free_port()
    env = {**os.environ, "GGZY_INSTANCE": str(instance)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "trading.cli", "demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, timeout=60)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
            assert resp.status == 200 and b"server_time" in resp.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as resp:
            assert "用户名".encode() in resp.read()
        wait_for_port(port + 1, timeout=30)  # the live room's own server, started beside gunicorn
        with urllib.request.urlopen(f"http://127.0.0.1:{port + 1}/live/health", timeout=10) as resp:
            assert b"watchers" in resp.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ceremonies/1", timeout=10) as resp:
            assert f'":{port + 1}"'.encode() in resp.read()  # the room page points browsers at it
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "admin" in out.decode()
