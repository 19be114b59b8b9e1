"""What request handlers, scheduler jobs and decryption workers share: settings, the object store,
the platform's keys, each opened once per process on first use."""

from __future__ import annotations

import pathlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from archive.objectstore import ObjectStore, open_store
from trading.core.config import Settings
from trading.core.platform_identity import check_pinned
from trading.core.platform_keys import PlatformKeys, load_platform_keys

if TYPE_CHECKING:  # the decryption workers import this module and need no Flask
    from flask import Flask


@dataclass
class Services:
    settings: Settings

    @cached_property
    def store(self) -> ObjectStore:
        return open_store(self.settings.object_store_url)

    @cached_property
    def archive_store(self) -> ObjectStore:
        """Where archive packages go (a bucket with object lock in production)."""
        return open_store(self.settings.archive_store_url)

    @cached_property
    def keys(self) -> PlatformKeys:
        """The platform keys, refused if the trail pins another root (``platform_identity``)."""
        keys = load_platform_keys(self.settings)
        check_pinned(self.settings, keys.ca.cert.fingerprint)
        return keys

    @property
    def instance(self) -> pathlib.Path:
        return self.settings.instance

    @property
    def scratch(self) -> pathlib.Path | None:
        """Where large temporary files go (decrypted bids, packages, experts' copies): the instance
        folder, on the object store's disk, rather than a /tmp that may be memory (tmpfs)."""
        return self.instance if self.instance.exists() else None


def services(app: Flask) -> Services:
    """The app's services (``create_app`` puts them in its extensions)."""
    found: Services = app.extensions["ggzy.services"]
    return found


def object_store(app: Flask) -> ObjectStore:
    return services(app).store
