"""``ggzy credit``: import a file (bad rows named, nothing written), list, check, revoke, proposals."""

from __future__ import annotations

import pathlib

from click.testing import CliRunner

from tests.factories import valid_code
from tests.trading.credit.samples import as_csv, as_json, row
from tests.trading.test_cli import instance  # noqa: F401  (the fixture)
from trading.cli import main


def test_import_list_check_revoke(instance: pathlib.Path, tmp_path: pathlib.Path) -> None:  # noqa: F811
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    r = runner.invoke(
        main,
        [
            "users",
            "add-org",
            "--name",
            "交易中心",
            "--credit-code",
            valid_code(),
            "--kind",
            "trading_center",
            "--region",
            "350100",
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        main,
        ["users", "add", "--username", "lisi", "--name", "李四", "--org", "1", "--role", "staff"],
        input="a long password\na long password\n",
    )
    assert r.exit_code == 0, r.output
    barred = row(region="350000", category="construction", starts_on="2026-01-01", ends_on="2026-12-31")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(as_csv([barred, row(starts_on="2026/01/01")]))
    r = runner.invoke(main, ["credit", "import", str(bad), "--as", "lisi"])
    assert r.exit_code != 0 and "第 3 行 starts_on" in r.output
    assert "共 0 条" in runner.invoke(main, ["credit", "list"]).output
    good = tmp_path / "good.json"
    good.write_bytes(as_json([barred]))
    r = runner.invoke(main, ["credit", "import", str(good), "--as", "lisi"])
    assert r.exit_code == 0 and "新增 1 条" in r.output, r.output
    code = barred["subject_id"]
    r = runner.invoke(
        main, ["credit", "check", code, "--region", "350102", "--category", "construction", "--on", "2026-06-01"]
    )
    assert "存在限制投标的信用记录" in r.output, r.output
    r = runner.invoke(
        main, ["credit", "check", code, "--region", "360102", "--category", "construction", "--on", "2026-06-01"]
    )
    assert "未发现信用记录" in r.output
    assert runner.invoke(main, ["credit", "check", "123", "--region", "350102", "--category", "goods"]).exit_code != 0
    assert code in runner.invoke(main, ["credit", "list", "--subject", code]).output
    assert runner.invoke(main, ["credit", "revoke", "1", "--reason", "短", "--as", "lisi"]).exit_code != 0
    revoke = ["credit", "revoke", "1", "--reason", "原决定已被撤销"]
    assert runner.invoke(main, revoke).exit_code != 0  # whose act: the trail names the staff member
    r = runner.invoke(main, [*revoke, "--as", "lisi"])
    assert r.exit_code == 0, r.output
    assert "已撤销" in runner.invoke(main, ["credit", "list"]).output
    r = runner.invoke(main, ["credit", "proposals", "--sweep"])
    assert r.exit_code == 0 and "待确认 0 项" in r.output
