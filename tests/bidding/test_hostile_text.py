"""What the platform sends never drives the bidder's terminal: a tender titled
``照明工程\\x1b]0;pwned\\x07\\x1b[2J\\u2028X`` would set the window title and clear the screen if
``ggzy-bid tenders`` printed it raw. Every command that prints the platform's words is run against a
hostile server whose every string (titles, names, notices, answers, its error messages) carries
escape sequences, bidi overrides and line separators; none reaches the output, each is shown escaped."""

from __future__ import annotations

import pathlib
import unicodedata
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from archive import clock
from bidding.cli import main as bid
from bidding.cli.common import bar_label, one_line, safe
from tests.bidding import test_bidder_actions, test_bids
from tests.bidding.hostile_server import as_json, serving
from trading.tenders.models import Announcement, Notification, Tender

tender = test_bids.tender  # the fixture: a published tender, two registered bidders
served = test_bidder_actions.served  # the fixture: the real app on 127.0.0.1

EVIL = "照明工程\x1b]0;pwned\x07\x1b[2J\u2028X\u202eY\u2066\x9b31m\x7f\t伪造\n第二行[bold red]Z[/]"
NOW = "2026-12-05T01:00:00+00:00"


def forbidden(text: str) -> list[str]:
    """Characters that drive a terminal or reorder a line (a line's own tabs and breaks aside)."""
    return [
        ch
        for ch in text
        if ch not in "\t\n"
        and (
            unicodedata.category(ch) in ("Cc", "Zl", "Zp")
            or "\u202a" <= ch <= "\u202e"
            or "\u2066" <= ch <= "\u2069"
            or ch in "\u061c\u200e\u200f"
        )
    ]


def test_safe_shows_what_would_drive_the_terminal_escaped() -> None:
    shown = safe(EVIL)
    assert not forbidden(shown) and "\t" not in shown and "\n" not in shown
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\u2028X\\u202eY\\u2066\\x9b31m\\x7f\\t伪造\\n第二行" in shown
    assert safe("照明工程　一标段 №1") == "照明工程　一标段 №1"  # ideographic space and the rest: as they are
    assert safe(None) == "" and safe(42) == "42"
    assert one_line("第一行\n\t第二行\u2028\x1b[2J") == "第一行 第二行 \\x1b[2J"


def test_a_progress_bars_label_is_not_rich_markup() -> None:
    from rich.text import Text

    drawn = Text.from_markup(bar_label("下载 [link=http://evil]招标文件[/link][bold red]\x1b[2J.pdf"))
    assert drawn.plain == "下载 [link=http://evil]招标文件[/link][bold red]\\x1b[2J.pdf" and not drawn.spans


def _routes() -> dict[str, Any]:
    e = EVIL
    guarantee = {
        "id": 1,
        "tender": e,
        "lot": e,
        "tender_title": e,
        "issuer": {"name": e, "credit_code": e},
        "amount": e,
        "valid_until": e,
        "state_label": e,
        "reject_reason": e,
        "last_refusal": {"message": e},
        "guarantee": {
            "number": e,
            "state_label": e,
            "starts_on": e,
            "ends_on": e,
            "document_sm3": e,
            "released_at": e,
            "release_reason": e,
        },
    }
    items = {
        "/api/v1/announcements": {"items": [{"deadline_after": e, "tender": {"code": e, "title": e}}]},
        "/api/v1/evaluations/1/publicity": {
            "tender": e,
            "lot": e,
            "title": e,
            "state_label": e,
            "ends_at": e,
            "candidates": [{"rank": e, "bidder": e, "price": e}],
            "objections": [{"id": e, "raised_at": e, "answer_due": e, "text": e, "answer": e, "answered_at": e}],
        },
        "/api/v1/me/clarifications": {
            "items": [{"id": e, "asked_at": e, "deadline": e, "question": e, "answer": e, "answered_at": e}]
        },
        "/api/v1/tenders/T1/questions": {"items": [{"id": e, "asked_at": e, "text": e, "answer": e, "answered_at": e}]},
        "/api/v1/me/notifications": {
            "server_time": NOW,
            "items": [{"id": 1, "created_at": NOW, "tender": e, "message": e}],
        },
        "/api/v1/me/certificates": {"sign": {"fingerprint": e, "not_after": e}},
        "/api/v1/bids/uploads": {
            "items": [
                {
                    "upload_id": e,
                    "tender": e,
                    "lot": e,
                    "declared_size": e,
                    "received": e,
                    "last_part_at": e,
                    "expires_at": e,
                }
            ]
        },
        "/api/v1/bids": {"items": [{"lot": e, "status_label": e, "received_at": e, "ciphertext_sm3": e, "size": e}]},
        "/api/v1/tenders/T1/ceremonies": {"items": [{"id": e, "lot": e, "label": e, "ends_at": e}]},
        "/api/v1/ceremonies/1": {"objections": [{"id": e, "bidder": e, "text": e, "answer": e}]},
        "/api/v1/guarantees/issuers": {"items": [{"credit_code": e, "name": e}]},
        "/api/v1/guarantees/mine": {"items": [guarantee]},
        "/api/v1/guarantees": guarantee,
        "/api/v1/guarantees/orders/1/cancel": guarantee,
        "/api/v1/auth/token": {"token": "t", "user": {"display_name": e}},
    }
    routes = {path: as_json(body) for path, body in items.items()}
    # a hostile server's refusals: its JSON error, and a body that is not JSON at all
    routes["/api/v1/evaluations/2/publicity"] = as_json({"error": {"code": e, "message": e}}, 409)
    routes["/api/v1/evaluations/3/publicity"] = (502, {"Content-Type": "text/plain"}, e.encode())
    return routes


COMMANDS = [
    ["tenders"],
    ["publicity", "--evaluation", "1"],
    ["clarifications"],
    ["questions", "--tender", "T1"],
    ["notices"],
    ["certs"],
    ["uploads"],
    ["status", "--tender", "T1"],
    ["ceremonies", "--tender", "T1"],
    ["objections", "--ceremony", "1"],
    ["guarantee", "issuers"],
    ["guarantee", "list"],
    ["guarantee", "status", "1"],
    ["guarantee", "apply", "--tender", "T1", "--issuer", "X"],
    ["guarantee", "cancel", "1"],
    ["publicity", "--evaluation", "2"],
    ["publicity", "--evaluation", "3"],
]


@pytest.mark.parametrize("args", [pytest.param(a, id="-".join(a[:2])) for a in COMMANDS])
def test_no_command_prints_the_platforms_control_characters(args: list[str], tmp_path: Any) -> None:
    with serving(_routes()) as server:
        runner = CliRunner(env={"GGZY_SERVER": server, "GGZY_TOKEN": "t", "GGZY_NO_PROGRESS": "1"})
        r = runner.invoke(bid, args)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert not forbidden(r.output), (args, r.output)
    assert "\\x1b]0;pwned\\x07" in r.output  # shown, escaped, not hidden
    for line in r.output.splitlines():  # the hostile text's tab and line break never split a line
        assert not line.startswith("第二行") and "\t伪造" not in line


def test_login_names_the_user_safely(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bidding.client.CONFIG", tmp_path / "config.json")
    with serving(_routes()) as server:
        r = CliRunner(env={"GGZY_PASSWORD": "x"}).invoke(bid, ["login", "--server", server, "--username", "u"])
    assert r.exit_code == 0, r.output
    assert not forbidden(r.output) and "\\x1b]0;pwned\\x07" in r.output


def test_the_real_platforms_stored_text_is_shown_escaped(
    session: Session, tender: dict[str, Any], served: str, tmp_path: pathlib.Path
) -> None:
    """A title stored before the platform refused such text (or by a path that does not check),
    and a notice quoting it, come back from the real API as they are: ggzy-bid shows them escaped."""
    t = tender
    title = "照明工程\x1b]0;pwned\x07\x1b[2J\u2028X"
    tid = session.scalar(select(Tender.id).where(Tender.code == t["code"]))
    session.execute(update(Tender).where(Tender.id == tid).values(title=title))
    session.execute(update(Announcement).where(Announcement.tender_id == tid).values(title=title))
    org = t["b1"].user.organisation_id
    session.add(Notification(org_id=org, tender_id=tid, message=f"“{title}”发布了澄清公告", created_at=clock.now()))
    session.commit()
    run = test_bidder_actions.tool_for(served, t["h1"], tmp_path)
    for out in (run("tenders"), run("notices"), run("questions", "--tender", "\x1b[2J", code=2)):
        assert not forbidden(out), out
        assert "\\x1b" in out
    assert "照明工程\\x1b]0;pwned\\x07\\x1b[2J\\u2028X" in run("tenders")


@pytest.mark.parametrize("name", ["..", "", "a\x1b[2J.pdf", "招标文件\u202efdp.exe"])
def test_download_refuses_a_document_name_no_platform_would_give(name: str, tmp_path: pathlib.Path) -> None:
    from signing.certs import CertificateAuthority

    root = tmp_path / "root.pem"
    root.write_bytes(CertificateAuthority.create("测试根", now=clock.now()).cert.to_pem())
    document = {"id": 1, "name": name, "size": 10, "sm3": "0" * 64, "signature": "", "signer_certificate": ""}
    routes = {"/api/v1/tenders/T1": as_json({"documents": [document]})}
    out = tmp_path / "out"
    with serving(routes) as server:
        r = CliRunner(env={"GGZY_SERVER": server, "GGZY_NO_PROGRESS": "1"}).invoke(
            bid, ["download", "T1", "--out", str(out), "--ca", str(root)]
        )
    assert r.exit_code == 2 and "文件名无效" in r.output and not forbidden(r.output), r.output
    assert not any(out.iterdir()) and sorted(p.name for p in tmp_path.iterdir()) == ["out", "root.pem"]
