"""``ggzy-bid guarantee``: e-guarantees instead of a cash bond."""

from __future__ import annotations

import click

from bidding.cli.common import (
    amount,
    api_client,
    api_errors,
)


@click.group(help="电子保函：查看出具机构、申请、查看核验结果 (e-guarantees instead of a cash bond)")
def guarantee() -> None:
    pass


@guarantee.command("issuers", help="平台已接入的出具机构 (issuers on the platform)")
def guarantee_issuers() -> None:
    with api_errors():
        items = api_client().request("GET", "/api/v1/guarantees/issuers")["items"]
    for i in items:
        click.echo(f"{i['credit_code']}\t{i['name']}")


@guarantee.command("apply", help="向出具机构申请本标段的投标保函 (apply to an issuer for one lot)")
@click.option("--tender", required=True, help="项目编号 (tender id)")
@click.option("--lot", type=int, default=1, show_default=True, help="标段 (lot number)")
@click.option("--issuer", required=True, help="出具机构的统一社会信用代码 (issuer's credit code)")
def guarantee_apply(tender: str, lot: int, issuer: str) -> None:
    with api_errors():
        o = api_client().request("POST", "/api/v1/guarantees", {"tender": tender, "lot": lot, "issuer": issuer})
    click.echo(
        f"已提交申请 {o['id']}：{o['issuer']['name']}，{amount(o['amount'])} 元，有效期至少到 {o['valid_until']}；"
        f"{o['state_label']}"
    )


@guarantee.command("list", help="我的保函申请与核验结果 (my applications and guarantees)")
def guarantee_list() -> None:
    with api_errors():
        items = api_client().request("GET", "/api/v1/guarantees/mine")["items"]
    for o in items:
        g = o["guarantee"]
        state = f"{g['number']} {g['state_label']}" if g else o["state_label"]
        refusal = f"；平台未接受出具机构的保函：{o['last_refusal']['message']}" if o["last_refusal"] else ""
        click.echo(
            f"{o['id']}\t{o['tender']} 第{o['lot']}标段\t{o['issuer']['name']}\t{amount(o['amount'])} 元\t{state}{refusal}"
        )
