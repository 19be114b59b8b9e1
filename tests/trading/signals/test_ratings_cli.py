"""``ggzy ratings`` as operators run it: the experts' standing and the services' aggregates, with
the settings checked and a bad month refused."""

from __future__ import annotations

import datetime as dt
import json
import pathlib

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from tests.factories import make_org, make_user
from tests.trading.test_cli import demo_environment
from trading.accounts.models import Role
from trading.cli import main
from trading.cli.common import database, settings
from trading.signals import ratings as rules
from trading.signals.models import RaterRole, ServiceKind, ServiceRating

AT = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)


def test_the_command_line_reports_standings_and_aggregates(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_environment(monkeypatch, tmp_path / "instance")
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    r = runner.invoke(main, ["ratings", "experts"])
    assert (
        r.exit_code == 0
        and "没有符合条件的专家" in r.output
        and "最近 5 次评价平均低于 3.0 分暂停抽取 90 日" in r.output
    )
    assert json.loads(runner.invoke(main, ["ratings", "experts", "--below", "--json"]).output) == []
    with database(settings()).session() as session:
        add_ratings(session)
    r = runner.invoke(main, ["ratings", "services"])
    assert r.exit_code == 0, r.output
    assert "开标服务  全部月份  评价 3  平均 2.67  差评 2（66.7%）  已答复 1  按时答复率 50.0%" in r.output
    assert "开标服务  2026-03  评价 3" in r.output
    data = json.loads(runner.invoke(main, ["ratings", "services", "--month", "2026-03", "--json"]).output)
    assert [c["month"] for c in data["cells"]] == ["2026-03"] and data["answered"][0]["answer"] == "已核实并整改到位。"
    r = runner.invoke(main, ["ratings", "services", "--month", "2026-3"])
    assert r.exit_code != 0 and "YYYY-MM" in r.output
    monkeypatch.setenv(rules.ENV_THRESHOLD, "abc")
    r = runner.invoke(main, ["ratings", "experts"])
    assert r.exit_code != 0 and rules.ENV_THRESHOLD in r.output


def add_ratings(session: Session) -> None:
    user = make_user(session, Role.BIDDER)
    due = AT + dt.timedelta(days=21)
    for score, answered in ((5, None), (2, due), (1, None)):
        org = make_org(session)
        session.add(
            ServiceRating(
                service=ServiceKind.OPENING, subject="GGZY-2026-000001/1", tender_code="GGZY-2026-000001",
                org_id=org.id, user_id=user.id, rater_role=RaterRole.BIDDER, score=score, comment="", at=AT,
                answer_due=due if score <= 2 else None, answer="已核实并整改到位。" if answered else None,
                answered_at=answered,
            )
        )  # fmt: skip
    session.commit()
