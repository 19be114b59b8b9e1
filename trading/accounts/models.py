"""Organisations, users, roles, sessions and login attempts."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trading.core.db import Base, enum_column


class Role(StrEnum):
    BIDDER = "bidder"
    TENDEREE = "tenderee"
    AGENCY = "agency"
    STAFF = "staff"
    EXPERT = "expert"
    SUPERVISOR = "supervisor"
    ISSUER = "issuer"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.BIDDER: "投标人",
    Role.TENDEREE: "招标人",
    Role.AGENCY: "招标代理机构",
    Role.STAFF: "交易中心工作人员",
    Role.EXPERT: "评标专家",
    Role.SUPERVISOR: "行政监督人员",
    Role.ISSUER: "保函出具机构",
    Role.ADMIN: "系统管理员",
}


class OrgKind(StrEnum):
    ENTERPRISE = "enterprise"  # bidders
    TENDEREE = "tenderee"
    AGENCY = "agency"
    ISSUER = "issuer"
    TRADING_CENTER = "trading_center"
    SUPERVISION = "supervision"
    EMPLOYER = "employer"  # experts' employers

    @property
    def label(self) -> str:
        return ORG_KIND_LABELS[self]


ORG_KIND_LABELS = {
    OrgKind.ENTERPRISE: "企业（投标人）",
    OrgKind.TENDEREE: "招标人",
    OrgKind.AGENCY: "招标代理机构",
    OrgKind.ISSUER: "保函出具机构",
    OrgKind.TRADING_CENTER: "公共资源交易中心",
    OrgKind.SUPERVISION: "行政监督部门",
    OrgKind.EMPLOYER: "专家工作单位",
}

# Which roles a member of each kind of organisation may hold.
ROLES_BY_KIND: dict[OrgKind, frozenset[Role]] = {
    OrgKind.ENTERPRISE: frozenset({Role.BIDDER}),
    OrgKind.TENDEREE: frozenset({Role.TENDEREE}),
    OrgKind.AGENCY: frozenset({Role.AGENCY}),
    OrgKind.ISSUER: frozenset({Role.ISSUER}),
    OrgKind.TRADING_CENTER: frozenset({Role.STAFF, Role.ADMIN}),
    OrgKind.SUPERVISION: frozenset({Role.SUPERVISOR}),
    OrgKind.EMPLOYER: frozenset({Role.EXPERT}),
}


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True, comment="统一社会信用代码, GB 32100")
    kind: Mapped[OrgKind] = mapped_column(enum_column(OrgKind, 20, checked=False))
    region: Mapped[str] = mapped_column(String(6), comment="行政区划代码 (GB/T 2260)")
    legal_representative: Mapped[str] = mapped_column(String(50), default="", server_default="", comment="法定代表人")
    created_at: Mapped[dt.datetime]

    users: Mapped[list[User]] = relationship(back_populates="organisation")

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("organisation", str(self.id))


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200), comment="argon2id")
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime]

    organisation: Mapped[Organisation | None] = relationship(back_populates="users")
    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(r.role for r in self.role_rows)

    @property
    def actor_id(self) -> str:
        return f"user:{self.id}"

    @property
    def actor_role(self) -> str:
        return ",".join(sorted(r.value for r in self.roles))

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("user", str(self.id))


class UserRole(Base):
    __tablename__ = "user_role"
    __table_args__ = (UniqueConstraint("user_id", "role", name="uq_user_role_user_id_role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    role: Mapped[Role] = mapped_column(enum_column(Role, 20, checked=False))
    user: Mapped[User] = relationship(back_populates="role_rows")


class SessionKind(StrEnum):
    WEB = "web"
    API = "api"


class AuthSession(Base):
    """A server-side login: a page session (cookie) or an API bearer token. Only the SM3 of the
    secret is stored, so a database dump does not hand out logins."""

    __tablename__ = "auth_session"
    __table_args__ = (
        CheckConstraint("expires_at > created_at", name="expires_after_created"),
        Index("ix_auth_session_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sm3: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[SessionKind] = mapped_column(enum_column(SessionKind, 10, checked=False))
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(lazy="joined")

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("auth_session", str(self.id))


PASSWORD_ATTEMPT = "password"
CHALLENGE_ATTEMPT = "challenge"


class LoginAttempt(Base):
    """Password logins, failed and successful, and UKey challenges asked for: what the throttles
    count (rows in the database, so every app process counts the same)."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_username_at", "username", "at"),
        Index("ix_login_attempt_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime]
    success: Mapped[bool] = mapped_column(Boolean)
    kind: Mapped[str] = mapped_column(
        String(10), default=PASSWORD_ATTEMPT, server_default=PASSWORD_ATTEMPT, comment="password or challenge"
    )
