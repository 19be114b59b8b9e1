"""The home page: for visitors, what the platform is; for each role, what it can do now."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, jsonify, render_template

from archive import clock
from trading import web
from trading.accounts.models import Role
from trading.permissions import Permission, requires

bp = Blueprint("home", __name__)


@dataclass(frozen=True)
class Task:
    title: str
    endpoint: str
    description: str


COMMON = [
    Task("交易公告", "tenders.portal_page", "搜索招标公告、变更公告和结果公告"),
    Task("我的账户与访问令牌", "accounts.account_page", "查看角色，为 ggzy-bid 等工具创建或吊销 API 令牌"),
    Task("我的证书", "pki.my_certificates_page", "登记 UKey 的签名证书和加密证书"),
]
# What each role can do *now*; later issues add their tasks here as the features land.
TASKS: dict[Role, list[Task]] = {
    Role.BIDDER: [
        Task("报名与下载招标文件", "tenders.portal_page", "在项目页报名后下载招标文件、提问"),
        Task("我的投标与回执", "bidding.my_bids", "查看已上传的投标文件、下载并校验回执"),
        Task("电子保函", "guarantees.my_page", "向出具机构申请电子投标保函，查看核验结果"),
        Task("通知", "tenders.my_notifications", "变更/澄清公告、答疑和终止通知"),
        Task("投标工具 ggzy-bid", "bidding.tool_help", "生成 SM2 密钥，在本机加密封装投标文件并自行校验"),
    ],
    Role.TENDEREE: [
        Task("我的招标项目", "tenders.my_tenders", "编辑草稿、上传招标文件、提交审核、答疑、发布变更"),
        Task("新建招标项目", "tenders.new_tender", "填写项目、标段、评标办法和关键时间"),
    ],
    Role.AGENCY: [
        Task("我的代理项目", "tenders.my_tenders", "编辑草稿、上传招标文件、提交审核、答疑、发布变更"),
        Task("新建招标项目", "tenders.new_tender", "代理招标人创建项目"),
    ],
    Role.STAFF: [
        Task("审核队列", "tenders.review_page", "审核招标公告、变更公告，查看未答复的问题"),
        Task("节假日与招标方式", "tenders.calendar_page", "维护节假日表，查看各招标方式的法定期限"),
        Task("机构名录", "accounts.organisations_page", "查看已登记的企业、招标人、代理机构和出具机构"),
        Task("审计日志", "audit.audit_page", "查看全过程留痕事件并校验哈希链"),
        Task("证书吊销", "pki.revoked_page", "吊销遗失或泄露的 UKey 证书"),
    ],
    Role.EXPERT: [Task("评标邀请与回避申报", "evaluation.expert_page", "答复抽取邀请，更新任职、亲属、董事与持股申报")],
    Role.SUPERVISOR: [
        Task("交易公告", "tenders.portal_page", "查看所有公告与项目"),
        Task("审计日志", "audit.audit_page", "只读查看全过程留痕事件并校验哈希链"),
        Task("机构名录", "accounts.organisations_page", "只读查看机构"),
    ],
    Role.ISSUER: [Task("保函控制台", "guarantees.issuer_console", "查看保函申请、已出保函和索赔（操作经签名接口）")],
    Role.ADMIN: [
        Task("机构管理", "accounts.organisations_page", "登记机构（校验统一社会信用代码）"),
        Task("用户管理", "accounts.users_page", "创建用户并分配角色"),
        Task("审计日志", "audit.audit_page", "查看全过程留痕事件并校验哈希链"),
    ],
}


@bp.get("/")
@requires(Permission.PUBLIC)
def index() -> str:
    user = web.current_user()
    sections: list[tuple[Role, list[Task]]] = []
    if user is not None:
        sections = [(role, TASKS[role]) for role in sorted(user.roles)]
    from trading.tenders import portal

    latest, _ = portal.search(web.db(), portal.PortalQuery(page_size=10))
    return render_template("home.html", sections=sections, common=COMMON, latest=latest)


@bp.get("/healthz")
@requires(Permission.PUBLIC)
def healthz() -> Response:
    return jsonify({"status": "ok", "server_time": clock.now().isoformat()})
