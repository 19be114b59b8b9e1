"""One app for the document's tests: the document does not depend on the database, so it is
built once, on SQLite, rather than per backend by the ``app`` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from trading.apidocs.document import build
from trading.core.config import load_settings
from trading.core.db import upgrade


@pytest.fixture(scope="session")
def doc_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    from trading.app import create_app

    tmp = tmp_path_factory.mktemp("apidocs")
    url = f"sqlite:///{tmp / 'doc.db'}"
    upgrade(url)
    app = create_app(load_settings({"GGZY_ENV": "test", "GGZY_INSTANCE": str(tmp / "inst"), "DATABASE_URL": url}))
    yield app
    app.extensions["ggzy.db"].engine.dispose()


@pytest.fixture(scope="session")
def document(doc_app: Flask) -> dict[str, Any]:
    with doc_app.app_context():
        return build(doc_app)
