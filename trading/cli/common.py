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
    from pydantic import BaseModel

    from archive.audit import ActorRef
    from trading.core.db import Database


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


def database(s: Settings) -> Database:
    """The deployment's database with every model loaded: a command that reads one stage's rows
    flushes through foreign keys to tables of stages it never imported (an archive package names
    its ceremony), which SQLAlchemy can resolve only when their modules are loaded."""
    import trading.models  # noqa: F401  (every model module: the metadata is complete)
    from trading.core.db import Database

    db = Database.of(s)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:  # its connections close with the command (run in process, as tests do)
        ctx.call_on_close(db.engine.dispose)
    return db


@contextlib.contextmanager
def domain_errors(model: type[BaseModel] | None = None) -> Iterator[None]:
    """A rule's refusal ends the command with its message and each field it names, by the name the
    schema (``model``, the one the command's input was parsed with) gives it."""
    try:
        yield
    except DomainError as exc:
        from trading.accounts.form_errors import field_lines  # Flask: not for ``ggzy --help``

        details = "".join(f"\n  {line}" for line in field_lines(exc, model))
        raise click.ClickException(exc.message + details) from exc


def parse(model: Any, data: dict[str, Any]) -> Any:
    from trading.core.schemas import parse as parse_schema  # pydantic: not for ``ggzy --help``

    return parse_schema(model, data)


def safe_url(url: str) -> str:
    """The database URL without its password, to print."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
