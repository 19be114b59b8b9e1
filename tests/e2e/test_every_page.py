"""Every page of every role, in Chromium at 1,280 px and at a 390 px phone's width, on a finished demo
served by ``ggzy serve``: no page may be wider than its window, speak English outside the allowed
names, lack the navigation bar, log a console error or answer 5xx; every confirmation dialog opens with
its own text and cancels cleanly.

"Every page" is the app's own route table: each HTML page is visited with every id the demo has for
it, and a new route fails this test until it is either visited or named a download below.
Screenshots of the pages the docs show are written to ``$GGZY_SCREENSHOTS`` when it is set
(``make screenshots``), so the docs' pictures are made by this test and never go stale.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import create_engine, text

from tests.conftest import free_port, fresh_pg_database
from tests.e2e.conftest import Server, demo_environment
from tests.e2e.page_checks import confirmation_problems, page_problems

pytestmark = pytest.mark.integration

NOT_PAGES = {
    # streams that never finish loading, and files the pages link; other answers that are not pages
    # (JSON, pictures, downloads) are told apart by what they answer
    "static",
    "opening.live",
    "opening.joint_live",
    "archives.download_page",
    "tenders.download",
    "evaluation_room.bid_copy_page",
    "bidding.receipt_file",
    "complaints.file_page",
    "complaints.signature_page",
    "credit.check_statement_page",
    "auctions.document_page",
    "auction_registrations.document_page",
    "auction_results.result_pdf_page",
}
#: the auction pages shown for every lot of the demo (a listing, a sold lot, a room that is bidding);
#: the other per-lot pages are shown for the bidding one
PER_LOT = {"auctions.lot_page", "auction_room.watch", "auction_results.result_page", "auction_room.buyer_room"}
WIDTHS = (1280, 390)
#: the pages the docs show, by the name the docs use: docs/screenshots/<name>.png
SCREENSHOTS = {
    ("anon", "/"): "anon-home",
    ("anon", "/ceremonies"): "anon-ceremonies",
    ("bidder1", "/my/bids"): "bidder1-my-bids",
    ("bidder1", "/ceremonies/1"): "bidder1-ceremony",
    ("staff", "/ceremonies/1"): "staff-ceremony",
    ("staff", "/tenders/GGZY-2026-000002"): "staff-tender",
    ("expert1", "/evaluations/1"): "expert1-evaluation",
    ("expert1", "/expert"): "expert1-declarations",
    ("tenderee", "/evaluations/1/publicity"): "tenderee-publicity",
    ("supervisor", "/audit"): "supervisor-audit",
    ("anon", "/opendata"): "anon-opendata",
    ("staff", "/exchange"): "staff-exchange",
    ("supervisor", "/supervision/monitor"): "supervisor-monitor",
    ("supervisor", "/supervision/warnings"): "supervisor-warnings",
    ("supervisor", "/supervision/statistics"): "supervisor-statistics",
    ("supervisor", "/complaints/1"): "supervisor-complaint",
    ("staff", "/credit"): "staff-credit",
    ("supervisor", "/signals/GGZY-2026-000002/1"): "supervisor-signals",
    ("staff", "/evaluations/2/ratings"): "staff-expert-ratings",
    ("anon", "/ratings"): "anon-ratings",
    ("anon", "/auctions"): "anon-auctions",
    ("staff", "/auctions/PM-2026-0003/registrations"): "staff-auction-registrations",
    ("anon", "/auctions/PM-2026-0002/result"): "anon-auction-result",
    ("bidder1", "/auctions/PM-2026-0003/room"): "bidder1-auction-room",
    ("staff", "/auctions/PM-2026-0003/console"): "staff-auction-console",
}


@pytest.fixture(scope="module")
def finished_demo(
    tmp_path_factory: pytest.TempPathFactory, demo_template: tuple[str, pathlib.Path]
) -> Iterator[dict[str, Any]]:
    template, template_instance = demo_template
    tmp = tmp_path_factory.mktemp("every-page")
    with fresh_pg_database("ggzy_pages", template=template) as url:
        inst = tmp / "instance"
        shutil.copytree(template_instance, inst)
        env = demo_environment(inst, url, tmp / "bid-config.json")
        server = Server(env, free_port(), tmp / "server.log")
        server.start()
        try:
            yield {"base": f"http://127.0.0.1:{server.port}", "inst": inst, "url": url}
        finally:
            server.stop()


def page_paths(app_rules: list[tuple[str, str, list[str]]], url: str) -> list[tuple[str, str]]:
    """Every HTML page of the app, filled in with every id the demo has for its arguments."""
    engine = create_engine(url)
    with engine.connect() as c:
        values = {
            "code": [r[0] for r in c.execute(text("SELECT code FROM tender ORDER BY id"))],
            "auction_code": [r[0] for r in c.execute(text("SELECT code FROM auction ORDER BY id"))],
            "ceremony_id": [str(r[0]) for r in c.execute(text("SELECT id FROM ceremony ORDER BY id"))],
            "evaluation_id": [str(r[0]) for r in c.execute(text("SELECT id FROM evaluation ORDER BY id"))],
            "package_id": [str(r[0]) for r in c.execute(text("SELECT id FROM archive_package ORDER BY id"))],
            "ann_id": [str(r[0]) for r in c.execute(text("SELECT id FROM announcement ORDER BY id"))],
            # one page per kind of record is enough: they are the same template
            "record_id": [
                str(r[0]) for r in c.execute(text("SELECT min(id) FROM exchange_record GROUP BY table_name ORDER BY 1"))
            ],
            "complaint_id": [str(r[0]) for r in c.execute(text("SELECT id FROM complaint ORDER BY id"))],
            "ev_id": [str(r[0]) for r in c.execute(text("SELECT id FROM evaluation ORDER BY id"))],
            "entry_id": [str(r[0]) for r in c.execute(text("SELECT id FROM credit_entry ORDER BY id"))],
            # one check of each purpose and result the demo has
            "check_id": [
                str(r[0])
                for r in c.execute(text("SELECT min(id) FROM credit_check GROUP BY purpose, barred ORDER BY 1"))
            ],
            # one warning of each colour the demo has
            "clock_id": [
                str(r[0]) for r in c.execute(text("SELECT min(id) FROM supervision_clock GROUP BY colour ORDER BY 1"))
            ],
        }
        rule_codes = [r[0] for r in c.execute(text("SELECT DISTINCT code FROM supervision_rule ORDER BY code"))]
        lots = [
            (r[0], str(r[1]))
            for r in c.execute(text("SELECT t.code, l.number FROM lot l JOIN tender t ON t.id = l.tender_id"))
        ]
        signal_lots = [
            (r[0], str(r[1]))
            for r in c.execute(
                text(
                    "SELECT t.code, l.number FROM signal_run s JOIN lot l ON l.id = s.lot_id"
                    " JOIN tender t ON t.id = l.tender_id"
                )
            )
        ]
    engine.dispose()
    paths: list[tuple[str, str]] = []
    for rule, endpoint, arguments in app_rules:
        if endpoint in NOT_PAGES:
            continue
        if not arguments:
            paths.append((rule, rule))
        elif rule.startswith("/auctions/<code>"):  # a rights-trading lot's code, not a tender's
            # each lot's public pages (listing, sold, bidding differ); the others' views are one template
            codes = values["auction_code"] if endpoint in PER_LOT else values["auction_code"][-1:]
            paths += [(rule, rule.replace("<code>", code)) for code in codes]
        elif endpoint == "supervision.rule_page":  # a rule's code, not a tender's
            paths += [(rule, rule.replace("<code>", code)) for code in rule_codes]
        elif set(arguments) == {"tender_code", "lot_number"}:  # a lot's signals: the lots that have them
            paths += [
                (rule, rule.replace("<tender_code>", code).replace("<int:lot_number>", n)) for code, n in signal_lots
            ]
        elif set(arguments) == {"code", "number"}:
            paths += [(rule, rule.replace("<code>", code).replace("<int:number>", n)) for code, n in lots]
        else:
            assert len(arguments) == 1 and arguments[0] in values, f"{rule}: no demo values for {arguments}"
            name = arguments[0]
            placeholder = f"<{name}>" if name == "code" else f"<int:{name}>"
            paths += [(rule, rule.replace(placeholder, v)) for v in values[name]]
    return paths


def app_page_rules() -> list[tuple[str, str, list[str]]]:
    from trading.app import create_app
    from trading.core.config import load_settings

    app = create_app(load_settings({"GGZY_ENV": "test", "DATABASE_URL": "sqlite://"}))
    rules = []
    for r in app.url_map.iter_rules():
        if "GET" in (r.methods or ()) and not r.rule.startswith("/api/"):
            rules.append((r.rule, r.endpoint, sorted(r.arguments)))
    missing = NOT_PAGES - {endpoint for _, endpoint, _ in rules}
    assert not missing, f"NOT_PAGES names endpoints that no longer exist: {missing}"
    return sorted(rules)


def accounts(inst: pathlib.Path) -> dict[str, str]:
    rows = [line.split("\t") for line in (inst / "demo-accounts.txt").read_text(encoding="utf-8").splitlines()]
    return {username: password for username, password, _ in rows}


def login(page: Any, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/")


#: the roles whose views differ from tender to tender and room to room see every id; the others see
#: each page once (their view of a room or a tender is the public one plus their own links)
EVERY_ID = ["anon", "staff", "tenderee", "bidder1"]
ONE_ID = ["admin", "supervisor", "agency", "issuer", "expert1"]


@pytest.fixture(scope="module")
def demo_pages(finished_demo: dict[str, Any]) -> list[tuple[str, str]]:
    return page_paths(app_page_rules(), finished_demo["url"])


@pytest.mark.parametrize("role", EVERY_ID + ONE_ID)
def test_every_page_of_every_role(
    chromium: Any, finished_demo: dict[str, Any], demo_pages: list[tuple[str, str]], role: str
) -> None:
    base = finished_demo["base"]
    shots = os.environ.get("GGZY_SCREENSHOTS")
    paths = [path for _, path in demo_pages]
    if role in ONE_ID:
        first = {rule: path for rule, path in reversed(demo_pages)}
        paths = [path for rule, path in demo_pages if first[rule] == path]
    problems: list[str] = []
    console: list[str] = []
    visited = 0
    context = chromium.new_context(viewport={"width": WIDTHS[0], "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console.append(f"{e} at {(e.stack or '').splitlines()[1:2]}"))
    if role != "anon":
        login(page, base, role, accounts(finished_demo["inst"])[role])
    for path in paths:
        console.clear()
        page.set_viewport_size({"width": WIDTHS[0], "height": 900})
        started = time.monotonic()
        try:
            response = page.goto(base + path)
        except PlaywrightError as exc:
            if "Download is starting" in exc.message:
                continue  # a file the pages link
            raise
        assert response is not None
        if response.status >= 500:
            problems.append(f"{path}: {response.status}")
            continue
        if not (response.headers.get("content-type") or "").startswith("text/html"):
            continue  # a picture or data a page embeds, not a page
        if response.status >= 400 or (page.url.startswith(f"{base}/login") and path != "/login"):
            continue  # not this role's page: refused by name, which other tests check
        visited += 1
        try:
            found = page_problems(page, WIDTHS[0])
            if shots and (role, path) in SCREENSHOTS:
                pathlib.Path(shots).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=f"{shots}/{SCREENSHOTS[role, path]}.png")
            found += confirmation_problems(page)
            page.set_viewport_size({"width": WIDTHS[1], "height": 800})
            found += page_problems(page, WIDTHS[1])
        except PlaywrightError as exc:
            found = [f"the page went away while it was checked: {exc.message.splitlines()[0]} (now at {page.url})"]
        found += [f"console: {m}" for m in console]
        if os.environ.get("GGZY_PAGES_TIMING"):
            print(f"{time.monotonic() - started:6.2f} s {role} {path}", file=sys.stderr)
        problems += [f"{path}: {p}" for p in found]
    context.close()
    assert not problems, f"{role}:\n" + "\n".join(problems)
    assert visited >= 8  # the demo's pages were really shown to this role, not all refused


def test_the_docs_show_only_screenshots_this_test_makes() -> None:
    docs = pathlib.Path(__file__).resolve().parents[2] / "docs"
    made = {f"screenshots/{name}.png" for name in SCREENSHOTS.values()}
    for md in docs.rglob("*.md"):
        for ref in re.findall(r"\((?:\./)?(screenshots/[^)]+\.png)\)", md.read_text(encoding="utf-8")):
            assert ref in made, f"{md.name} shows {ref}, which no browser test makes"
