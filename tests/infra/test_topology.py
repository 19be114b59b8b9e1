"""The deployment is the test: infra/docker-compose.yml's processes on this machine (tests/infra/
topology.py: each service's own command and environment, two app and two live nodes behind a
round-robin proxy with infra/nginx.conf's routes, PostgreSQL and an S3 server on loopback), the
first organisation and administrator made as infra/DEPLOY.md says, then a tender driven through
the proxy while its processes die with SIGKILL: an app node mid-part, the decryption worker
mid-decryption, the running scheduler mid-opening. Nothing is lost: the acknowledged part and
every bid survive, every decryption finishes, the standby scheduler takes over and builds the
archive package, and the audit log, the transparency log and the package verify."""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import os
import pathlib
import shlex
import time
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from signing.digest import SM3, sm3_hex
from signing.envelope import DEFAULT_CHUNK
from signing.statements import record_confirmation_statement
from tests.conftest import REPO, fresh_pg_database
from tests.factories import api_token, init_upload, make_bidder_with_keys, seal_bid
from tests.infra.topology import PROCESS_KINDS, HttpClient, Topology, compose_services, poll
from tests.trading.opening.test_ceremony import bid_package, open_tender, release, release_to, signin_sig

pytestmark = pytest.mark.integration
ADMIN_PASSWORD = "Topology-Admin-Passw0rd"
#: settings this short test needs on top of the compose environment: the standby takes over
#: within 6 s rather than the 30 s default (SCHEDULER_LEASE_SECONDS)
OVERRIDES = {"SCHEDULER_LEASE_SECONDS": "6"}


def test_every_process_kind_is_a_service_with_a_restart_policy() -> None:
    """A killed process comes back only if the orchestrator restarts it: every long-running
    service says so (the topology test restarts what it kills, as that policy would)."""
    services = compose_services()
    for kind in PROCESS_KINDS:
        assert kind in services, f"infra/docker-compose.yml lost the service {kind}"
    for kind in ("app", "live", "workers", "scheduler", "scheduler-standby", "proxy", "postgres", "minio"):
        assert services[kind].get("restart") == "unless-stopped", kind
    assert "restart" not in services["migrate"]  # it runs once per `up`


def guide_commands() -> list[list[str]]:
    """The ``ggzy`` commands of infra/DEPLOY.md's first-administrator block, as run in ``app``."""
    guide = (REPO / "infra" / "DEPLOY.md").read_text()
    block = guide[guide.index("```bash\n") + 8 :]
    block = block[: block.index("```")].replace("\\\n", " ")
    prefix = "docker compose -f infra/docker-compose.yml exec app ggzy "
    commands = []
    for line in block.splitlines():
        line = line.split("  #")[0].strip()
        assert line.startswith(prefix), line
        commands.append(shlex.split(line[len(prefix) :]))
    return commands


def _put_half_then_kill(port: int, url: str, headers: dict[str, str], part: bytes, kill: Any) -> None:
    """Send half of a part straight to one app node, then kill that node: the client sees the
    connection drop and gets no acknowledgement."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("PUT", url)
    for k, v in (headers | {"Content-Length": str(len(part))}).items():
        conn.putheader(k, v)
    conn.endheaders()
    conn.send(part[: len(part) // 2])
    time.sleep(0.3)  # the node is reading the body
    kill()
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        conn.send(part[len(part) // 2 :])
        conn.getresponse()
    conn.close()


def test_a_tender_survives_its_processes_dying(
    s3_server: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trading.app import create_app
    from trading.archives.models import ArchivePackage
    from trading.core.config import load_settings
    from trading.core.models import SchedulerLease
    from trading.opening.models import DecryptionJob, JobState

    with fresh_pg_database("ggzy_topology") as url, Topology(url, s3_server, tmp_path, OVERRIDES) as top:
        # `migrate` (ggzy init), then the first organisation and administrator (infra/DEPLOY.md)
        done = top.migrate()
        assert done.returncode == 0, done.stdout + done.stderr
        commands = guide_commands()
        assert [c[:2] for c in commands] == [["users", "add-org"], ["users", "add"]]
        for args in commands:  # the second asks for the password twice
            done = top.run(*args, input=f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n")
            assert done.returncode == 0, (args, done.stderr)
        apps, lives = top.start("app", 2), top.start("live", 2)
        (workers,) = top.start("workers")
        schedulers = top.start("scheduler") + top.start("scheduler-standby")
        client = HttpClient(top.proxy.url)
        engine = create_engine(url)
        helper: Any = None
        try:
            api_token(client, "admin", ADMIN_PASSWORD)
            assert client.get("/healthz").status_code == 200
            for _ in lives:  # both live nodes answer behind the proxy's live location
                assert client.get("/live/health").status_code == 200

            # the rows only an administrator or a UKey vendor makes (accounts, certificates from
            # the platform CA) come from this process, on the same database and keys
            for k in ("PLATFORM_KEYS_DIR", "PLATFORM_KEY_PASSWORD"):
                monkeypatch.setenv(k, top.env[k])
            helper = create_app(load_settings({**top.env, "GGZY_ENV": "test"}))
            db = helper.extensions["ggzy.db"]
            with db.session() as session:
                t = open_tender(client, session, helper, 3)  # three bids through the proxy
                big = make_bidder_with_keys(session, helper)
            code = t["code"]
            h4 = api_token(client, big.user.username)
            assert client.post(f"/api/v1/tenders/{code}/interest", headers=h4).status_code in (200, 201)
            filler = os.urandom(34 << 20)  # two parts of 32 MiB at most
            blob = seal_bid(big, code, bid_package(code, "9003000.00", filler), chunk_size=DEFAULT_CHUNK)
            del filler
            up = init_upload(client, h4, blob, code).get_json()
            ps, parts_url = up["part_size"], f"/api/v1/bids/uploads/{up['upload_id']}/parts"
            assert len(blob) > ps
            first = SM3()
            first.update(blob[:ps])
            part = {"Content-Type": "application/octet-stream"}
            r = client.put(f"{parts_url}/1", data=blob[:ps], headers=h4 | part | {"X-Prefix-SM3": first.hexdigest()})
            assert r.status_code == 200, r.get_json()

            # an app node dies while part 2 is half sent to it
            victim = apps[0]
            assert victim.port is not None
            whole = {**h4, **part, "X-Prefix-SM3": sm3_hex(blob)}
            _put_half_then_kill(victim.port, f"{parts_url}/2", whole, blob[ps:], victim.kill)
            status = client.get(f"/api/v1/bids/uploads/{up['upload_id']}", headers=h4).get_json()
            assert (status["received"], status["parts"]) == (ps, 1)  # the acknowledged part survived
            assert client.put(f"{parts_url}/2", data=blob[ps:], headers=whole).status_code == 200
            receipt = client.post(f"/api/v1/bids/uploads/{up['upload_id']}/complete", headers=h4)
            assert receipt.status_code == 201, receipt.get_json()
            top.restart(victim)  # the restart policy; it serves again
            served_before = top.proxy.served[victim.port]
            for _ in range(4):
                assert client.get("/healthz").status_code == 200
            assert top.proxy.served[victim.port] > served_before
            assert all(top.proxy.served[n.port] for n in apps + lives), top.proxy.served

            # the deadline arrives (the processes' clocks are real: move the deadline instead)
            with engine.begin() as c:
                c.execute(
                    text("UPDATE tender SET bid_deadline = now() - interval '1 second' WHERE code = :c"), {"c": code}
                )
            cid, room, staff = t["cid"], f"/api/v1/ceremonies/{t['cid']}", t["staff"]
            bidders, headers = [*t["bidders"], big], [*t["headers"], h4]
            for b, h in zip(bidders, headers, strict=True):
                r = client.post(f"{room}/signin", json={"signature": signin_sig(b, cid, code)}, headers=h)
                assert r.status_code == 200, r.get_json()
            client.post(f"{room}/advance", headers=staff)
            assert client.post(f"{room}/advance", headers=staff).get_json()["stage"] == "decrypting"

            # the big bid's key first: the worker dies while it decrypts that one
            assert release_to(client, cid, big, blob, h4).status_code == 202

            def running() -> Any:
                with engine.connect() as c:
                    return c.scalar(select(DecryptionJob.id).where(DecryptionJob.state == JobState.RUNNING))

            job_id = poll("the worker to take the big bid's job", running, 30, every=0.01)
            workers.kill()
            # and the running scheduler dies mid-opening; the standby holds the lease next
            with engine.connect() as c:
                holder = c.scalar(select(SchedulerLease.holder))
            (active,) = [n for n in schedulers if f":{n.pid}:" in holder]
            (standby,) = [n for n in schedulers if n is not active]
            active.kill()
            killed_at = dt.datetime.now(dt.UTC)
            for i in range(3):
                assert release(client, t, i).status_code == 202
            top.restart(workers)  # the restart policy; its first sweep finds the dead worker's job

            def all_done() -> bool:
                with engine.connect() as c:
                    states = c.scalars(select(DecryptionJob.state)).all()
                return len(states) == 4 and all(s == JobState.DONE for s in states)

            poll("every decryption to finish", all_done, 90)
            with engine.connect() as c:
                job = c.execute(select(DecryptionJob.attempts).where(DecryptionJob.id == job_id)).one()
                assert job.attempts == 2  # taken by the dead worker, then once more
                requeued = c.scalar(text("SELECT count(*) FROM audit_event WHERE action = 'decryption.requeue'"))
                assert requeued == 1

            client.post(f"{room}/advance", headers=staff)
            advanced = client.post(f"{room}/advance", headers=staff).get_json()
            record = advanced["record_sm3"]
            prices = sorted(r["price"] for r in advanced["table"])
            assert prices == ["9000000.00", "9001000.00", "9002000.00", "9003000.00"]  # every bid, opened
            for b, h in zip(bidders, headers, strict=True):
                assert b.user.organisation is not None
                sig = b.sign_key.sign(record_confirmation_statement(cid, b.user.organisation.credit_code, record))
                r = client.post(f"{room}/confirm", json={"signature": base64.b64encode(sig).decode()}, headers=h)
                assert r.status_code == 200, r.get_json()
            assert client.post(f"{room}/advance", headers=staff).get_json()["stage"] == "closed"

            def standby_holds() -> bool:
                with engine.connect() as c:
                    return f":{standby.pid}:" in (c.scalar(select(SchedulerLease.holder)) or "")

            poll("the standby scheduler to take the lease", standby_holds, 30)
            with engine.connect() as c:
                took_over = c.scalar(select(SchedulerLease.acquired_at))
            lease = int(OVERRIDES["SCHEDULER_LEASE_SECONDS"])
            # the lease runs out at most its length after the last renewal; the standby asks at
            # every job's turn (each second) — DEPLOY.md's bound, with a second's slack for this load
            assert took_over - killed_at < dt.timedelta(seconds=lease + 2), (took_over, killed_at)

            def package() -> Any:
                with engine.connect() as c:
                    return c.scalar(select(ArchivePackage.id))

            package_id = poll("the standby scheduler to build the archive package", package, 60, every=0.5)
            with engine.connect() as c:
                acquired = c.scalar(text("SELECT count(*) FROM audit_event WHERE action = 'scheduler.acquire'"))
                assert acquired >= 2  # the first scheduler's, then the standby's
                bids = c.scalar(text("SELECT count(*) FROM bid"))
                assert bids == 4
                stored = c.scalar(text("SELECT ciphertext_sm3 FROM bid WHERE size = :n"), {"n": len(blob)})
                assert stored == sm3_hex(blob)  # the bid whose node died mid-part, byte for byte

            for args in (("audit", "verify"), ("archive", "verify-log"), ("archive", "verify", str(package_id))):
                done = top.run(*args)
                assert done.returncode == 0, (args, done.stdout, done.stderr)
        except BaseException:
            print(top.logs())
            raise
        finally:
            engine.dispose()
            if helper is not None:
                helper.extensions["ggzy.db"].engine.dispose()
