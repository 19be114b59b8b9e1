"""The opening ceremony (开标): one per lot, its bidders, decryption jobs, live events, objections.

Each stage change happens in one function, ``lifecycle.move_ceremony``, driven by its table of
allowed moves; what the database can check about the stages it checks here.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trading.core.db import Base, enum_column


class Stage(StrEnum):
    SCHEDULED = "scheduled"  # before the bid deadline
    SIGN_IN = "sign_in"  # 签到
    BIDDERS = "bidders"  # 公布投标人名单
    DECRYPTING = "decrypting"  # 解密
    READING = "reading"  # 唱标
    CONFIRMING = "confirming"  # 开标记录确认 / 异议
    CLOSED = "closed"  # 开标结束
    FAILED = "failed"  # 流标: fewer bids than the procedure's minimum, nothing opened
    CANCELLED = "cancelled"  # the tender was terminated before the opening

    @property
    def label(self) -> str:
        return STAGE_LABELS[self]


STAGE_LABELS = {
    Stage.SCHEDULED: "待开标",
    Stage.SIGN_IN: "签到",
    Stage.BIDDERS: "公布投标人名单",
    Stage.DECRYPTING: "解密",
    Stage.READING: "唱标",
    Stage.CONFIRMING: "开标记录确认",
    Stage.CLOSED: "开标结束",
    Stage.FAILED: "流标",
    Stage.CANCELLED: "已取消",
}
FINAL_STAGES = frozenset({Stage.CLOSED, Stage.FAILED, Stage.CANCELLED})


class Outcome(StrEnum):
    PENDING = "pending"
    DECRYPTED = "decrypted"
    REVOKED = "revoked"  # 撤销: not decrypted because of the bidder (EB 31)
    WITHDRAWN = "withdrawn"  # 撤回: not decrypted because of the platform (EB 31)

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self]


OUTCOME_LABELS = {
    Outcome.PENDING: "待解密",
    Outcome.DECRYPTED: "解密成功",
    Outcome.REVOKED: "撤销（投标人原因未解密）",
    Outcome.WITHDRAWN: "撤回（平台原因未解密）",
}


class Fault(StrEnum):
    BIDDER = "bidder"
    PLATFORM = "platform"

    @property
    def label(self) -> str:
        return FAULT_LABELS[self]


FAULT_LABELS = {Fault.BIDDER: "投标人原因", Fault.PLATFORM: "平台原因"}


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return JOB_STATE_LABELS[self]


JOB_STATE_LABELS = {
    JobState.QUEUED: "密钥已提交，等待解密",
    JobState.RUNNING: "解密中",
    JobState.DONE: "解密完成",
    JobState.FAILED: "解密失败",
}

#: Why a bid was not decrypted: the codes a decryption attempt or the classification at the end of
#: the window leaves (``CeremonyBidder.outcome_reason``, ``DecryptionJob.error_code``); the bounds
#: of ``signing.bounded_zip`` (``archive_*``) are told by their family (``reason_label``).
WORKER_CRASHED = "worker_crashed"  # a release set aside after its workers died (the platform's fault)
LIFTED = "lifted"  # a decryption event's state: staff let a seat held back release its key again
REASON_LABELS = {
    "not_signed_in": "未签到",
    "no_key_released": "解密时间内未提交密钥",
    "key_unwrap_failed": "提交的密钥无法用开标密钥解开",
    "wrong_key": "提交的密钥不能解密投标文件",
    "envelope_broken": "加密投标文件已损坏",
    "signature_invalid": "投标文件签名无效",
    "price_sheet_invalid": "开标一览表缺失或不符合要求",
    WORKER_CRASHED: "解密进程多次中断",
    "storage_corrupt": "平台存储的投标文件已损坏",
    "storage_error": "平台存储暂时不可用",
    "ceremony_key_unreadable": "开标密钥无法读取",
    "ceremony_key_gone": "开标密钥已销毁",
    "internal_error": "平台内部错误",
}
ARCHIVE_REASON = "投标文件包不符合平台限制"


def reason_label(code: str | None) -> str:
    """A reason code in words ("" for none); an unknown code is shown as itself, never hidden."""
    if not code:
        return ""
    if code in REASON_LABELS:
        return REASON_LABELS[code]
    return ARCHIVE_REASON if code.startswith("archive_") else f"其他原因（{code}）"


class Confirmation(StrEnum):
    SIGNED = "signed"  # the bidder SM2-signed the record's hash
    DEEMED = "deemed"  # silence until the window closed (the tender's rules)

    @property
    def label(self) -> str:
        return CONFIRMATION_LABELS[self]


CONFIRMATION_LABELS = {
    Confirmation.SIGNED: "已电子签名确认",
    Confirmation.DEEMED: "确认时间内未答复，视为确认",
}

#: What the live room's events are (``CeremonyEvent.kind``), as the room's log names them.
EVENT_KIND_LABELS = {
    "stage": "阶段",
    "sign_in": "签到",
    "decryption": "解密",
    "confirmation": "确认",
    "objection": "异议",
    "objection_answer": "答复",
    "chat": "消息",
}


class Ceremony(Base):
    __tablename__ = "ceremony"
    __table_args__ = (
        UniqueConstraint("lot_id", name="uq_ceremony_lot_id"),
        CheckConstraint("paused_at IS NULL OR remaining_seconds IS NOT NULL", name="paused_keeps_remaining"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id"))
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"))
    stage: Mapped[Stage] = mapped_column(enum_column(Stage))
    stage_started_at: Mapped[dt.datetime]
    stage_ends_at: Mapped[dt.datetime | None] = mapped_column(comment="end of the current window; NULL when paused")
    paused_at: Mapped[dt.datetime | None]
    remaining_seconds: Mapped[int | None] = mapped_column(Integer, comment="what was left when paused")
    windows: Mapped[dict[str, int]] = mapped_column(JSON, comment="minutes per stage, from the procedure")
    public_key: Mapped[bytes] = mapped_column(LargeBinary, comment="SM2 point; bidders re-wrap their keys to it")
    private_key: Mapped[bytes | None] = mapped_column(
        LargeBinary,
        comment="PKCS#8 DER wrapped with the platform KEK (SM4-GCM, the ceremony id bound); destroyed at the end",
    )
    key_statement: Mapped[str | None] = mapped_column(Text, comment="platform-signed statement of the public key")
    opened_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    record: Mapped[dict[str, Any] | None] = mapped_column(JSON, comment="the record the bidders confirm")
    record_sm3: Mapped[str | None] = mapped_column(String(64))
    record_statement: Mapped[str | None] = mapped_column(Text, comment="platform-signed statement of the record")
    final_record_sm3: Mapped[str | None] = mapped_column(String(64))
    final_record_statement: Mapped[str | None] = mapped_column(Text)

    bidders: Mapped[list[CeremonyBidder]] = relationship(
        back_populates="ceremony", order_by="CeremonyBidder.id", cascade="all, delete-orphan"
    )

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("ceremony", str(self.id))

    def window(self, stage: Stage) -> dt.timedelta:
        return dt.timedelta(minutes=self.windows.get(stage.value, 0))


class CeremonyBidder(Base):
    """A bidder whose live bid was in the lot at the deadline."""

    __tablename__ = "ceremony_bidder"
    __table_args__ = (UniqueConstraint("ceremony_id", "org_id", name="uq_ceremony_bidder_ceremony_id_org_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ceremony_id: Mapped[int] = mapped_column(ForeignKey("ceremony.id", ondelete="CASCADE"))
    bid_id: Mapped[int] = mapped_column(ForeignKey("bid.id"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    signed_in_at: Mapped[dt.datetime | None]
    sign_in_signature: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[Outcome] = mapped_column(enum_column(Outcome))
    outcome_reason: Mapped[str | None] = mapped_column(String(40), comment="error code behind 撤销/撤回")
    price_sheet: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    plaintext_key: Mapped[str | None] = mapped_column(String(80))
    plaintext_sm3: Mapped[str | None] = mapped_column(String(64))
    decrypted_at: Mapped[dt.datetime | None]
    confirmation: Mapped[Confirmation | None] = mapped_column(enum_column(Confirmation))
    confirmed_at: Mapped[dt.datetime | None]
    confirmation_signature: Mapped[str | None] = mapped_column(Text)
    set_aside_lifted_through: Mapped[int | None] = mapped_column(
        Integer, comment="the last set-aside decryption job before staff let this seat release its key again"
    )

    ceremony: Mapped[Ceremony] = relationship(back_populates="bidders")


class DecryptionJob(Base):
    """One decryption attempt: queued by the bidder's request, run by a worker process."""

    __tablename__ = "decryption_job"
    __table_args__ = (Index("ix_decryption_job_state_id", "state", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ceremony_bidder_id: Mapped[int] = mapped_column(ForeignKey("ceremony_bidder.id", ondelete="CASCADE"))
    state: Mapped[JobState] = mapped_column(enum_column(JobState))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary, comment="the SM4 key, SM2-encrypted to the ceremony")
    signature: Mapped[str] = mapped_column(Text, comment="the bidder's signature over the decryption request")
    created_at: Mapped[dt.datetime]
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    worker: Mapped[str | None] = mapped_column(String(80))
    attempts: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0", comment="times a worker took the job; after three it is set aside"
    )
    fault: Mapped[Fault | None] = mapped_column(enum_column(Fault))
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_detail: Mapped[str | None] = mapped_column(Text)


class Audience(StrEnum):
    PUBLIC = "public"  # everyone in the room, the public view included
    ROOM = "room"  # bidders of the lot, staff, supervisors (not the public)
    STAFF = "staff"  # staff and supervisors
    BIDDER = "bidder"  # one bidder (org_id) and staff


def can_see(audience: str, event_org: int | None, staff: bool, org: int | None) -> bool:
    """Whether a viewer (staff or supervisor; or the bidder ``org``; or the public) sees an event."""
    if staff or audience == Audience.PUBLIC:
        return True
    return org is not None and (audience == Audience.ROOM or (audience == Audience.BIDDER and event_org == org))


class CeremonyEvent(Base):
    """What the live room shows; its id is the SSE event id (resume with Last-Event-ID)."""

    __tablename__ = "ceremony_event"
    __table_args__ = (Index("ix_ceremony_event_ceremony_id_id", "ceremony_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ceremony_id: Mapped[int] = mapped_column(ForeignKey("ceremony.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    audience: Mapped[Audience] = mapped_column(enum_column(Audience))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime]


class Objection(Base):
    """异议 raised in the room; the host answers on the spot (Reg 44); both go into the record."""

    __tablename__ = "ceremony_objection"
    __table_args__ = (CheckConstraint("(answer IS NULL) = (answered_at IS NULL)", name="answer_has_time"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ceremony_id: Mapped[int] = mapped_column(ForeignKey("ceremony.id", ondelete="CASCADE"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    answered_at: Mapped[dt.datetime | None]
