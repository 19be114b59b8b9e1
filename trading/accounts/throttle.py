"""Login throttles: an exponential back-off per (user name, client address), never a lock-out.

A wrong password slows down only the address it came from, for that name: the right password
from anywhere else still logs in, and a UKey (SM2) login is never counted here. An address that
fails for many names backs off as a whole. Refused attempts are not recorded, so waiting out the
back-off is always enough.
"""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trading.accounts.models import CHALLENGE_ATTEMPT, PASSWORD_ATTEMPT, LoginAttempt

#: how many failures one address may make across all names, per failure allowed for one name
ADDRESS_FACTOR = 4
#: how far back the challenge counts look
CHALLENGE_WINDOW = dt.timedelta(minutes=1)


def backoff_seconds(failures: int, free: int, longest: int) -> int:
    """The delay after ``failures`` failures in a row: none for the first ``free``, then 2, 4, 8 …
    seconds, never more than ``longest``. A delay that grows instead of a lock-out is what NIST
    SP 800-63B §5.2.2 (rate limiting) and OWASP ASVS 4.0 V2.2.1 (soft lock-out) recommend: a
    guesser is slowed to a handful of tries an hour, the owner is never shut out."""
    if failures < free:
        return 0
    return min(longest, 1 << min(failures - free + 1, 40))


def _remaining(until: dt.datetime, now: dt.datetime) -> int:
    return max(0, math.ceil((until - now).total_seconds()))


def password_wait(
    session: Session, username: str, address: str, now: dt.datetime, *, max_failures: int, window_seconds: int
) -> int:
    """Seconds this address must still wait before trying a password for this name (0: go on)."""
    since = now - dt.timedelta(seconds=window_seconds)
    attempts = session.execute(
        select(LoginAttempt.at, LoginAttempt.success)
        .where(
            LoginAttempt.username == username,
            LoginAttempt.ip == address,
            LoginAttempt.kind == PASSWORD_ATTEMPT,
            LoginAttempt.at >= since,
        )
        .order_by(LoginAttempt.at.desc(), LoginAttempt.id.desc())
        .limit(max_failures + 40)  # enough to reach the longest delay
    ).all()
    in_a_row, last = 0, None
    for at, success in attempts:
        if success:
            break
        in_a_row += 1
        last = last or at
    wait = 0
    if last is not None:
        delay = backoff_seconds(in_a_row, max_failures, window_seconds)
        wait = _remaining(last + dt.timedelta(seconds=delay), now)
    count, last_of_address = session.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(
            LoginAttempt.ip == address,
            LoginAttempt.kind == PASSWORD_ATTEMPT,
            LoginAttempt.success.is_(False),
            LoginAttempt.at >= since,
        )
    ).one()
    if last_of_address is not None:
        delay = backoff_seconds(int(count), ADDRESS_FACTOR * max_failures, window_seconds)
        wait = max(wait, _remaining(last_of_address + dt.timedelta(seconds=delay), now))
    return wait


def challenge_wait(session: Session, address: str, now: dt.datetime, *, per_address: int) -> int:
    """Seconds before this address may ask for another UKey challenge (0: go on): at most
    ``per_address`` a minute from one address, whatever the names. Deliberately no limit per name:
    one counted across addresses let strangers hold a user's UKey login off (issue 17), and
    the certificate login's challenges are stateless tokens, stored nowhere, so nothing per name
    needs bounding."""
    since = now - CHALLENGE_WINDOW
    times = session.scalars(
        select(LoginAttempt.at)
        .where(LoginAttempt.ip == address, LoginAttempt.kind == CHALLENGE_ATTEMPT, LoginAttempt.at >= since)
        .order_by(LoginAttempt.at.desc())
        .limit(per_address)
    ).all()
    if len(times) >= per_address:
        return max(_remaining(times[-1] + CHALLENGE_WINDOW, now), 1)
    return 0
