"""Publication and termination reach the opening through typed hooks (trading.tenders.hooks), in the
caller's transaction: the ceremonies are made with the publication, cancelled with the termination,
and a hook that fails undoes the publication."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import make_signer, make_user, platform_keys, sign_document, tender_body
from trading.accounts.models import Role
from trading.core.config import Settings
from trading.core.hooks import Hook
from trading.core.services import services
from trading.opening.ceremonies import create_ceremonies
from trading.opening.models import Ceremony, Stage
from trading.pki.operations import trust_store
from trading.tenders import drafting, publication, termination
from trading.tenders import hooks as tender_hooks
from trading.tenders.documents import upload_document
from trading.tenders.models import Tender, TenderState
from trading.tenders.schemas import TenderIn


def submitted_tender(session: Session, app: Flask) -> Tender:
    tenderee = make_signer(session, app, Role.TENDEREE)
    tender = drafting.create_tender(session, tenderee.user, TenderIn.model_validate(tender_body()))
    doc = b"%PDF tender documents"
    signature = sign_document(tenderee, tender.code, "招标文件.pdf", doc)
    trust = trust_store(session, platform_keys(app))
    store = services(app).store
    upload_document(session, store, trust, tenderee.user, tender, "招标文件.pdf", io.BytesIO(doc), signature)
    publication.submit_tender(session, tenderee.user, tender)
    session.commit()
    return tender


def rooms(session: Session, tender: Tender) -> list[Ceremony]:
    return list(session.scalars(select(Ceremony).where(Ceremony.tender_id == tender.id)))


def test_publication_makes_the_ceremonies_and_termination_cancels_them(session: Session, app: Flask) -> None:
    tender = submitted_tender(session, app)
    staff = make_user(session, Role.STAFF)
    publication.publish_tender(session, staff, tender, services(app).settings)
    assert tender.status is TenderState.PUBLISHED
    assert [c.stage for c in rooms(session, tender)] == [Stage.SCHEDULED]
    termination.terminate_tender(session, staff, tender, "招标人取消采购计划")
    assert tender.status is TenderState.TERMINATED
    assert [c.stage for c in rooms(session, tender)] == [Stage.CANCELLED]


def test_a_failing_hook_undoes_the_publication(session: Session, app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    tender = submitted_tender(session, app)
    staff = make_user(session, Role.STAFF)
    failing: Hook[[Session, Tender, Settings], object] = Hook("tender_published")
    failing.connect(create_ceremonies)

    def refuse(session: Session, tender: Tender, settings: Settings) -> None:
        raise RuntimeError("the key store is unreachable")

    failing.connect(refuse)
    monkeypatch.setattr(publication, "tender_published", failing)
    with pytest.raises(RuntimeError, match="unreachable"):
        publication.publish_tender(session, staff, tender, services(app).settings)
    session.rollback()
    session.expire_all()
    assert session.get(Tender, tender.id).status is TenderState.SUBMITTED  # type: ignore[union-attr]
    assert rooms(session, tender) == []
    assert tender_hooks.tender_published.functions == (create_ceremonies,)  # the real hook is untouched
