"""``ggzy`` tells people what they read on the pages: Beijing time, never a UTC ISO string, and names
(labels) for codes; a refusal names its fields as the forms do."""

from __future__ import annotations

import datetime as dt
import pathlib
import re

import pytest
from click.testing import CliRunner

from archive import clock
from tests.trading.test_cli import demo_environment
from trading.cli import main

UTC_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d|\+00:00")
ORG = ["users", "add-org", "--name", "某公司", "--credit-code", "91350100M000100Y43", "--kind", "enterprise"]


@pytest.fixture
def instance(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    inst = tmp_path / "instance"
    demo_environment(monkeypatch, inst)
    with clock.frozen(dt.datetime(2026, 12, 1, tzinfo=dt.UTC)):  # before the instants the tests record
        assert CliRunner().invoke(main, ["init"]).exit_code == 0
    return inst


def test_registers_are_told_with_labels_and_beijing_time(instance: pathlib.Path) -> None:
    runner = CliRunner()
    with clock.frozen(dt.datetime(2026, 12, 3, 18, 8, tzinfo=dt.UTC)):
        r = runner.invoke(main, [*ORG, "--region", "350102"])
        assert r.exit_code == 0, r.output
        assert r.output.strip() == "已登记机构 1：某公司（企业（投标人），福州市鼓楼区）"
        r = runner.invoke(
            main,
            ["users", "add", "--username", "zhangsan", "--name", "张三", "--org", "1", "--role", "bidder"],
            input="a long password\na long password\n",
        )
        assert r.exit_code == 0, r.output
        assert "已创建用户 1：zhangsan（张三，投标人）" in r.output
    r = runner.invoke(main, ["users", "list"])
    assert r.exit_code == 0, r.output
    assert "机构 1  某公司  企业（投标人）  91350100M000100Y43  福州市鼓楼区" in r.output
    assert (
        "用户 1  zhangsan  张三  某公司  投标人  启用  2026-12-04 02:08:00" in r.output
    )  # UTC 18:08 is 02:08 next day
    assert not UTC_ISO.search(r.output)


def test_a_refusal_names_its_fields(instance: pathlib.Path) -> None:
    r = CliRunner().invoke(main, [*ORG, "--region", "35"])
    assert r.exit_code != 0
    assert "行政区划代码：格式不正确，应为6 位数字，例如 350100" in r.output
    CliRunner().invoke(main, [*ORG, "--region", "350100"])
    r = CliRunner().invoke(main, [*ORG, "--region", "350100"])
    assert "该统一社会信用代码已登记" in r.output and "统一社会信用代码：已存在" in r.output


def test_audit_list_reads_like_the_audit_page(instance: pathlib.Path) -> None:
    runner = CliRunner()
    with clock.frozen(dt.datetime(2026, 12, 3, 18, 8, tzinfo=dt.UTC)):
        assert runner.invoke(main, [*ORG, "--region", "350100"]).exit_code == 0
    r = runner.invoke(main, ["audit", "list", "--action", "organisation.create"])
    assert r.exit_code == 0, r.output
    line = r.output.splitlines()[0]
    assert re.fullmatch(r"#\d+  2026-12-04 02:08:00  登记机构  运维命令行（[^）]+）  机构 1", line), line
    assert "共 1 条，第 1 / 1 页（北京时间）" in r.output
    assert not UTC_ISO.search(r.output) and "organisation.create" not in r.output
    r = runner.invoke(main, ["audit", "list", "--from", "2026-12-04", "--to", "2026-12-04", "--actor", "cli"])
    assert r.exit_code == 0 and "登记机构" in r.output, r.output
    r = runner.invoke(main, ["audit", "list", "--from", "2026-12-05"])
    assert r.exit_code == 0 and "登记机构" not in r.output and "共 0 条" in r.output
    r = runner.invoke(main, ["audit", "list", "--from", "yesterday"])
    assert r.exit_code == 2 and "开始日期：日期格式不正确" in r.output
    r = runner.invoke(main, ["audit", "list", "--actor", "nobody"])
    assert r.exit_code == 0 and "没有用户名为“nobody”的用户" in r.output
