"""What the demo's history gives integrity to see (信用与诚信): a credit list the center imported, a
bidder on it refused at registration, the evaluated lot's collusion signals before its committee,
the experts' ratings after an evaluation and the services' ratings (好差评) with one 差评 answered.

Every act goes through the platform's API as its role would make it, at the history's instants.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from archive import clock
from archive.clock import FrozenClock
from trading.demo import display_name, org_credit_code
from trading.demo.actors import Actor

LIST_FILE = "福州市信用名单摘录（演示）.csv"
COLUMNS = (
    "subject_kind,subject_id,subject_name,list,measure,region,category,starts_on,ends_on,"
    "authority,document_no,facts,source_ref"
)
#: what a committee writes when a bidder's credit finding is a notice that bars nothing
NOTICE_REASON = "已核查信用提示：该记录为不良行为记录（信用提示），不属于限制投标情形，不影响本次资格审查结论。"


def credit_list(staff: Actor, now: dt.datetime) -> list[str]:
    """The center imports an extract of the lists it checks against: a dishonest judgment debtor
    (barred from bidding everywhere) and a builder with a local 不良行为记录 (a notice only)."""
    year = clock.local(now).year
    day = clock.local(now).date()
    rows = [
        (
            "organisation",
            org_credit_code("bidder4"),
            "福州鑫盛建材贸易有限公司",
            "dishonest_debtors",
            "bar_bidding",
            "000000",
            "",
            (day - dt.timedelta(days=200)).isoformat(),
            "",
            "福建省福州市中级人民法院",
            f"（{year}）闽01执1234号",
            "有履行能力而拒不履行生效法律文书确定的义务",
            f"ZXGK-{year}-350100-001234",
        ),
        (
            "organisation",
            org_credit_code("bidder3"),
            "闽江水利水电工程有限公司",
            "local",
            "notice",
            "350100",
            "construction",
            (day - dt.timedelta(days=30)).isoformat(),
            (day + dt.timedelta(days=335)).isoformat(),
            "福州市住房和城乡建设局",
            f"榕建信〔{year}〕12号",
            "施工现场安全文明施工检查不达标，记不良行为记录一次",
            f"FZJS-{year}-0012",
        ),
    ]
    text = "\n".join([COLUMNS, *(",".join(r) for r in rows)]) + "\n"
    out = staff.call(
        "POST",
        "/api/v1/credit/imports",
        expect=201,
        data={"file": (io.BytesIO(text.encode()), LIST_FILE)},
        content_type="multipart/form-data",
    )
    return [f"信用名单已导入 {out['added']} 条（staff 在 /credit 查看）：失信被执行人 1 条、地方不良行为记录 1 条"]


def refused_registration(bidder: Actor, code: str) -> list[str]:
    """A bidder on the dishonesty list tries to register and is refused with the entry named."""
    r = bidder.client.post(f"/api/v1/tenders/{code}/interest", headers=bidder.headers)
    if r.status_code != 409 or (r.get_json() or {}).get("error", {}).get("code") != "credit_barred":
        raise RuntimeError(f"demo: {bidder.username} was not refused by the credit check: {r.status_code}")
    return [
        f"{bidder.username}（{display_name(bidder.username)}）报名 {code} 被信用查询拒绝（失信被执行人），"
        "查询快照已签名留存，开标后随档案归档"
    ]


def compliance_reason(bidder: dict[str, Any]) -> dict[str, str]:
    """A vote's reason where the room shows a credit finding (the committee must address it)."""
    credit = bidder.get("credit") or {}
    return {"reason": NOTICE_REASON} if credit.get("entries") else {}


def review_signals(leader: Actor, url: str) -> None:
    """The committee's leader records how the committee considered the lot's collusion signals."""
    for panel in leader.call("GET", url).get("findings", []):
        review = panel.get("review") or {}
        if review.get("required") and not review.get("done"):
            text = (
                "评标委员会逐项核查了串标迹象：两家投标人从同一网络地址上传，且《类似工程业绩》PDF 完全相同、"
                "作者和创建时间一致。已向两家投标人发出澄清，并将情况报告行政监督部门；"
                "在监督部门认定前，按招标文件继续评审，不作为否决投标的依据。"
            )
            leader.call("POST", review["url"], expect=201, json={"text": text})


def rate_experts(staff: Actor, tenderee: Actor, evaluation_id: int) -> list[str]:
    """标后评价: staff and the tenderee each rate every expert who sat (one late to sign in)."""
    url = f"/api/v1/evaluations/{evaluation_id}/ratings"
    experts = staff.call("GET", url)["experts"]
    for n, e in enumerate(experts):
        for rater in (staff, tenderee):
            late = n == 0 and rater is staff
            marks = {"punctuality": 2 if late else 5, "diligence": 5, "quality": 4, "discipline": 5}
            reasons = {"reasons": "签到迟到 25 分钟，评标室开始时间因此推迟。"} if late else {}
            rater.call("POST", url, expect=201, json={"expert_id": e["id"], **marks, **reasons})
    return [f"评标 /evaluations/{evaluation_id} 的 {len(experts)} 名专家已由交易中心和招标人作标后评价"]


def rate_services(
    staff: Actor, tenderee: Actor, bidders: list[Actor], awarded: tuple[str, int], opened: str, moment: FrozenClock
) -> list[str]:
    """好差评: the awarded tender's tenderee rates its review and evaluation, its bidders the opening;
    one bidder gives the other tender's opening a 差评, which the center answers two hours later."""
    code, evaluation_id = awarded
    rate = "/api/v1/ratings/services"
    tenderee.call("POST", rate, expect=201, json={"service": "publication_review", "subject": code, "score": 5})
    tenderee.call(
        "POST",
        rate,
        expect=201,
        json={"service": "evaluation", "subject": str(evaluation_id), "score": 4, "comment": "评标组织有序。"},
    )
    for b, score in zip(bidders, (5, 4, 5), strict=True):
        b.call("POST", rate, expect=201, json={"service": "opening", "subject": f"{code}/1", "score": score})
    bad = bidders[2].call(
        "POST",
        rate,
        expect=201,
        json={
            "service": "opening",
            "subject": f"{opened}/1",
            "score": 2,
            "comment": "解密阶段开标室页面多次刷新才显示解密结果，希望改进。",
        },
    )
    moment.advance(hours=2)
    answer = "已核实：当时解密进程排队导致结果延迟约 2 分钟，已增加解密进程并在开标室显示排队位置。"
    staff.call("POST", f"{rate}/{bad['id']}/answer", json={"text": answer})
    return [
        "服务好差评：公众在 /ratings 查看按服务和月份的统计图；1 条差评已由交易中心答复（staff 在 /ratings/answers）"
    ]
