"""Imports every model module so that both metadatas are complete (Alembic, tests)."""

from archive import (
    audit,  # noqa: F401
    transparency,  # noqa: F401
)
from archive.db import ArchiveBase
from trading.accounts import models as accounts_models  # noqa: F401
from trading.archives import models as archive_models  # noqa: F401
from trading.auctions import models as auction_models  # noqa: F401
from trading.bids import models as bid_models  # noqa: F401
from trading.core import models as scheduler_models  # noqa: F401
from trading.core.db import Base
from trading.credit import models as credit_models  # noqa: F401
from trading.evaluation import models as evaluation_models  # noqa: F401
from trading.exchange import models as exchange_models  # noqa: F401
from trading.guarantees import models as guarantee_models  # noqa: F401
from trading.opendata import models as opendata_models  # noqa: F401
from trading.opening import models as opening_models  # noqa: F401
from trading.pki import models as pki_models  # noqa: F401
from trading.procedures import models as procedure_models  # noqa: F401
from trading.signals import models as signal_models  # noqa: F401
from trading.supervision import models as supervision_models  # noqa: F401
from trading.tenders import models as tender_models  # noqa: F401

METADATAS = [Base.metadata, ArchiveBase.metadata]
