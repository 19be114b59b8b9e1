"""Procedure types and holidays: reading them, and staff editing the holiday calendar."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import Actor, record_event
from trading.core.errors import InvalidInput, NotFound
from trading.procedures.calendar import Overrides
from trading.procedures.models import Holiday, ProcedureType


def get_procedure(session: Session, code: str) -> ProcedureType:
    proc = session.get(ProcedureType, code)
    if proc is None:
        raise InvalidInput(f"未知的招标方式 {code}", fields={"procedure_code": "不存在"})
    return proc


def list_procedures(session: Session) -> list[ProcedureType]:
    return list(session.scalars(select(ProcedureType).order_by(ProcedureType.code)))


def list_holidays(session: Session) -> list[Holiday]:
    return list(session.scalars(select(Holiday).order_by(Holiday.day)))


def overrides(session: Session) -> Overrides:
    return {h.day: h.is_workday for h in session.scalars(select(Holiday))}


def set_holiday(session: Session, actor: Actor, day: dt.date, is_workday: bool, name: str) -> Holiday:
    name = name.strip()
    if not 1 <= len(name) <= 50:
        raise InvalidInput("请填写节假日名称", fields={"name": "必填"})
    h = session.get(Holiday, day)
    if h is None:
        h = Holiday(day=day, is_workday=is_workday, name=name)
        session.add(h)
    else:
        h.is_workday, h.name = is_workday, name
    session.flush()
    record_event(session, actor, "holiday.set", ("holiday", day.isoformat()), {"is_workday": is_workday, "name": name})
    return h


def delete_holiday(session: Session, actor: Actor, day: dt.date) -> None:
    h = session.get(Holiday, day)
    if h is None:
        raise NotFound(f"{day} 不在节假日表中")
    session.delete(h)
    session.flush()
    record_event(session, actor, "holiday.delete", ("holiday", day.isoformat()), {})
