"""One permission mechanism for every route.

Permissions are named ``scope:resource:action``. A view declares its rule with
``@requires(...)`` where the route is declared; the app checks it before the view runs and
refuses any endpoint that has no rule at all (fail closed). ``tests/trading/test_routes.py``
walks every registered route and fails if one lacks an explicit rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any, TypeVar

from trading.accounts.models import Role, User

F = TypeVar("F", bound=Callable[..., Any])
ATTR = "__ggzy_permission__"


class Permission(StrEnum):
    PUBLIC = "public"  # anyone, logged in or not
    AUTHENTICATED = "account:self:read"  # any logged-in user
    ACCOUNT_TOKENS = "account:token:manage"
    ORGANISATION_READ = "admin:organisation:read"
    ORGANISATION_MANAGE = "admin:organisation:manage"
    USER_MANAGE = "admin:user:manage"
    AUDIT_READ = "audit:event:read"
    CERTIFICATE_REVOKE = "pki:certificate:revoke"
    CERTIFICATE_REGISTER = "pki:certificate:register"
    TENDER_MANAGE = "tender:tender:manage"  # tenderee / agency, on their own tenders
    TENDER_REVIEW = "tender:tender:review"  # staff: review, publish, suspend
    TENDER_READ_ALL = "tender:tender:read"  # staff and supervisors: every tender, any state
    TENDER_PARTICIPATE = "tender:interest:register"  # bidders: register, download, ask
    CALENDAR_MANAGE = "tender:calendar:manage"
    CEREMONY_HOST = "opening:ceremony:host"  # staff: run the opening ceremony
    ARCHIVE_READ = "archive:package:read"  # staff and supervisors: packages, verification, download
    ARCHIVE_HOLD = "archive:package:hold"  # staff: legal hold
    EXPERT_MANAGE = "evaluation:expert:manage"  # staff: the expert pool and committee draws
    EXPERT_SELF = "evaluation:expert:self"  # experts: their own declarations and invitations
    #: staff, experts, tenderees (whose representatives sit on committees) and supervisors (who watch);
    #: the room's rules decide who does what: a seat, the leader's, or staff's
    EVALUATION_ROOM = "evaluation:room:act"
    GUARANTEE_READ = "guarantee:lot:read"  # staff and supervisors: a lot's guarantees, once it is opened
    GUARANTEE_CONSOLE = "guarantee:order:read"  # issuers' users: their organisation's orders and claims
    #: Issuers' API clients: no session or token; the view checks the message's SM2 signature
    #: (trading/guarantees/issuer_api.py) before anything else.
    ISSUER_SIGNED = "guarantee:issuer:signed"
    #: staff and supervisors: the live monitor, the time-limit warnings, the statistics, every complaint
    SUPERVISION_READ = "supervision:monitor:read"
    SUPERVISION_RULES = "supervision:rule:manage"  # supervisors: edit the time-limit rules (versioned)
    COMPLAINT_HANDLE = "supervision:complaint:handle"  # supervisors: accept, suspend, ask, decide
    COMPLAINT_FILE = "supervision:complaint:file"  # bidders (interested parties): file a complaint
    CREDIT_READ = "credit:entry:read"  # staff and supervisors: the register, checks and proposals
    #: staff (and a credit system's API token of a staff account): import, push, revoke, decide proposals
    CREDIT_MANAGE = "credit:entry:manage"
    SIGNALS_READ = "signals:lot:read"  # staff and supervisors: every opened lot's collusion signals
    EXPERT_RATE = "signals:expert:rate"  # staff and tenderees: 标后评价 of the experts who sat
    SERVICE_RATE = "signals:service:rate"  # bidders and tenderees: 好差评 of the services they had
    SERVICE_ANSWER = "signals:service:answer"  # staff: answer a bad rating (差评整改)
    #: staff: set up lots (标的), review registrations, confirm and refund deposits, run and pause rooms
    AUCTION_MANAGE = "auction:lot:manage"
    #: staff and supervisors: every lot, its registrations and deposits, who holds which bidding number
    AUCTION_READ = "auction:lot:read"
    AUCTION_BUY = "auction:lot:buy"  # bidders (竞买人): register, pay the deposit, bid


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(
        {
            Permission.ORGANISATION_READ,
            Permission.ORGANISATION_MANAGE,
            Permission.USER_MANAGE,
            Permission.AUDIT_READ,
            Permission.CERTIFICATE_REVOKE,
            Permission.TENDER_READ_ALL,
        }
    ),
    Role.STAFF: frozenset(
        {
            Permission.ORGANISATION_READ,
            Permission.AUDIT_READ,
            Permission.CERTIFICATE_REVOKE,
            Permission.TENDER_REVIEW,
            Permission.TENDER_READ_ALL,
            Permission.CALENDAR_MANAGE,
            Permission.CEREMONY_HOST,
            Permission.ARCHIVE_READ,
            Permission.ARCHIVE_HOLD,
            Permission.GUARANTEE_READ,
            Permission.EXPERT_MANAGE,
            Permission.EVALUATION_ROOM,
            Permission.SUPERVISION_READ,
            Permission.CREDIT_READ,
            Permission.CREDIT_MANAGE,
            Permission.SIGNALS_READ,
            Permission.EXPERT_RATE,
            Permission.SERVICE_ANSWER,
            Permission.AUCTION_MANAGE,
            Permission.AUCTION_READ,
        }
    ),
    Role.SUPERVISOR: frozenset(
        {
            Permission.ORGANISATION_READ,
            Permission.AUDIT_READ,
            Permission.TENDER_READ_ALL,
            Permission.ARCHIVE_READ,
            Permission.GUARANTEE_READ,
            Permission.SUPERVISION_READ,
            # to watch any evaluation room read-only: each of the room's acts asks for a seat or staff
            Permission.EVALUATION_ROOM,
            Permission.SUPERVISION_RULES,
            Permission.COMPLAINT_HANDLE,
            Permission.CREDIT_READ,
            Permission.SIGNALS_READ,
            Permission.AUCTION_READ,
        }
    ),
    Role.BIDDER: frozenset(
        {Permission.TENDER_PARTICIPATE, Permission.COMPLAINT_FILE, Permission.SERVICE_RATE, Permission.AUCTION_BUY}
    ),
    Role.TENDEREE: frozenset(
        {Permission.TENDER_MANAGE, Permission.EVALUATION_ROOM, Permission.EXPERT_RATE, Permission.SERVICE_RATE}
    ),
    Role.AGENCY: frozenset({Permission.TENDER_MANAGE}),
    Role.EXPERT: frozenset({Permission.EXPERT_SELF, Permission.EVALUATION_ROOM}),
    Role.ISSUER: frozenset({Permission.GUARANTEE_CONSOLE, Permission.ISSUER_SIGNED}),
}
EVERY_USER = frozenset({Permission.AUTHENTICATED, Permission.ACCOUNT_TOKENS, Permission.CERTIFICATE_REGISTER})


def permissions_of(roles: Iterable[Role]) -> frozenset[Permission]:
    out = set(EVERY_USER)
    for role in roles:
        out |= ROLE_PERMISSIONS[role]
    return frozenset(out)


def has(user: User | None, permission: Permission) -> bool:
    """Whether ``user`` holds ``permission`` through its roles (nobody, when logged out).

    The one check for a user object: code asks for a permission, never for a set of roles, so
    that ``ROLE_PERMISSIONS`` alone says who may do what."""
    return user is not None and permission in permissions_of(user.roles)


def requires(permission: Permission) -> Callable[[F], F]:
    """Declare the permission a view needs (exactly one; PUBLIC for open routes)."""

    def mark(view: F) -> F:
        setattr(view, ATTR, permission)
        return view

    return mark


def rule_of(view: Any) -> Permission | None:
    return getattr(view, ATTR, None)


def routes_without_rule(app: Any) -> list[str]:
    """Endpoints of ``app`` whose view declares no permission (should be empty)."""
    explicit: dict[str, Permission] = app.extensions.get("ggzy.endpoint_rules", {})
    missing = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        if rule.endpoint not in explicit and rule_of(view) is None:
            missing.append(f"{rule.rule} ({rule.endpoint})")
    return sorted(missing)


def endpoint_rule(app: Any, endpoint: str | None) -> Permission | None:
    if endpoint is None:
        return None
    explicit: dict[str, Permission] = app.extensions.get("ggzy.endpoint_rules", {})
    if endpoint in explicit:
        return explicit[endpoint]
    return rule_of(app.view_functions.get(endpoint))
