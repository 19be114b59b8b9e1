"""``ggzy-bid auction``: rights trading (产权与资源交易) from the terminal: the lots, one's own
registration (竞买申请) and deposit, bids signed here with the buyer's own key, the room followed
live, and a listing's request for timed bidding. Every string from the platform is printed escaped
(``safe``), every instant in Beijing time, every amount in yuan with two places."""

from __future__ import annotations

import pathlib
import re
from typing import Any

import click

from bidding import auction as lots
from bidding.auction_result import ResultProblem, check_result
from bidding.cli.auction_room import FAILED_REASONS, follow, price, time_left
from bidding.cli.common import (
    api_client,
    api_errors,
    beijing,
    fail,
    key_password,
    load_keys,
    one_line,
    safe,
    trust_store,
    when,
)
from bidding.client import ApiError

#: the refusals of a bid, in the buyer's words (the platform's own message follows each)
REFUSALS = {
    "bid_too_low": "出价低于当前最低应价",
    "bid_late": "出价到达时倒计时已结束",
    "auction_not_started": "竞价尚未开始",
    "auction_paused": "竞价已暂停",
    "auction_ended": "竞价已结束",
    "not_in_timed_bidding": "本标的挂牌期已结束，只有申请了限时竞价的竞买人可以出价",
    "not_a_buyer": "贵单位不是本标的可以出价的竞买人（资格审核通过且保证金已到账后才能出价）",
    "invalid_amount": "金额格式不对（元，两位小数）",
    "invalid_signature": "签名无效：请用在平台登记的签名证书对应的私钥",
    "seen_seq_invalid": "所见出价序号不对：请先查看最新出价",
    "no_bidding_number": "尚无竞买号牌",
}


@click.group(help="产权交易（挂牌、拍卖、网络竞价）：标的、竞买申请、保证金、出价、跟随竞价、核对结果")
def auction() -> None:
    pass


@auction.command("list", help="平台上的标的（公告中、竞价中、已结束）")
def auction_list() -> None:
    with api_errors():
        items = lots.lots(api_client())
    if not items:
        click.echo("没有标的")
        return
    for a in items:
        shown = price(a.get("current_price") or a.get("starting_price"))
        click.echo(
            f"{safe(a.get('code'))}\t{safe(a.get('title'))}\t{safe(a.get('method_label') or a.get('method'))}\t"
            f"{safe(a.get('state_label') or a.get('state'))}\t{shown}"
        )


def _show(a: dict[str, Any]) -> None:
    clock = lots.ServerClock()
    clock.hear(a.get("server_time"))
    click.echo(f"{safe(a.get('code'))}  {safe(a.get('title'))}")
    what = " · ".join(safe(a[k]) for k in ("procedure_name", "category_label", "region_name") if a.get(k))
    if what:
        click.echo(what)
    if a.get("transferor"):
        click.echo(f"出让人/转让方：{safe(a['transferor'])}")
    click.echo(f"状态：{safe(a.get('state_label') or a.get('state'))}")
    click.echo(
        f"起始价：{price(a.get('starting_price'))}；加价幅度：{price(a.get('increment'))}；"
        f"竞买保证金：{price(a.get('deposit'))}"
    )
    bids = a.get("current_seq") or 0
    current = f"{price(a.get('current_price'))}（第 {safe(bids)} 次出价）" if bids else "尚无出价"
    click.echo(f"当前价：{current}；最低应价：{price(a.get('minimum_next'))}")
    reserve = a.get("reserve") if isinstance(a.get("reserve"), dict) else None
    if a.get("reserve_sm3"):
        opened = (
            f"；底价 {price(reserve.get('price'))}，盐值 {safe(reserve.get('salt'))}" if reserve else "（结束时公开）"
        )
        click.echo(f"底价承诺 SM3：{safe(a['reserve_sm3'])}{opened}")
    else:
        click.echo("无底价")
    periods: dict[str, Any] = a["periods"] if isinstance(a.get("periods"), dict) else a
    for key, label in (
        ("registration_ends_at", "报名及保证金截止"),
        ("bidding_starts_at", "竞价（挂牌）开始"),
        ("free_ends_at", "挂牌截止 / 自由竞价结束"),
    ):
        if periods.get(key):
            click.echo(f"{label}：{beijing(periods[key])}")
    left = time_left(a, clock)  # 距挂牌截止 4 天 23 小时 24 分（至 …）, by the server's clock
    if left:
        click.echo(left)
    result = a.get("result") if isinstance(a.get("result"), dict) else None
    if result:
        _result_lines(result)
    click.echo(f"服务器时间：{beijing(a.get('server_time'))}（以上时间均为北京时间）")


def _result_lines(r: dict[str, Any]) -> None:
    if r.get("outcome") == "sold":
        w: dict[str, Any] = r["winner"] if isinstance(r.get("winner"), dict) else {}
        click.echo(f"结果：成交，成交价 {price(r.get('final_price'))}，共 {safe(r.get('bids'))} 次出价")
        click.echo(
            f"竞得人：{safe(w.get('name'))}（{safe(w.get('credit_code'))}），号牌 {safe(w.get('bidding_number'))}"
        )
        if r.get("publicity_ends_at"):
            click.echo(f"成交公示至：{beijing(r['publicity_ends_at'])}")
    else:
        why = FAILED_REASONS.get(str(r.get("reason")), safe(r.get("reason") or "—"))
        click.echo(f"结果：流拍（{why}），共 {safe(r.get('bids'))} 次出价")
    click.echo(f"结果声明 SM3：{safe(r.get('result_sm3') or '—')}")
    click.echo(f"全部出价摘要（bids_sm3）：{safe(r.get('bids_sm3') or '—')}")


@auction.command("show", help="一个标的：状态、价格、最低应价、剩余时间、服务器时间")
@click.argument("code")
def auction_show(code: str) -> None:
    with api_errors():
        a = lots.detail(api_client(), code)
    _show(a)


@auction.command("register", help="提交竞买申请（写明联系人）")
@click.argument("code")
@click.option("--contact-name", required=True, help="联系人")
@click.option("--contact-phone", required=True, help="联系电话")
def auction_register(code: str, contact_name: str, contact_phone: str) -> None:
    if not 1 <= len(contact_name.strip()) <= 50:
        fail("联系人应为 1–50 个字")
    if not re.fullmatch(r"[0-9+\-]{5,20}", contact_phone.strip()):
        fail("联系电话应为 5–20 个数字，可含 + 和 -")
    with api_errors():
        r = lots.register(api_client(), code, contact_name.strip(), contact_phone.strip())
    click.echo(
        f"{safe(code)}：竞买申请已提交，{safe(r.get('state_label') or r.get('state'))}；"
        f"交易中心审核通过后发放竞买号牌，保证金到账后才能出价"
    )


@auction.command("deposit", help="报告已汇出竞买保证金（银行流水号），待交易中心确认到账")
@click.argument("code")
@click.option("--reference", required=True, help="银行转账的流水号")
def auction_deposit(code: str, reference: str) -> None:
    if not 1 <= len(reference.strip()) <= 100:
        fail("流水号应为 1–100 个字符")
    with api_errors():
        r = lots.report_deposit(api_client(), code, reference.strip())
    state = r.get("deposit_state_label") or r.get("deposit_state") or "待确认到账"
    click.echo(f"{safe(code)}：已报告汇款，保证金：{safe(state)}；交易中心核对银行记录后确认到账")


@auction.command("status", help="本单位的竞买申请：审核、竞买号牌、保证金、能否出价")
@click.argument("code")
def auction_status(code: str) -> None:
    with api_errors():
        r = lots.own(api_client(), code)
    click.echo(f"{safe(code)} 竞买申请：{safe(r.get('state_label') or r.get('state'))}")
    if r.get("review_reason"):
        click.echo(f"审核意见：{one_line(r['review_reason'])}")
    number = r.get("bidding_number")
    click.echo(f"竞买号牌：{safe(number)}（只有贵单位和平台知道）" if number else "竞买号牌：审核通过后发放")
    click.echo(f"保证金：{safe(r.get('deposit_state_label') or r.get('deposit_state'))}")
    for entry in r.get("deposit_entries") or []:
        click.echo(
            f"  {beijing(entry.get('at'))}\t{safe(entry.get('kind_label') or entry.get('kind'))}\t"
            f"{price(entry.get('amount'))}\t{safe(entry.get('reference'))}"
        )
    if r.get("wants_timed"):
        click.echo("已申请挂牌期满后进入限时竞价")
    click.echo("可以出价" if r.get("may_bid") else "暂不能出价：资格审核通过且保证金到账后才能出价")


@auction.command("withdraw", help="撤回竞买申请（报名截止前）")
@click.argument("code")
def auction_withdraw(code: str) -> None:
    with api_errors():
        r = lots.withdraw(api_client(), code)
    click.echo(f"{safe(code)}：竞买申请{safe(r.get('state_label') or '已撤回')}")


@auction.command("timed", help="挂牌：申请挂牌期满后进入限时竞价")
@click.argument("code")
def auction_timed(code: str) -> None:
    with api_errors():
        lots.request_timed(api_client(), code)
    click.echo(f"{safe(code)}：已申请限时竞价；挂牌期满时有两家及以上竞买人申请的，转入限时竞价")


@auction.command("bid", help="出价：在本机用签名私钥签名后提交")
@click.argument("code")
@click.option("--amount", "amount_", default=None, help="出价金额，元，两位小数，如 1234.50")
@click.option("--minimum", is_flag=True, help="按平台当前的最低应价出价")
@click.option(
    "--raise-by",
    default=None,
    help="在当前价上加价的金额，不低于加价幅度（尚无出价时在起始价上加，金额不限）",
)
@click.option(
    "--keys",
    type=click.Path(exists=True, file_okay=False, path_type=pathlib.Path),
    required=True,
    help="密钥文件夹",
)
def auction_bid(code: str, amount_: str | None, minimum: bool, raise_by: str | None, keys: pathlib.Path) -> None:
    if (amount_ is not None) + minimum + (raise_by is not None) != 1:
        fail("请给出 --amount、--minimum、--raise-by 三者之一")
    try:
        planned = lots.amount_text(amount_) if amount_ is not None else None
        if raise_by is not None:
            lots.amount_text(raise_by)  # refused here, before the key is read
    except lots.BadAmount as exc:
        fail(str(exc))
        return
    with api_errors():
        client = api_client()
        if planned is None:  # a raise that could only be refused is refused before the key is read
            _plan(client, code, minimum, raise_by)
        key, _ = load_keys(keys, "sign", key_password())
        assert key is not None
        seen = None
        if planned is None:  # then on the price as it is now (the password may have taken a while)
            planned, seen = _plan(client, code, minimum, raise_by)
        try:
            got = lots.place_bid(client, code, planned, key, seen_seq=seen)
        except ApiError as exc:
            if exc.code not in REFUSALS:
                raise
            fail(f"出价未被接受：{REFUSALS[exc.code]}。{exc.message} [{exc.code}]")
            return
    countdown = f"；倒计时至 {when(got.get('countdown_ends_at'))}" if got.get("countdown_ends_at") else ""
    click.echo(
        f"出价已接受：第 {safe(got.get('seq'))} 次出价，号牌 {safe(got.get('bidding_number'))}，"
        f"{price(got.get('amount', planned))}，{when(got.get('accepted_at'))}{countdown}"
    )


def _plan(client: Any, code: str, minimum: bool, raise_by: str | None) -> tuple[str, int | None]:
    """What ``--minimum`` or ``--raise-by`` comes to on the lot now, and the last bid seen then."""
    a = lots.detail(client, code)
    try:
        planned = lots.planned_amount(a, minimum=minimum, raise_by=raise_by)
    except lots.BadAmount as exc:
        fail(str(exc))
        raise
    return planned, a["current_seq"] if type(a.get("current_seq")) is int else None


@auction.command(
    "result",
    help="核对竞价结果（用平台根证书）：平台签名、底价揭示、全部出价摘要、成交与否",
)
@click.argument("code")
@click.option(
    "--ca",
    type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path),
    required=True,
    help="平台根证书",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=pathlib.Path), help="把签名的结果文件保存到这里")
def auction_result(code: str, ca: pathlib.Path, out: pathlib.Path | None) -> None:
    with api_errors():
        try:
            checked = check_result(api_client(), code, trust_store(ca))
        except ResultProblem as exc:
            fail(f"竞价结果核对未通过：{exc.message} [{exc.code}]")
            return
        if out is not None:
            out.write_bytes(checked.statement)
    body = checked.body
    click.echo(f"{safe(code)}  {safe(body.get('title'))}")
    click.echo(f"平台签名有效（{beijing(checked.signed_at)}），由平台根证书签发的证书签名")
    _result_lines({**body, "result_sm3": checked.result_sm3})
    reserve = body.get("reserve") if isinstance(body.get("reserve"), dict) else None
    if reserve:
        click.echo(
            f"底价 {price(reserve.get('price'))}，盐值 {safe(reserve.get('salt'))}：SM3(盐值‖底价) 与发布时公布的承诺一致"
        )
    else:
        click.echo("本标的未设底价")
    click.echo(f"结果声明 SM3 由签名文件算出{'，与平台公布的一致' if checked.published_sm3 else ''}")
    if checked.bids_checked:
        click.echo(
            f"由公开的 {len(checked.bids)} 次出价（号牌、金额、所见序号、接受时间）重算的全部出价摘要与签名结果一致；"
            "按出价和底价复核的结果一致"
        )
    else:
        click.echo(
            f"公开的出价次数和序号（{len(checked.bids)} 次）与签名结果一致，按出价和底价复核的结果一致；"
            "但平台公开的出价没有写明各次出价时所见的序号，无法由它们重算全部出价摘要（bids_sm3）："
            "档案包的复算（ggzy archive verify）可以"
        )
    if out is not None:
        click.echo(f"签名的结果已保存到 {out}（平台签名文件，可用 openssl 独立核验）")


auction.add_command(follow)
