"""ggzy-bid names every failure with its code: a size mismatch in ``verify``, a package that
breaks the platform's bounds in ``seal`` (refused before sealing, not 撤销 at the opening)."""

from __future__ import annotations

import pathlib

from click.testing import CliRunner

from bidding.cli import main
from tests.bidding.test_cli import setup  # noqa: F401  (the fixture)
from tests.signing.zips import MiB, RawEntry, write_zip, zero_bomb


def seal(runner: CliRunner, keys: pathlib.Path, src: pathlib.Path, out: pathlib.Path) -> tuple[int, str]:
    args = ["seal", str(src), "--tender", "T", "--lot", "1", "--bidder", "B", "--keys", str(keys), "--out", str(out)]
    r = runner.invoke(main, args)
    return r.exit_code, r.output


def test_verify_names_a_size_mismatch(
    setup: tuple[CliRunner, pathlib.Path, pathlib.Path],  # noqa: F811
    tmp_path: pathlib.Path,
) -> None:
    runner, keys, root = setup
    src = tmp_path / "bid.pdf"
    src.write_bytes(b"x" * 5000)
    out = tmp_path / "b.sealed"
    assert seal(runner, keys, src, out)[0] == 0
    for bad in (out.read_bytes()[:-7], out.read_bytes() + b"\0"):
        (tmp_path / "bad.sealed").write_bytes(bad)
        r = runner.invoke(main, ["verify", str(tmp_path / "bad.sealed"), "--ca", str(root)])
        assert r.exit_code == 2 and "[size_mismatch]" in r.output, r.output


def test_seal_refuses_a_package_the_opening_would_refuse(
    setup: tuple[CliRunner, pathlib.Path, pathlib.Path],  # noqa: F811
    tmp_path: pathlib.Path,
) -> None:
    runner, keys, _ = setup
    data, crc = zero_bomb(256 * MiB)
    bomb = tmp_path / "bid.zip"
    with bomb.open("wb") as f:
        write_zip(f, [RawEntry("开标一览表.json", data, crc, 256 * MiB)])
    code, output = seal(runner, keys, bomb, tmp_path / "b.sealed")
    assert code == 2 and "[archive_ratio]" in output and "开标一览表.json" in output
    assert not (tmp_path / "b.sealed").exists()
