"""The public portal's pages: the home page (for visitors, what the platform is; for each role, what
it can do now), the search of published announcements and its Atom feed, and /healthz."""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue

from archive import clock
from archive.objectstore import ObjectStore, ObjectStoreError
from archive.objectstore.base import key_for
from archive.objectstore.local import LocalObjectStore
from archive.objectstore.s3 import S3ObjectStore
from trading.accounts import web
from trading.accounts.models import Role, User
from trading.accounts.permissions import Permission, requires
from trading.accounts.web import STORAGE_UNAVAILABLE
from trading.core.db import Database
from trading.core.errors import DomainError
from trading.core.services import services
from trading.portal.search import PortalQuery, atom, portal_query, search, search_choices

log = logging.getLogger("ggzy.health")
bp = Blueprint("home", __name__)
#: the announcements' search and feed (``portal_api`` is their JSON)
pages = Blueprint("portal", __name__, template_folder="templates")


@dataclass(frozen=True)
class NavLink:
    title: str
    endpoint: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Task:
    title: str
    endpoint: str
    description: str


COMMON = [
    Task("交易公告", "portal.search_page", "搜索招标公告、变更公告和结果公告"),
    Task("我的账户与访问令牌", "accounts.account_page", "查看角色，为 ggzy-bid 等工具创建或吊销 API 令牌"),
    Task("我的证书", "pki.my_certificates_page", "登记 UKey 的签名证书和加密证书"),
]
# What each role can do *now*; later issues add their tasks here as the features land.
TASKS: dict[Role, list[Task]] = {
    Role.BIDDER: [
        Task("报名与下载招标文件", "portal.search_page", "在项目页报名后下载招标文件、提问"),
        Task("我的投标与回执", "bidding.my_bids", "查看已上传的投标文件、下载并校验回执"),
        Task("电子保函", "guarantees.my_page", "向出具机构申请电子投标保函，查看核验结果"),
        Task("产权交易", "auctions.list_page", "土地、国有产权等标的：申请竞买、缴纳保证金、进入竞价室出价"),
        Task("通知", "tenders.my_notifications", "变更/澄清公告、答疑和终止通知"),
        Task("评标澄清", "evaluation_room.clarifications_page", "答复评标委员会要求的澄清（限时）"),
        Task("投标工具 ggzy-bid", "bidding.tool_help", "生成 SM2 密钥，在本机加密封装投标文件并自行校验"),
        Task("投诉", "complaints.list_page", "异议答复不满意时向行政监督部门投诉，跟踪受理、调查与处理决定"),
        Task(
            "我的服务评价", "ratings.mine_page", "对参与过的开标、投诉处理等服务评价（好差评），差评由交易中心限时答复"
        ),
    ],
    Role.TENDEREE: [
        Task("我的招标项目", "tenders.my_tenders", "编辑草稿、上传招标文件、提交审核、答疑、发布变更"),
        Task("新建招标项目", "tenders.new_tender", "填写项目、标段、评标办法和关键时间"),
        Task("通知", "tenders.my_notifications", "时限预警（黄灯、红灯）、投诉处理和书面说明要求等通知"),
        Task("投诉与说明", "complaints.list_page", "行政监督部门要求本单位书面说明的投诉：查看并提交说明"),
        Task("我的服务评价", "ratings.mine_page", "评价公告审核、开标、评标等服务（好差评），并在评标后评价专家"),
    ],
    Role.AGENCY: [
        Task("我的代理项目", "tenders.my_tenders", "编辑草稿、上传招标文件、提交审核、答疑、发布变更"),
        Task("新建招标项目", "tenders.new_tender", "代理招标人创建项目"),
        Task("通知", "tenders.my_notifications", "时限预警（黄灯、红灯）、投诉处理和书面说明要求等通知"),
        Task("投诉与说明", "complaints.list_page", "行政监督部门要求本单位书面说明的投诉：查看并提交说明"),
    ],
    Role.STAFF: [
        Task("审核队列", "tenders.review_page", "审核招标公告、变更公告，查看未答复的问题"),
        Task("节假日与招标方式", "procedures.calendar_page", "维护节假日表，查看各招标方式的法定期限"),
        Task("机构名录", "accounts.organisations_page", "查看已登记的企业、招标人、代理机构和出具机构"),
        Task("审计日志", "audit.audit_page", "查看全过程留痕事件并校验哈希链"),
        Task("电子档案", "archives.list_page", "已结束标段和产权交易标的的档案包：校验、下载、法律保全"),
        Task(
            "产权交易标的",
            "auctions.manage_page",
            "设立拍卖、挂牌、网络竞价标的：上传文件、发布（底价只公开承诺）、审核竞买申请、确认保证金、主持竞价",
        ),
        Task("新建标的", "auctions.new_page", "填写起始价、加价幅度、保证金和时间安排"),
        Task("证书吊销", "pki.revoked_page", "吊销遗失或泄露的 UKey 证书"),
        Task("数据交换", "exchange.list_page", "向上级平台推送的全国公共资源交易数据：已推送、待推送、被拒收"),
        Task("时限预警", "supervision.warnings_list", "各监督点的计时：黄灯预警、红灯超期（含本中心的审核时限）"),
        Task("实时监控", "monitor.monitor_page", "今日及即将进行的开标、评标，各自的倒计时与时限预警"),
        Task("交易统计", "statistics.statistics_page", "按行业、方式、地区、月份统计交易量、金额与节资率"),
        Task("信用记录", "credit.list_page", "失信被执行人等信用名单：导入、查询、撤销；报名与评标时的信用查询结果"),
        Task("平台信用事件", "credit.proposals_page", "开标未解密、拒签合同等平台记录的行为：确认或驳回（不自动处罚）"),
        Task("串标迹象", "signals.signal_list", "开标后计算的串标迹象及其证据、评标委员会的审议记录"),
        Task("差评答复", "ratings.answers_page", "服务好差评中的差评：在时限内核实答复"),
        Task("通知", "tenders.my_notifications", "时限预警和投诉处理的通知"),
    ],
    Role.EXPERT: [Task("评标邀请与回避申报", "evaluation.expert_page", "答复抽取邀请，更新任职、亲属、董事与持股申报")],
    Role.SUPERVISOR: [
        Task("实时监控", "monitor.monitor_page", "今日及即将进行的开标、评标，各自的倒计时与时限预警"),
        Task("时限预警", "supervision.warnings_list", "黄灯预警、红灯追责：每个预警附法律依据和可核验的事件"),
        Task("投诉处理", "complaints.list_page", "受理或不予受理、暂停、要求说明、作出处理决定"),
        Task("交易统计", "statistics.statistics_page", "按行业、方式、地区、月份统计交易量、金额与节资率"),
        Task("监督规则", "supervision.rules_list", "时限规则：法律依据、起止事件、期限与预警阈值（可修订）"),
        Task("串标迹象", "signals.signal_list", "开标后计算的串标迹象及其证据、评标委员会的审议记录"),
        Task("信用记录", "credit.list_page", "只读查看信用记录、信用查询快照和平台信用事件"),
        Task("通知", "tenders.my_notifications", "时限预警（黄灯、红灯）和投诉的通知"),
        Task("交易公告", "portal.search_page", "查看所有公告与项目"),
        Task("审计日志", "audit.audit_page", "只读查看全过程留痕事件并校验哈希链"),
        Task("电子档案", "archives.list_page", "查看并校验已结束标段和产权交易标的的档案包"),
        Task(
            "产权交易标的", "auctions.manage_page", "只读查看全部标的、竞买申请与保证金、竞价室（含号牌对应的竞买人）"
        ),
        Task("机构名录", "accounts.organisations_page", "只读查看机构"),
        Task("数据交换", "exchange.list_page", "只读查看向上级平台推送的交易数据及其核验结果"),
    ],
    Role.ISSUER: [Task("保函控制台", "guarantees.issuer_console", "查看保函申请、已出保函和索赔（操作经签名接口）")],
    Role.ADMIN: [
        Task("机构管理", "accounts.organisations_page", "登记机构（校验统一社会信用代码）"),
        Task("用户管理", "accounts.users_page", "创建用户并分配角色"),
        Task("审计日志", "audit.audit_page", "查看全过程留痕事件并校验哈希链"),
    ],
}


#: the public header's links, for everyone (交易公告、开标大厅、结果公示 as a trading center's portal has them)
PUBLIC_NAV = [
    NavLink("交易公告", "portal.search_page", {}),
    NavLink("开标大厅", "opening.hall", {}),
    NavLink("产权交易", "auctions.list_page", {}),
    NavLink("结果公示", "portal.search_page", {"kind": "result"}),
]
#: for visitors, who may be bidders to be; a signed-in bidder has it among its tasks, and other
#: roles have no use for a page that leads to bidders' pages
VISITOR_NAV = [NavLink("投标工具", "bidding.tool_help", {})]


#: the footer's links, for everyone: what the platform publishes for others to read
FOOTER_LINKS = [
    ("开放数据", "opendata.index"),
    ("服务评价", "ratings.public_page"),
    ("接口文档", "apidocs.reference_page"),
]


def footer_links() -> list[tuple[str, str]]:
    return [(title, endpoint) for title, endpoint in FOOTER_LINKS if endpoint in current_app.view_functions]


def navigation(user: User | None, endpoint: str | None, args: Mapping[str, str]) -> list[dict[str, object]]:
    """The header's links for ``user``: the public ones, then each of the user's roles' tasks once,
    in role order. ``current`` marks the page being shown (by endpoint and, for a filtered list, its
    arguments)."""
    links = list(PUBLIC_NAV)
    if user is None:
        links += VISITOR_NAV
    else:
        seen = {(link.endpoint, tuple(sorted(link.args.items()))) for link in links}
        for role in sorted(user.roles):
            for task in TASKS[role]:
                key = (task.endpoint, ())
                if key not in seen:
                    seen.add(key)
                    links.append(NavLink(task.title, task.endpoint, {}))
    links = [link for link in links if link.endpoint in current_app.view_functions]
    matches = [
        link for link in links if link.endpoint == endpoint and all(args.get(k) == v for k, v in link.args.items())
    ]
    if any(link.args for link in matches):
        matches = [link for link in matches if link.args]  # a filtered list is shown: not the whole one
    return [
        {"title": link.title, "url": url_for(link.endpoint, **link.args), "current": link in matches} for link in links
    ]


@bp.get("/favicon.ico")
@requires(Permission.PUBLIC)
def favicon() -> Response:
    """Browsers ask for /favicon.ico on every site whatever the page links; answer with the icon."""
    return current_app.send_static_file("favicon.svg")


@bp.get("/")
@requires(Permission.PUBLIC)
def index() -> str:
    user = web.current_user()
    sections: list[tuple[Role, list[Task]]] = []
    if user is not None:
        sections = [(role, TASKS[role]) for role in sorted(user.roles)]
    latest, _ = search(web.db(), PortalQuery(page_size=10))
    return render_template("portal/home.html", sections=sections, common=COMMON, latest=latest)


@pages.get("/portal")
@requires(Permission.PUBLIC)
def search_page() -> ResponseReturnValue:
    labels = search_choices()
    try:
        pq = portal_query(request.args)
    except DomainError as exc:
        return render_template(
            "portal/search.html", rows=[], more=False, pq=None, args=request.args, error=exc.message, **labels
        ), 422
    rows, more = search(web.db(), pq)
    return render_template("portal/search.html", rows=rows, more=more, pq=pq, args=request.args, error="", **labels)


@pages.get("/feed.atom")
@requires(Permission.PUBLIC)
def feed() -> Response:
    rows, _ = search(web.db(), PortalQuery(page_size=50))
    # Atom's feed-level <updated> is the newest entry's time (stable while nothing new is published).
    newest = max((a.published_at for a, _ in rows if a.published_at), default=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    body = atom(rows, request.host_url.rstrip("/"), newest.isoformat())
    return Response(body, mimetype="application/atom+xml")


#: how long /healthz waits for each check; a probe still running after it counts as down
PROBE_DEADLINE = 2.0


class Lane:
    """One probe at a time for one target, on a daemon thread of its own. While a probe of the
    target is still running (a store that accepted the connection and never answers) no second one
    is started: /healthz reports the target ``timeout`` at once instead of queueing behind it, so a
    hung store never delays another target's probe nor piles up threads."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._running: Future[None] | None = None

    def start(self, fn: Callable[[], object]) -> Future[None] | None:
        """The future of a new probe, or None when the previous one has not finished yet."""
        with self._lock:
            if self._running is not None and not self._running.done():
                return None
            future: Future[None] = Future()
            self._running = future

        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # handed to the waiting request, which logs it
                future.set_exception(exc)
            else:
                future.set_result(None)

        threading.Thread(target=run, name=f"ggzy-health-{self.name}", daemon=True).start()
        return future


def lanes(app: Flask) -> dict[str, Lane]:
    """This app's lanes, one per target (per app: two apps in one process probe different stores)."""
    with _lanes_lock:
        found: dict[str, Lane] | None = app.extensions.get("ggzy.health-lanes")
        if found is None:
            found = {name: Lane(name) for name in ("database", "objects", "archive")}
            app.extensions["ggzy.health-lanes"] = found
        return found


_lanes_lock = threading.Lock()


def probe_store(store: ObjectStore) -> None:
    """Raise unless ``store`` can take writes now: a filesystem store writes and deletes a file in
    the folder every upload starts in; an S3 store asks for its bucket (HEAD)."""
    if isinstance(store, LocalObjectStore):
        with tempfile.NamedTemporaryFile(dir=store.root / "tmp", prefix="healthz-") as f:
            f.write(b"ok")
            f.flush()
    elif isinstance(store, S3ObjectStore):
        if not store.client.bucket_exists(store.bucket):
            raise ObjectStoreError(f"bucket {store.bucket} is missing")
    else:
        store.stat(key_for("0" * 64))


def probe_database(database: Database) -> None:
    """A round trip on a connection of the pool, outside any transaction of ours: on SQLite a
    SQLAlchemy transaction begins IMMEDIATE and would wait for the writer of the moment."""
    conn = database.engine.raw_connection()
    try:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        cur.fetchall()
        cur.close()
    finally:
        conn.close()


def _outcome(label: str, future: Future[None] | None, deadline: float) -> dict[str, object]:
    # No timings in the answer: /healthz is public, and its body must not vary with what the
    # platform holds (tests/trading/tenders/test_secrecy.py compares it across bidder counts).
    try:
        if future is None:
            raise FutureTimeout
        future.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        log.error("health: %s did not answer within %.1f s", label, PROBE_DEADLINE)
        return {"ok": False, "error": "timeout"}
    except Exception as exc:  # any failure of the probe is the answer, and is logged in full
        log.error("health: %s failed: %s", label, exc, exc_info=exc)
        return {"ok": False, "error": "unavailable"}
    return {"ok": True}


@bp.get("/healthz")
@requires(Permission.PUBLIC)
def healthz() -> tuple[Response, int]:
    """The database and both object stores, probed side by side within PROBE_DEADLINE seconds: 200 when all
    answer, otherwise a named 503 (``storage_unavailable`` or ``database_unavailable``) that a load
    balancer takes the instance out of rotation on."""
    svc = services(current_app)
    database: Database = current_app.extensions["ggzy.db"]
    own = lanes(current_app)
    # All three start at once and share one deadline: the whole answer takes ~PROBE_DEADLINE at most.
    deadline = time.monotonic() + PROBE_DEADLINE
    started = {
        "database": ("database", own["database"].start(lambda: probe_database(database))),
        "objects": ("object store", own["objects"].start(lambda: probe_store(svc.store))),
        "archive": ("archive store", own["archive"].start(lambda: probe_store(svc.archive_store))),
    }
    checks = {key: _outcome(label, future, deadline) for key, (label, future) in started.items()}
    body: dict[str, object] = {"status": "ok", "server_time": clock.now().isoformat(), "checks": checks}
    if not checks["database"]["ok"]:
        body |= {"status": "unavailable", "error": {"code": "database_unavailable", "message": "数据库暂不可用"}}
    elif not (checks["objects"]["ok"] and checks["archive"]["ok"]):
        body |= {"status": "unavailable", "error": {"code": "storage_unavailable", "message": STORAGE_UNAVAILABLE}}
    return jsonify(body), 200 if body["status"] == "ok" else 503
