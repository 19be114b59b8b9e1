"""The demo: organisations and users for every role, seeded through the same operations as
real ones. Passwords are random per instance and printed (and kept in instance/demo-accounts.txt)."""

from __future__ import annotations

import pathlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import ActorRef
from trading.accounts import operations as ops
from trading.accounts.credit_code import check_character
from trading.accounts.models import OrgKind, Role, User
from trading.accounts.schemas import OrganisationIn, UserIn

SEED_ACTOR = ActorRef("cli:demo-seed", "admin")
REGION = "350100"  # 福州市

ORGS: list[tuple[str, OrgKind, str]] = [
    ("福州市公共资源交易中心", OrgKind.TRADING_CENTER, "12"),
    ("福州市发展和改革委员会（行政监督）", OrgKind.SUPERVISION, "11"),
    ("福州市城乡建设发展集团有限公司", OrgKind.TENDEREE, "91"),
    ("闽信招标代理有限公司", OrgKind.AGENCY, "91"),
    ("榕城建设工程有限公司", OrgKind.ENTERPRISE, "91"),
    ("海峡路桥集团有限公司", OrgKind.ENTERPRISE, "91"),
    ("闽江水利水电工程有限公司", OrgKind.ENTERPRISE, "91"),
    ("兴业担保有限公司", OrgKind.ISSUER, "91"),
    ("福建工程学院", OrgKind.EMPLOYER, "12"),
    ("厦门市建筑设计院有限公司", OrgKind.EMPLOYER, "91"),
    # a second tenderee: the experts who sat for one tenderee are not drawn for it again within 180
    # days, and the demo's pool is small
    ("福州市鼓楼区市政工程建设中心", OrgKind.TENDEREE, "12"),
    # a bidder on a dishonesty list: the credit check refuses its registration
    ("福州鑫盛建材贸易有限公司", OrgKind.ENTERPRISE, "91"),
]

USERS: list[tuple[str, str, int, Role]] = [
    ("admin", "系统管理员", 0, Role.ADMIN),
    ("staff", "交易中心 王工", 0, Role.STAFF),
    ("supervisor", "监督员 李处", 1, Role.SUPERVISOR),
    ("tenderee", "招标人 陈经理", 2, Role.TENDEREE),
    ("tenderee2", "招标人 刘主任", 10, Role.TENDEREE),
    ("agency", "代理 林工", 3, Role.AGENCY),
    ("bidder1", "榕城建设 张三", 4, Role.BIDDER),
    ("bidder2", "海峡路桥 李四", 5, Role.BIDDER),
    ("bidder3", "闽江水利 王五", 6, Role.BIDDER),
    ("bidder4", "鑫盛建材 赵六", 11, Role.BIDDER),
    ("issuer", "兴业担保 周经理", 7, Role.ISSUER),
    # the pool names them as their accounts do; three in 福州 (the main venue), two in 厦门 (a sub-venue)
    ("expert1", "专家 林海峰", 8, Role.EXPERT),
    ("expert2", "专家 陈雅琴", 8, Role.EXPERT),
    ("expert3", "专家 王建国", 8, Role.EXPERT),
    ("expert4", "专家 郑晓东", 9, Role.EXPERT),
    ("expert5", "专家 黄丽华", 9, Role.EXPERT),
]


def credit_code(prefix2: str, n: int) -> str:
    base = f"{prefix2}{REGION}{n:09d}"
    return base + check_character(base)


def org_credit_code(username: str) -> str:
    """The credit code of the demo organisation that ``username`` works for."""
    index = next(i for u, _, i, _ in USERS if u == username)
    return credit_code(ORGS[index][2], 70_000_000 + index + 1)


def display_name(username: str) -> str:
    return next(d for u, d, _, _ in USERS if u == username)


def seed(session: Session, accounts_file: pathlib.Path) -> list[tuple[str, str, str]]:
    """Create the demo organisations and users once; return (username, password, role label)."""
    if session.scalar(select(User.id).where(User.username == "admin")):
        return read_accounts(accounts_file)
    orgs = []
    for i, (name, kind, prefix) in enumerate(ORGS, start=1):
        orgs.append(
            ops.create_organisation(
                session,
                SEED_ACTOR,
                OrganisationIn(name=name, credit_code=credit_code(prefix, 70_000_000 + i), kind=kind, region=REGION),
            )
        )
    accounts = []
    for username, display, org_index, role in USERS:
        password = secrets.token_urlsafe(9)
        ops.create_user(
            session,
            SEED_ACTOR,
            UserIn(
                username=username,
                display_name=display,
                password=password,
                organisation_id=orgs[org_index].id,
                roles=[role],
            ),
        )
        accounts.append((username, password, role.label))
    accounts_file.parent.mkdir(parents=True, exist_ok=True)
    accounts_file.write_text("".join(f"{u}\t{p}\t{r}\n" for u, p, r in accounts), encoding="utf-8")
    accounts_file.chmod(0o600)
    return accounts


def read_accounts(path: pathlib.Path) -> list[tuple[str, str, str]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        u, p, r = line.split("\t")
        rows.append((u, p, r))
    return rows
