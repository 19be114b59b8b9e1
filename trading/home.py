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


COMMON = [Task("我的账户与访问令牌", "accounts.account_page", "查看角色，为 ggzy-bid 等工具创建或吊销 API 令牌")]
# What each role can do *now*; later issues add their tasks here as the features land.
TASKS: dict[Role, list[Task]] = {
    Role.BIDDER: [Task("投标工具 ggzy-bid", "bidding.tool_help", "生成 SM2 密钥，在本机加密封装投标文件并自行校验")],
    Role.TENDEREE: [],
    Role.AGENCY: [],
    Role.STAFF: [
        Task("机构名录", "accounts.organisations_page", "查看已登记的企业、招标人、代理机构和出具机构"),
        Task("审计日志", "audit.audit_page", "查看全过程留痕事件并校验哈希链"),
        Task("证书吊销", "pki.revoked_page", "吊销遗失或泄露的 UKey 证书"),
    ],
    Role.EXPERT: [],
    Role.SUPERVISOR: [
        Task("审计日志", "audit.audit_page", "只读查看全过程留痕事件并校验哈希链"),
        Task("机构名录", "accounts.organisations_page", "只读查看机构"),
    ],
    Role.ISSUER: [],
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
    return render_template("home.html", sections=sections, common=COMMON)


@bp.get("/healthz")
@requires(Permission.PUBLIC)
def healthz() -> Response:
    return jsonify({"status": "ok", "server_time": clock.now().isoformat()})
