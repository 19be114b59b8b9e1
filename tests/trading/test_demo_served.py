"""The demo served as a newcomer starts it (issue 19): a server process on loopback with the live
room's server and the reference issuer beside it; an application for a guarantee made through the
pages after the demo started is answered without anyone running anything by hand, and the running
instance's trail stays in order and in the past."""

from __future__ import annotations

import http.cookiejar
import os
import pathlib
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

from sqlalchemy import select

from archive import clock
from archive.audit import AuditEvent
from tests.conftest import free_port, wait_for_port
from tests.factories import csrf_from
from tests.trading.test_demo import passwords


def applied_row(html: str, tender: str) -> str:
    """The row of /guarantees for the caller's application for ``tender`` (its state, its guarantee)."""
    rows = re.findall(r'<tr data-order="\d+">.*?</tr>', html, re.S)
    return next((row for row in rows if tender in row), "")


def test_the_served_demo_answers_guarantee_applications(tmp_path: pathlib.Path) -> None:
    """`ggzy demo` the way a newcomer runs it: a server process on loopback with the live room's server
    beside it, and the reference issuer, which answers an application made through the pages after the
    demo started without anyone running anything by hand."""
    port = free_port()
    inst = tmp_path / "instance"
    env = {
        **os.environ,
        "GGZY_INSTANCE": str(inst),
        "GGZY_ENV": "demo",
        "ARGON2_MEMORY_KIB": "8",
        "ARGON2_TIME_COST": "1",
    }
    for var in ("DATABASE_URL", "OBJECT_STORE_URL", "ARCHIVE_STORE_URL", "SECRET_KEY", "GGZY_KEY_PASSWORD"):
        env.pop(var, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "trading.cli", "demo", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    said: list[str] = []  # what the demo and its processes print, read as it comes
    reader = threading.Thread(target=lambda: said.extend(line.decode() for line in proc.stdout or ()), daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, timeout=120)
        # gunicorn listens before its workers have loaded the app: a loaded machine takes a while
        with urllib.request.urlopen(f"{base}/healthz", timeout=90) as resp:
            assert resp.status == 200 and b"server_time" in resp.read()
        wait_for_port(port + 1, timeout=30)  # the live room's own server, started beside gunicorn
        with urllib.request.urlopen(f"http://127.0.0.1:{port + 1}/live/health", timeout=10) as resp:
            assert b"watchers" in resp.read()
        with urllib.request.urlopen(f"{base}/ceremonies/1", timeout=10) as resp:
            assert f'":{port + 1}"'.encode() in resp.read()  # the room page points browsers at it

        # bidder1 applies on /guarantees for the tender that is open for bids, as the demo printed it
        taking = re.search(r"· (GGZY-\d{4}-\d{6}) 已发布，投标截止", "".join(said))
        assert taking, "".join(said)[-3000:]
        code = taking.group(1)
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

        def page(path: str, form: dict[str, str] | None = None) -> str:
            data = urllib.parse.urlencode(form).encode() if form is not None else None
            with browser.open(f"{base}{path}", data=data, timeout=30) as resp:
                return str(resp.read().decode())

        password = passwords(inst)["bidder1"]
        page("/login", {"username": "bidder1", "password": password, "csrf_token": csrf_from(page("/login"))})
        html = page("/guarantees")
        issuer = re.search(r'<option value="([0-9A-Z]{18})">', html)
        assert issuer, "no issuer to choose"
        form = {"csrf_token": csrf_from(html), "tender": code, "lot": "1", "issuer": issuer.group(1)}
        assert "保函申请已提交" in page("/guarantees", form)
        deadline = time.monotonic() + 60
        while "REF-" not in (row := applied_row(page("/guarantees"), code)):
            assert time.monotonic() < deadline, f"the application was not answered: {row or page('/guarantees')}"
            time.sleep(1)
        # the issuer tells the terminal once its poll is over (the page may show the guarantee first)
        while not any("参考保函出具机构：出具保函 1 份" in line for line in said):
            assert time.monotonic() < deadline, f"the issuer did not say so: {''.join(said)[-3000:]}"
            time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(120)  # gunicorn lets its workers finish (30 s at most), then stops the processes beside it
        reader.join(10)
        if proc.stdout is not None:
            proc.stdout.close()
    text = "".join(said)
    assert "参考保函出具机构随演示一同运行" in text, text[-3000:]
    assert "Traceback" not in text, f"a process failed: {text[text.index('Traceback') - 500 :]}"
    assert "maximum number of running instances" not in text  # the scheduler's process keeps quiet

    # the running instance's trail too: nothing later than now, and in order
    from trading.core.db import Database

    db = Database(f"sqlite:///{inst / 'ggzy.db'}")
    with db.session() as s:
        times = [clock.as_utc(t) for t in s.scalars(select(AuditEvent.at).order_by(AuditEvent.seq))]
        read_at = clock.now()
    db.engine.dispose()
    assert times == sorted(times) and times[-1] <= read_at
