"""The evaluation report (评标报告) and the award notice (中标通知书): canonical JSON, a Chinese
PDF of each, stored by SM3. The report is what every expert signs; the notice is signed by the
platform at the award."""

from __future__ import annotations

from typing import Any

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from signing.canonical import canonical_json
from trading.accounts.regions import region_name
from trading.core import pdf
from trading.core.formats import amount_in_words, local_time, money
from trading.core.services import Services
from trading.evaluation import charts, room, scores, scoring
from trading.evaluation.models import FLAG_LABELS, Clarification, Evaluation, Expert
from trading.opening.display import credit_code_of, org_name

METHOD_TEXT = {"comprehensive": "综合评分法", "lowest_price": "经评审的最低投标价法"}
FORMULA_TEXT = {
    "gp_low_price": "低价优先法（财政部令第87号第五十五条）：价格分 = 评标基准价 / 投标报价 × 价格权重",
    "benchmark": "基准价法：基准价为有效报价算术平均值（5家及以上去掉最高、最低），每高于基准价 1% 扣 1 分，每低于 1% 扣 0.5 分",
    "lowest": "经评审的最低投标价法：按评标价由低到高排序",
}


def build_report(session: Session, ev: Evaluation) -> dict[str, Any]:
    lot, tender = room.lot_and_tender(session, ev)
    everyone = room.bidders(session, ev)
    valid = room.valid_bidders(session, ev)
    rows = scores.sheets(session, ev)
    ranked = scoring.rank(
        lot.evaluation_method.value,
        lot.criteria["price"]["formula"],
        int(lot.criteria["price"]["weight"]),
        {b.id: room.price_of(b) for b in valid},
        scores.as_rule_sheets(rows),
    )
    experts = {
        e.id: e
        for e in session.scalars(select(Expert).where(Expert.id.in_([s.expert_id for s in room.seats(session, ev)])))
    }
    names = {b.id: org_name(session, b.org_id) for b in everyone}
    codes = {b.id: credit_code_of(session, b.org_id) for b in everyone}
    compliance = ev.compliance or {}
    return {
        "type": "evaluation_report",
        "evaluation": ev.id,
        "round": ev.round,
        "tender": tender.code,
        "title": tender.title,
        "lot": lot.number,
        "lot_name": lot.name,
        "method": lot.evaluation_method.value,
        "price_formula": lot.criteria["price"]["formula"],
        "criteria": lot.criteria,
        "generated_at": clock.now().isoformat(),
        "committee": [
            {
                "expert": s.expert_id,
                "name": experts[s.expert_id].name,
                "region": experts[s.expert_id].region,
                "leader": s.expert_id == ev.leader_expert_id,
                "representative": s.representative,
            }
            for s in room.seats(session, ev)
        ],
        "recused": [
            {"expert": s.expert_id, "reason": s.recusal_reason}
            for s in room.seats(session, ev, present=False)
            if s.recused_at is not None
        ],
        "compliance": [
            {
                "bidder_id": b.id,
                "bidder": names[b.id],
                "credit_code": codes[b.id],
                "passed": bool(compliance.get(str(b.id), {}).get("passed")),
                "votes": compliance.get(str(b.id), {}).get("votes", {}),
                "reasons": compliance.get(str(b.id), {}).get("reasons", []),
            }
            for b in everyone
        ],
        "scores": [
            {
                "expert": r.expert_id,
                "bidder_id": r.bidder_id,
                "bidder": names[r.bidder_id],
                "credit_code": codes[r.bidder_id],
                "scores": r.scores,
                "total": str(scoring.factor_total(scores.as_rule_sheets([r])[0])),
            }
            for r in rows
        ],
        "ranking": [
            {
                "rank": x.rank,
                "bidder_id": x.bidder,
                "bidder": names[x.bidder],
                "credit_code": codes[x.bidder],
                "price": str(x.price),
                "factor_score": None if x.factor_score is None else str(x.factor_score),
                "price_score": None if x.price_score is None else str(x.price_score),
                "total": None if x.total is None else str(x.total),
            }
            for x in ranked
        ],
        "candidates": [
            {"rank": x.rank, "bidder_id": x.bidder, "bidder": names[x.bidder], "price": str(x.price)}
            for x in ranked[: ev.candidates]
        ],
        "flags": [
            {
                "kind": f.kind,
                "expert": f.expert_id,
                "bidder_id": f.bidder_id,
                "bidder": names.get(f.bidder_id),
                "factor": f.factor,
                "detail": f.detail,
                "resolution": f.resolution,
                "cleared": f.cleared_at is not None,
            }
            for f in scores.flags(session, ev)
        ],
        "clarifications": [
            {
                "bidder_id": c.bidder_id,
                "bidder": names.get(c.bidder_id),
                "question": c.question,
                "answer": c.answer,
                "asked_at": c.asked_at.isoformat(),
                "answered_at": c.answered_at.isoformat() if c.answered_at else None,
            }
            for c in session.scalars(
                select(Clarification).where(Clarification.evaluation_id == ev.id).order_by(Clarification.id)
            )
        ],
        "history": ev.history,
    }


def _local(iso: str | None, *, seconds: bool = False) -> str:
    """Beijing time of an ISO instant (to the second where a receipt states one)."""
    return local_time(iso, seconds=seconds) if iso else "—"


def score_summary(r: dict[str, Any], heading: Flowable, body: ParagraphStyle) -> list[Any]:
    """The experts' totals drawn (``charts``: a dot per expert, the average marked) and tabled with
    bidders as rows and members as columns, before the factor-by-factor detail."""
    marks = charts.report_marks(r)
    fig = charts.layout(marks)
    if fig is None:
        return [heading]
    members = charts.experts(marks)
    rows = charts.rows(marks)
    col = min(16.0, 140 / (len(members) + 1))  # a committee of up to nine fits the 180 mm line
    picture = charts.drawing(fig, 100 * mm)
    picture.hAlign = "CENTER"
    return [
        KeepTogether([heading, picture]),  # the heading never alone at the foot of a page
        Spacer(1, 2 * mm),
        pdf.table(
            [["投标人", *(label for _key, label in members), "平均"]]
            + [[row.label, *(row.totals.get(key, "—") for key, _label in members), row.mean] for row in rows],
            body,
            [180 - col * (len(members) + 1), *([col] * len(members)), col],
        ),
        Spacer(1, 2 * mm),
        pdf.para("各因素得分明细：", body),
    ]


def render_report_pdf(r: dict[str, Any]) -> bytes:
    body, title = pdf.styles()
    bidders = charts.report_bidders(r)

    def who(entry: dict[str, Any]) -> str:
        """The bidder an entry is about, by id: two bidders of one name show their credit codes."""
        name, note = bidders.get(charts.bidder_key(entry), (entry.get("bidder") or "", ""))
        return charts.named(name, note)

    story: list[Any] = [
        pdf.para("评标报告", title),
        Spacer(1, 5 * mm),
        pdf.para(f"项目名称：{r['title']}　项目编号：{r['tender']}　标段：第{r['lot']}标段 {r['lot_name']}", body),
        pdf.para(
            f"评标办法：{METHOD_TEXT.get(r['method'], r['method'])}；{FORMULA_TEXT.get(r['price_formula'], '')}", body
        ),
        pdf.para(f"生成时间：{_local(r['generated_at'])}（北京时间）　评审轮次：第 {r['round']} 轮", body),
        Spacer(1, 3 * mm),
        pdf.para("一、评标委员会", body),
        pdf.table(
            [["编号", "姓名", "身份", "所在地区", "职务"]]
            + [
                [
                    c["expert"],
                    c["name"],
                    "招标人代表" if c.get("representative") else "评标专家",
                    region_name(c["region"]),
                    "组长" if c["leader"] else "成员",
                ]
                for c in r["committee"]
            ],
            body,
            [20, 45, 30, 30, 25],
        ),
    ]
    for x in r["recused"]:
        story.append(pdf.para(f"回避：专家 {x['expert']}，理由：{x['reason']}", body))
    story += [Spacer(1, 3 * mm), pdf.para("二、资格/符合性审查（少数服从多数）", body)]
    story.append(
        pdf.table(
            [["投标人", "结论", "不通过理由"]]
            + [[who(c), "通过" if c["passed"] else "不通过", "；".join(c["reasons"]) or "—"] for c in r["compliance"]],
            body,
            [60, 25, 95],
        )
    )
    story += [Spacer(1, 3 * mm), pdf.para("三、评审结果与排序", body)]
    story.append(
        pdf.table(
            [["排名", "投标人", "投标报价（元）", "评分因素得分", "价格分", "总分"]]
            + [
                [
                    x["rank"],
                    who(x),
                    money(x["price"]),
                    x["factor_score"] or "—",
                    x["price_score"] or "—",
                    x["total"] or "—",
                ]
                for x in r["ranking"]
            ],
            body,
            [14, 56, 30, 28, 24, 24],
        )
    )
    names = {c["expert"]: c["name"] for c in r["committee"]}
    if r["scores"]:
        story += [Spacer(1, 3 * mm), *score_summary(r, pdf.para("四、各专家评分", body), body)]
        story.append(
            pdf.table(
                [["专家", "投标人", "各因素得分", "合计"]]
                + [
                    [
                        names.get(s["expert"], s["expert"]),
                        who(s),
                        "；".join(f"{k} {v}" for k, v in sorted(s["scores"].items())),
                        s["total"],
                    ]
                    for s in r["scores"]
                ],
                body,
                [24, 50, 82, 20],
            )
        )
    story += [Spacer(1, 3 * mm), pdf.para("五、评审提示及处理", body)]
    for f in r["flags"]:
        how = "已修正评分" if f["cleared"] else f"处理意见：{f['resolution']}"
        kind = FLAG_LABELS.get(f["kind"], f["kind"])
        story.append(pdf.para(f"［{kind}］{who(f)} {f['detail']}；{how}", body))
    if not r["flags"]:
        story.append(pdf.para("无。", body))
    for c in r["clarifications"]:
        story.append(pdf.para(f"澄清（{who(c)}）：{c['question']}　答复：{c['answer'] or '未答复'}", body))
    story += [Spacer(1, 3 * mm), pdf.para("六、推荐的中标候选人", body)]
    for c in r["candidates"]:
        price = f"{money(c['price'])} 元（{amount_in_words(c['price'])}）"
        story.append(pdf.para(f"第 {c['rank']} 名：{who(c)}，投标报价 {price}", body))
    for h in r["history"]:
        story.append(pdf.para(f"评标回退（第 {h['round']} 轮）：{h['reason']}", body))
    story += [
        Spacer(1, 4 * mm),
        pdf.para(
            "评标委员会全体成员以各自的 SM2 数字证书对本报告（JSON 文本的 SM3）签名；持不同意见的专家以书面理由签署。",
            body,
        ),
    ]
    return pdf.build("评标报告", 15, story)


def store_report(services: Services, report: dict[str, Any]) -> dict[str, str]:
    j = services.store.put_bytes(canonical_json(report))
    p = services.store.put_bytes(render_report_pdf(report))
    return {"json_sm3": j.sm3, "json_key": j.key, "pdf_sm3": p.sm3, "pdf_key": p.key}


def render_notice_pdf(n: dict[str, Any]) -> bytes:
    """The award notice: the bid's submission is the instant on its receipt (``submitted_at``;
    notices from before it was kept name the deadline), the price in figures and in words."""
    body, title = pdf.styles()
    big = ParagraphStyle("big", parent=body, fontSize=11, leading=18)
    submitted = n.get("submitted_at") or n["bid_deadline"]
    price = f"{money(n['price'])} 元（大写：{amount_in_words(n['price'])}）"  # the words say 人民币 already
    story: list[Any] = [
        pdf.para("中标通知书", title),
        Spacer(1, 8 * mm),
        pdf.para(f"{n['winner']}（统一社会信用代码 {n['winner_code']}）：", big),
        pdf.para(
            f"你方于 {_local(submitted, seconds=True)}（北京时间）提交的“{n['title']}”（项目编号 {n['tender']}）"
            f"第{n['lot']}标段“{n['lot_name']}”投标文件，经评标委员会评审和中标候选人公示，你方已被确定为中标人，"
            f"中标价为 {price}。"
            f"请于本通知书发出之日起三十日内与招标人{n['tenderee']}依据招标文件和你方投标文件订立书面合同"
            "（《招标投标法》第四十六条）。",
            big,
        ),
        Spacer(1, 6 * mm),
        pdf.para(f"招标人：{n['tenderee']}　　发出时间：{_local(n['issued_at'], seconds=True)}（北京时间）", big),
        Spacer(1, 4 * mm),
    ]
    if n.get("receipt_sm3"):
        story.append(pdf.para(f"投标回执 SM3：{n['receipt_sm3']}", body))
    story += [
        pdf.para(f"评标报告 SM3：{n['report_sm3']}", body),
        pdf.para("本通知书由公共资源交易平台生成并以平台 SM2 密钥签名，可凭签名文件离线核验。", body),
    ]
    return pdf.build("中标通知书", 20, story)
