"""``ggzy auctions``: staff set a lot up from the terminal with the same operations as the pages."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import re

import pytest
from click.testing import CliRunner

from archive import clock
from tests.factories import valid_code
from tests.trading.test_cli import demo_environment
from trading.cli import main
from trading.cli.auctions import auctions

UTC_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d|\+00:00")
BEIJING = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def instance(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    inst = tmp_path / "instance"
    demo_environment(monkeypatch, inst)
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    for n, (name, kind) in enumerate((("某交易中心", "trading_center"), ("某公司", "enterprise")), start=1):
        org = ["users", "add-org", "--name", name, "--credit-code", valid_code(900_000 + n), "--kind", kind]
        r = runner.invoke(main, [*org, "--region", "350100"])
        assert r.exit_code == 0, r.output
    for name, role, org_id in (("zhaoliu", "staff", "1"), ("qianqi", "bidder", "2")):
        r = runner.invoke(
            main,
            ["users", "add", "--username", name, "--name", "测试", "--org", org_id, "--role", role],
            input="a long password\na long password\n",
        )
        assert r.exit_code == 0, r.output
    return inst


def lot_file(tmp_path: pathlib.Path, **over: str) -> pathlib.Path:
    day = clock.local(clock.now()).date() + dt.timedelta(days=21)
    start = dt.datetime.combine(day, dt.time(9), tzinfo=BEIJING)
    body = {
        "title": "某县某地块国有建设用地使用权",
        "procedure_code": "land_auction",
        "region": "350102",
        "transferor": "某县自然资源局",
        "starting_price": "800000.00",
        "increment": "10000.00",
        "deposit": "160000.00",
        "registration_ends_at": (start - dt.timedelta(hours=16)).isoformat(),
        "bidding_starts_at": start.isoformat(),
        **over,
    }
    path = tmp_path / "lot.json"
    path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    return path


def test_a_lot_is_set_up_from_the_terminal(instance: pathlib.Path, tmp_path: pathlib.Path) -> None:
    runner = CliRunner()
    r = runner.invoke(auctions, ["create", str(lot_file(tmp_path)), "--as", "zhaoliu"])
    assert r.exit_code == 0, r.output
    code = re.search(r"PM-\d{4}-\d{4}", r.output).group(0)  # type: ignore[union-attr]
    r = runner.invoke(auctions, ["publish", code, "--as", "zhaoliu", "--reserve"], input="950000.00\n950000.00\n")
    assert r.exit_code == 0, r.output
    assert "已发布标的" in r.output and "底价承诺 SM3" in r.output and "950000" not in r.output
    r = runner.invoke(auctions, ["show", code])
    assert r.exit_code == 0, r.output
    assert "公告中" in r.output and "起始价 800000.00 元" in r.output and "950000" not in r.output
    assert not UTC_ISO.search(r.output)
    r = runner.invoke(auctions, ["list", "--state", "announced"])
    assert code in r.output and "共 1 宗" in r.output
    r = runner.invoke(auctions, ["cancel", code, "--as", "zhaoliu", "--reason", "出让计划调整，终止出让"])
    assert r.exit_code == 0 and "已终止" in r.output
    assert "已终止" in runner.invoke(auctions, ["show", code]).output


def test_the_terminal_refuses_by_name(instance: pathlib.Path, tmp_path: pathlib.Path) -> None:
    runner = CliRunner()
    r = runner.invoke(auctions, ["create", str(lot_file(tmp_path)), "--as", "qianqi"])
    assert r.exit_code != 0 and "没有设立标的的权限" in r.output
    r = runner.invoke(auctions, ["create", str(lot_file(tmp_path, starting_price="abc")), "--as", "zhaoliu"])
    assert r.exit_code != 0 and "起始价" in r.output
    early = (clock.now() + dt.timedelta(days=3)).astimezone(BEIJING).isoformat()
    r = runner.invoke(
        auctions,
        ["create", str(lot_file(tmp_path, bidding_starts_at=early, registration_ends_at=early)), "--as", "zhaoliu"],
    )
    code = re.search(r"PM-\d{4}-\d{4}", r.output).group(0)  # type: ignore[union-attr]
    r = runner.invoke(auctions, ["publish", code, "--as", "zhaoliu"])
    assert r.exit_code != 0 and "20日" in r.output and "竞价（挂牌）开始时间" in r.output
    r = runner.invoke(auctions, ["show", "PM-1999-0001"])
    assert r.exit_code != 0 and "未找到该标的" in r.output
    r = runner.invoke(auctions, ["list", "--state", "gone"])
    assert r.exit_code != 0
