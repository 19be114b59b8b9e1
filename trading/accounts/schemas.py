from __future__ import annotations

from pydantic import Field, field_validator

from trading.accounts.credit_code import credit_code_problem, normalise
from trading.accounts.models import OrgKind, Role
from trading.core.schemas import Schema


class OrganisationIn(Schema):
    name: str = Field(min_length=2, max_length=200)
    credit_code: str
    kind: OrgKind
    region: str = Field(pattern=r"^\d{6}$")

    @field_validator("credit_code")
    @classmethod
    def _code(cls, v: str) -> str:
        v = normalise(v)
        problem = credit_code_problem(v)
        if problem:
            raise ValueError(problem)
        return v


class UserIn(Schema):
    username: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{2,63}$")
    display_name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=10, max_length=200)
    organisation_id: int | None = None
    roles: list[Role] = Field(min_length=1)


class LoginIn(Schema):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)
    name: str = Field(default="", max_length=100)


class LoginPageIn(Schema):
    """The login page's form: ``next`` is where to go afterwards (checked by web.same_site_path)."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)
    next: str = Field(default="", max_length=2048)
