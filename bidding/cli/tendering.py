"""``ggzy-bid`` commands for taking part in a tender before the deadline: register (报名), and ask
questions on the tender documents (答疑)."""

from __future__ import annotations

import click

from bidding.cli.common import BEIJING_FOOTER, api_client, api_errors, beijing, fail, one_line, safe, when

_TENDER = click.option("--tender", required=True, help="项目编号 (tender id)")


@click.command(
    help="报名参加项目（报名名单保密，招标人也看不到）；--check 只查看是否已报名 "
    "(register for a tender; --check only tells whether you are registered)"
)
@_TENDER
@click.option("--check", is_flag=True, help="只查看，不报名 (only check)")
def register(tender: str, check: bool) -> None:
    from urllib.parse import quote

    path = f"/api/v1/tenders/{quote(tender, safe='')}/interest"
    with api_errors():
        client = api_client()
        registered = client.request("GET", path)["registered"]
        if check:
            click.echo(f"{safe(tender)}：{'已报名 (registered)' if registered else '未报名 (not registered)'}")
            return
        if not registered:
            client.request("POST", path)
    if registered:
        click.echo(f"{safe(tender)}：已经报名，无需重复 (already registered)")
    else:
        click.echo(f"{safe(tender)}：已报名 (registered)；可以下载招标文件、提问、申请保函和投标")


@click.group(
    invoke_without_command=True,
    help="招标文件答疑：列出已答复的问题和本单位的提问，或提问 (questions on the tender documents: list, or ask)",
)
@click.option("--tender", default=None, help="项目编号 (tender id)")
@click.pass_context
def questions(ctx: click.Context, tender: str | None) -> None:
    if ctx.invoked_subcommand is not None:
        return
    if not tender:
        fail("请用 --tender 给出项目编号 (give the tender with --tender)")
        return
    from urllib.parse import quote

    with api_errors():
        items = api_client().request("GET", f"/api/v1/tenders/{quote(tender, safe='')}/questions")["items"]
    if not items:
        click.echo("没有可见的问题（报名后可见已答复的问题和本单位的提问）(no questions visible to you)")
        return
    for q in items:
        answer = f"答复（{beijing(q['answered_at'])}）：{one_line(q['answer'])}" if q.get("answer") else "待答复"
        click.echo(f"{safe(q['id'])}\t提问 {beijing(q['asked_at'])}\t{one_line(q['text'])}\t{answer}")
    click.echo(BEIJING_FOOTER + "；答复发布给所有报名的投标人，不显示提问人")


@questions.command("ask", help="就招标文件向招标人提问（先报名；不显示提问人）(ask a question; register first)")
@_TENDER
@click.option("--text", required=True, help="问题 (5–2000 字)")
def questions_ask(tender: str, text: str) -> None:
    from urllib.parse import quote

    if not 5 <= len(text.strip()) <= 2000:
        fail("问题应为 5–2000 个字 (a question is 5–2000 characters)")
    with api_errors():
        q = api_client().request("POST", f"/api/v1/tenders/{quote(tender, safe='')}/questions", {"text": text})
    click.echo(
        f"已提问 (asked)：编号 {safe(q['id'])}，{when(q['asked_at'])}；招标人答复后，"
        f"ggzy-bid questions --tender {safe(tender)} 和 ggzy-bid notices 可以看到"
    )
