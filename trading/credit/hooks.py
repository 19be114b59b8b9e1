"""The credit stage's hooks: what it asks of the later stages without naming them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from trading.core.hooks import Hook

#: Whether the tender ``code``'s bid deadline has passed at ``now`` (tenders answers). A check made
#: for a registration names a bidder, and registrations are secret until the deadline (招标投标法
#: 第二十二条): such a check is shown only when a connected function answers True, so with nothing
#: connected it stays hidden.
registration_public: Hook[[Session, str, dt.datetime], bool] = Hook("credit.registration_public")
