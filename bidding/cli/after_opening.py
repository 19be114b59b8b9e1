"""``ggzy-bid`` commands after the opening: the evaluation committee's clarifications (评标澄清), the
candidates' publicity (中标候选人公示) and objections to it (异议)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import click

from bidding.cli.common import BEIJING_FOOTER, amount, api_client, api_errors, beijing, fail, one_line, safe, when

_LOT = click.option("--lot", type=int, default=1, show_default=True, help="标段 (lot number)")


_EVALUATION = click.option(
    "--evaluation",
    type=int,
    default=None,
    help="评标编号，即公示页面 /evaluations/<编号>/publicity 中的编号，可代替 --tender (evaluation id)",
)


def evaluation_of(client: Any, tender: str | None, lot: int, evaluation: int | None) -> int:
    """The evaluation named, or the lot's (public: its id and stage only)."""
    if evaluation is not None:
        return evaluation
    if not tender:
        fail("请用 --tender（和 --lot）或 --evaluation 指明标段 (name the lot: --tender and --lot, or --evaluation)")
        raise AssertionError("unreachable")
    got = client.request("GET", f"/api/v1/tenders/{quote(tender, safe='')}/lots/{lot}/evaluation")
    return int(got["id"])


@click.group(
    invoke_without_command=True,
    help="中标候选人公示：查看候选人、公示期和异议答复，或提出异议 (the candidates' publicity: show, or object)",
)
@click.option("--tender", default=None, help="项目编号 (tender id)")
@_LOT
@_EVALUATION
@click.pass_context
def publicity(ctx: click.Context, tender: str | None, lot: int, evaluation: int | None) -> None:
    if ctx.invoked_subcommand is not None:
        return
    with api_errors():
        client = api_client()
        p = client.request("GET", f"/api/v1/evaluations/{evaluation_of(client, tender, lot, evaluation)}/publicity")
    click.echo(f"{safe(p['tender'])} 第{safe(p['lot'])}标段 {safe(p['title'])}：{safe(p['state_label'])}")
    if p.get("awarded_at"):
        click.echo(f"已定标 (awarded)：{when(p['awarded_at'])}")
    elif p.get("suspended"):
        click.echo("公示暂停：有异议待招标人答复，暂停的时间顺延 (suspended until the objections are answered)")
    elif p.get("ended"):
        click.echo(f"公示期已于 {when(p['ends_at'])} 结束 (ended)")
    else:
        click.echo(f"公示期至 {when(p['ends_at'])}（可在此前提出异议）(objections until then)")
    for c in p["candidates"]:
        click.echo(f"第{safe(c['rank'])}名\t{safe(c['bidder'])}\t投标报价 {amount(c['price'])} 元")
    for o in p["objections"]:
        answer = f"答复（{beijing(o['answered_at'])}）：{one_line(o['answer'])}" if o.get("answer") else "待答复"
        click.echo(
            f"异议 {safe(o['id'])}\t提出 {beijing(o['raised_at'])}\t答复期限 {beijing(o['answer_due'])}\t"
            f"{one_line(o['text'])}\t{answer}"
        )
    click.echo(BEIJING_FOOTER)


@publicity.command(
    "object",
    help="公示期内对中标候选人提出异议（本标段投标人；写明事实和理由）(object to the publicity, as a bidder of the lot)",
)
@click.option("--tender", default=None, help="项目编号 (tender id)")
@_LOT
@_EVALUATION
@click.option("--text", required=True, help="异议的事实和理由 (10–5000 字)")
def publicity_object(tender: str | None, lot: int, evaluation: int | None, text: str) -> None:
    if not 10 <= len(text.strip()) <= 5000:
        fail("异议应写明事实和理由（10–5000 字）(an objection is 10–5000 characters)")
    with api_errors():
        client = api_client()
        ev = evaluation_of(client, tender, lot, evaluation)
        o = client.request("POST", f"/api/v1/evaluations/{ev}/objections", {"text": text})
    click.echo(
        f"异议已提交 (objection raised)：编号 {safe(o['id'])}；招标人应在 {when(o['answer_due'])}前答复，"
        "答复前公示暂停。答复见 ggzy-bid publicity 和 ggzy-bid notices"
    )


@click.group(
    invoke_without_command=True,
    help="评标澄清：评标委员会要求本单位澄清的问题，或答复 (the committee's clarification requests: list, or answer)",
)
@click.pass_context
def clarifications(ctx: click.Context) -> None:
    if ctx.invoked_subcommand is not None:
        return
    with api_errors():
        items = api_client().request("GET", "/api/v1/me/clarifications")["items"]
    if not items:
        click.echo("没有澄清要求 (no clarification requests)")
        return
    for c in items:
        answer = f"已答复（{beijing(c['answered_at'])}）：{one_line(c['answer'])}" if c.get("answer") else "待答复"
        click.echo(
            f"{safe(c['id'])}\t提出 {beijing(c['asked_at'])}\t答复期限 {beijing(c['deadline'])}\t"
            f"{one_line(c['question'])}\t{answer}"
        )
    click.echo(BEIJING_FOOTER)


@clarifications.command("answer", help="答复评标委员会的澄清要求 (answer a clarification request)")
@click.argument("clarification_id", type=int)
@click.option("--text", required=True, help="澄清内容 (clarification text)")
def clarifications_answer(clarification_id: int, text: str) -> None:
    if not text.strip():
        fail("澄清内容不能为空 (the answer is empty)")
    with api_errors():
        c = api_client().request("POST", f"/api/v1/clarifications/{clarification_id}/answer", {"text": text})
    click.echo(f"已答复澄清 {safe(c['id'])} (answered)：{when(c['answered_at'])}")
