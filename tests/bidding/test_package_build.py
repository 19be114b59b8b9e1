"""``ggzy-bid build``'s package: an honest folder always makes a package within the platform's
bounds, however compressible its files."""

from __future__ import annotations

import io
import pathlib
import zipfile

from bidding.package import write_folder_zip
from signing.bounded_zip import BoundedZip


def test_a_repetitive_file_is_stored_so_the_package_is_within_the_ratio(tmp_path: pathlib.Path) -> None:
    """Failed before: a 4 MiB bill of quantities of repeated rows deflated ~1,000:1, and
    ``ggzy-bid seal`` then refused the package the tool had just built (``archive_ratio``)."""
    folder = tmp_path / "bid"
    folder.mkdir()
    (folder / "开标一览表.json").write_text('{"price":"1.00"}')
    rows = "序号,名称,单位,数量,单价\n" + "1,钢筋,吨,0,0.00\n" * 250_000
    (folder / "清单.csv").write_text(rows)
    pkg = io.BytesIO()
    assert write_folder_zip(folder, pkg) == 2
    BoundedZip(pkg).verify()
    with zipfile.ZipFile(pkg) as z:
        types = {i.filename: i.compress_type for i in z.infolist()}
        assert z.read("清单.csv").decode() == rows
    assert types == {"开标一览表.json": zipfile.ZIP_DEFLATED, "清单.csv": zipfile.ZIP_STORED}


def test_the_package_is_the_same_bytes_every_time(tmp_path: pathlib.Path) -> None:
    folder = tmp_path / "bid"
    folder.mkdir()
    (folder / "a.txt").write_text("x" * 5_000_000)
    (folder / "b.txt").write_text("投标文件")
    first, second = io.BytesIO(), io.BytesIO()
    write_folder_zip(folder, first)
    write_folder_zip(folder, second)
    assert first.getvalue() == second.getvalue()


def test_the_tool_page_names_the_commands_bidders_need(client) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/bidder/tool").get_data(as_text=True)
    for command in ("ggzy-bid keygen", "ggzy-bid seal", "ggzy-bid uploads abandon", "ggzy-bid rekey"):
        assert command in html
