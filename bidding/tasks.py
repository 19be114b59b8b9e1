"""Scheduler sweeps for bids."""

from __future__ import annotations

import datetime as dt
import os
import pathlib

from sqlalchemy.orm import Session

from bidding.operations import abandon_expired
from trading.config import Settings, load_settings
from trading.scheduler import job
from trading.services import Services


def staging_dir(settings: Settings | None = None) -> pathlib.Path:
    """Where uploads are staged (UPLOAD_STAGING_DIR; a shared volume when several app machines run)."""
    return pathlib.Path(os.environ.get("UPLOAD_STAGING_DIR") or (settings or load_settings()).instance / "uploads")


@job("abandon_uploads", every_seconds=600)
def abandon_uploads_job(session: Session, now: dt.datetime, services: Services) -> int:
    """Uploads not completed within 24 hours are abandoned and their bytes deleted."""
    return abandon_expired(session, staging_dir(services.settings), now)
