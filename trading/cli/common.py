"""What the ``ggzy`` commands share: the settings, the operator as an actor, and our errors told by name.

Only light modules are imported here at the top: every command module imports this one, and
``ggzy --help`` imports every command module. The database, the app and the stages are imported
inside the commands that use them.
"""

from __future__ import annotations

import contextlib
import getpass
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from trading.accounts.passwords import passwords
from trading.core.config import ConfigError, Settings, load_settings
from trading.core.errors import DomainError

if TYPE_CHECKING:
    from archive.audit import ActorRef


def settings() -> Settings:
    """The deployment's settings; they also set the password hash's cost, as ``create_app`` does,
    for the commands that make accounts without an app (``ggzy users create``, the demo's seed)."""
    try:
        found = load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    passwords.configure(found.argon2_memory_kib, found.argon2_time_cost)
    return found


def cli_actor() -> ActorRef:
    """The operator at the terminal, as the audit trail names it."""
    from archive.audit import ActorRef  # the audit trail loads SQLAlchemy: not for ``ggzy --help``

    return ActorRef(f"cli:{getpass.getuser()}", "admin")


@contextlib.contextmanager
def domain_errors() -> Iterator[None]:
    """A rule's refusal ends the command with its message and the fields it names."""
    try:
        yield
    except DomainError as exc:
        details = "".join(f"\n  {k}: {v}" for k, v in exc.fields.items())
        raise click.ClickException(exc.message + details) from exc


def parse(model: Any, data: dict[str, Any]) -> Any:
    from trading.core.schemas import parse as parse_schema  # pydantic: not for ``ggzy --help``

    return parse_schema(model, data)


def safe_url(url: str) -> str:
    """The database URL without its password, to print."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
