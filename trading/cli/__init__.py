"""``ggzy``: the operators' command line.

The commands live by subject: ``admin`` (init, migrate, users and organisations, the platform CA,
the demo), ``serve`` (the web server, the live room's server, the scheduler, the decryption
workers) and ``verify`` (the audit log, archive packages, committee draws). What they share is in
``common``.
"""

from __future__ import annotations

from typing import Any

import click

from signing.errors import SigningError
from trading.cli import (
    admin,
    auctions,
    backup,
    credit,
    exchange,
    opendata,
    ratings,
    serve,
    signals,
    stats,
    supervision,
    verify,
)
from trading.core.config import ConfigError
from trading.core.errors import DomainError


class Refused(click.ClickException):
    """Bad input to a command, told by name (exit code 2, click's own for usage errors)."""

    exit_code = 2


class Commands(click.Group):
    """Every command: our named errors (a weak key password, a domain rule, a bad setting) end
    in their message and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DomainError as exc:
            from trading.accounts.form_errors import field_lines  # Flask: only when there is one to tell

            raise Refused("".join([exc.message, *(f"\n  {line}" for line in field_lines(exc))])) from exc
        except (SigningError, ConfigError) as exc:
            raise Refused(str(exc)) from exc


@click.group(cls=Commands, help="ggzy 公共资源交易平台运维命令 (operator commands of the ggzy trading platform)")
def main() -> None:
    pass


for _command in (
    admin.init,
    admin.migrate,
    backup.backup,
    backup.restore,
    serve.scheduler,
    serve.workers,
    serve.live,
    serve.serve,
    admin.demo,
    admin.users,
    admin.ca,
    verify.audit,
    verify.archive,
    verify.draw,
    opendata.ocds,
    exchange.exchange,
    supervision.supervision,
    stats.stats,
    auctions.auctions,
    credit.credit,
    signals.signals,
    ratings.ratings,
):
    main.add_command(_command)

__all__ = ["main"]
