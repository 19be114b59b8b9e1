"""``ggzy-bid guarantee``: e-guarantees instead of a cash bond."""

from __future__ import annotations

import pathlib
from typing import Any

import click

from bidding.cli.common import (
    amount,
    api_client,
    api_errors,
    beijing,
    fail,
    one_line,
    safe,
)

# The bidder's copy of an issued guarantee, byte for byte, with the SM3 the platform verified
DOCUMENT_PATH = "/api/v1/guarantees/orders/{order}/document"
#: the platform refuses a guarantee document larger than this (``bad_document``): more is not one
MAX_DOCUMENT = 512 * 1024


@click.group(help="电子保函：出具机构、申请、状态、取消、下载 (e-guarantees instead of a cash bond)")
def guarantee() -> None:
    pass


@guarantee.command("issuers", help="平台已接入的出具机构 (issuers on the platform)")
def guarantee_issuers() -> None:
    with api_errors():
        items = api_client().request("GET", "/api/v1/guarantees/issuers")["items"]
    for i in items:
        click.echo(f"{safe(i['credit_code'])}\t{safe(i['name'])}")


@guarantee.command("apply", help="向出具机构申请本标段的投标保函 (apply to an issuer for one lot)")
@click.option("--tender", required=True, help="项目编号 (tender id)")
@click.option("--lot", type=int, default=1, show_default=True, help="标段 (lot number)")
@click.option("--issuer", required=True, help="出具机构的统一社会信用代码 (issuer's credit code)")
def guarantee_apply(tender: str, lot: int, issuer: str) -> None:
    with api_errors():
        o = api_client().request("POST", "/api/v1/guarantees", {"tender": tender, "lot": lot, "issuer": issuer})
    click.echo(
        f"已提交申请 (applied) {safe(o['id'])}：{safe(o['issuer']['name'])}，{amount(o['amount'])} 元，"
        f"有效期至少到 {safe(o['valid_until'])}；{safe(o['state_label'])}"
    )


@guarantee.command("list", help="我的保函申请与核验结果 (my applications and guarantees)")
def guarantee_list() -> None:
    with api_errors():
        items = api_client().request("GET", "/api/v1/guarantees/mine")["items"]
    for o in items:
        g = o["guarantee"]
        state = safe(f"{g['number']} {g['state_label']}" if g else o["state_label"])
        refusal = f"；平台未接受出具机构的保函：{one_line(o['last_refusal']['message'])}" if o["last_refusal"] else ""
        click.echo(
            f"{safe(o['id'])}\t{safe(o['tender'])} 第{safe(o['lot'])}标段\t{safe(o['issuer']['name'])}\t"
            f"{amount(o['amount'])} 元\t{state}{refusal}"
        )


def _order(client: Any, order_id: int) -> dict[str, Any]:
    for o in client.request("GET", "/api/v1/guarantees/mine")["items"]:
        if o["id"] == order_id:
            return dict(o)
    fail(f"没有编号为 {order_id} 的保函申请 (no such application of yours)；ggzy-bid guarantee list 列出全部")
    raise AssertionError("unreachable")


@guarantee.command("status", help="一份申请的详细状态：审核、开具、核验、释放 (one application in detail)")
@click.argument("order_id", type=int)
def guarantee_status(order_id: int) -> None:
    with api_errors():
        o = _order(api_client(), order_id)
    click.echo(f"申请 {safe(o['id'])}：{safe(o['tender'])} 第{safe(o['lot'])}标段 {safe(o['tender_title'])}")
    click.echo(f"出具机构：{safe(o['issuer']['name'])}（{safe(o['issuer']['credit_code'])}）")
    click.echo(f"金额：{amount(o['amount'])} 元；有效期至少到 {safe(o['valid_until'])}")
    click.echo(f"状态：{safe(o['state_label'])}")
    if o.get("reject_reason"):
        click.echo(f"出具机构拒绝的理由：{one_line(o['reject_reason'])}")
    if o.get("last_refusal"):
        click.echo(f"平台未接受出具机构的保函：{one_line(o['last_refusal'].get('message'))}")
    g = o.get("guarantee")
    if g:
        click.echo(
            f"保函：{safe(g['number'])}，{safe(g['state_label'])}，有效期 {safe(g['starts_on'])} 至 {safe(g['ends_on'])}"
        )
        if g.get("document_sm3"):
            click.echo(f"保函文件 SM3：{safe(g['document_sm3'])}")
        if g.get("released_at"):
            click.echo(f"已释放：{beijing(g['released_at'])}（北京时间），{one_line(g.get('release_reason'))}")


@guarantee.command("cancel", help="取消尚未开具的保函申请 (cancel an application not yet issued)")
@click.argument("order_id", type=int)
def guarantee_cancel(order_id: int) -> None:
    with api_errors():
        o = api_client().request("POST", f"/api/v1/guarantees/orders/{order_id}/cancel")
    click.echo(f"申请 {safe(o['id'])}：{safe(o['state_label'])}")


@guarantee.command("download", help="下载已开具的保函文件并核对 SM3 (download the issued guarantee, check its SM3)")
@click.argument("order_id", type=int)
@click.option("--out", type=click.Path(dir_okay=False, path_type=pathlib.Path), required=True)
def guarantee_download(order_id: int, out: pathlib.Path) -> None:
    from signing.digest import sm3_stream

    with api_errors():
        client = api_client()
        g = _order(client, order_id).get("guarantee")
        if not g or not g.get("document_sm3"):
            fail("该申请还没有可下载的保函文件 (no guarantee document yet)")
            return
        partial = out.with_name(out.name + ".part")
        try:
            headers = client.download(
                DOCUMENT_PATH.format(order=order_id), partial, limit=MAX_DOCUMENT
            )  # small: no bar
            with partial.open("rb") as f:
                digest, size = sm3_stream(f)
            if digest.hex() != g["document_sm3"] or headers.get("x-document-sm3", g["document_sm3"]) != digest.hex():
                fail("下载的保函文件与平台核验的 SM3 不符，已删除 (digest mismatch)")
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(out)
    click.echo(f"{out}：保函 {safe(g['number'])}，{size:,} 字节，SM3 与平台核验的一致 (digest matches)")
