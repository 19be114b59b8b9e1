"""The composition root: ``create_app`` builds the Flask app from settings and blueprints.

The one place that names every stage: it registers each stage's blueprints, wires the hooks
through which a later stage reacts to an earlier one (``connect_stages``) and names the modules
with scheduler jobs (``import_job_modules``). No stage imports it.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from trading.accounts import web
from trading.accounts.passwords import passwords
from trading.accounts.permissions import Permission
from trading.accounts.regions import region_name
from trading.core import formats
from trading.core.config import ConfigError, Settings, load_settings
from trading.core.db import Database
from trading.core.services import Services
from trading.procedures.specialties import specialty_name
from trading.signals import ratings
from trading.tenders import rules as tender_rules


def create_app(config: Settings | dict[str, Any] | None = None) -> Flask:
    settings = config if isinstance(config, Settings) else load_settings(**(config or {}))
    app = web.App(__name__)
    app.url_map.converters["int"] = web.BoundedIntConverter  # before any route is added
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_json_bytes,
        MAX_FORM_MEMORY_SIZE=settings.max_json_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        SESSION_COOKIE_NAME="ggzy_session",
        JSON_AS_ASCII=False,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the server session
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    if settings.trusted_proxy_hops > 0:
        # only behind proxies the operator names: otherwise any client could choose its own
        # address in X-Forwarded-For, and with it whose login back-off it counts against
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    try:  # a bad rating setting refuses to start rather than rate by something else
        ratings.policy_from(settings.ratings)
    except ratings.PolicyError as exc:
        raise ConfigError(str(exc)) from exc
    app.extensions["ggzy.settings"] = settings
    passwords.configure(settings.argon2_memory_kib, settings.argon2_time_cost)
    app.extensions["ggzy.db"] = Database.of(settings)
    app.extensions["ggzy.services"] = Services(settings)
    app.extensions["ggzy.endpoint_rules"] = {"static": Permission.PUBLIC}

    csrf = CSRFProtect(app)
    web.install(app)
    connect_stages()

    from trading.accounts.api import api as accounts_api
    from trading.accounts.pages import pages as accounts_pages
    from trading.apidocs.api import api as apidocs_api
    from trading.apidocs.pages import pages as apidocs_pages
    from trading.archives.api import api as archives_api
    from trading.archives.pages import pages as archives_pages
    from trading.auctions.api import api as auctions_api
    from trading.auctions.pages import pages as auctions_pages
    from trading.auctions.registration_api import api as auction_registrations_api
    from trading.auctions.registration_pages import pages as auction_registrations_pages
    from trading.auctions.result_views import api as auction_results_api
    from trading.auctions.result_views import pages as auction_results_pages
    from trading.auctions.room_api import api as auction_room_api
    from trading.auctions.room_pages import pages as auction_room_pages
    from trading.audit.api import api as audit_api
    from trading.audit.pages import pages as audit_pages
    from trading.awards.api import api as awards_api
    from trading.awards.pages import pages as awards_pages
    from trading.bids.api import api as bids_api
    from trading.bids.pages import pages as bids_pages
    from trading.credit.api import api as credit_api
    from trading.credit.pages import pages as credit_pages
    from trading.evaluation.api import api as evaluation_api
    from trading.evaluation.pages import pages as evaluation_pages
    from trading.evaluation.room_aliases_api import api as evaluation_room_aliases
    from trading.evaluation.room_api import api as evaluation_room_api
    from trading.evaluation.room_pages import pages as evaluation_room_pages
    from trading.evaluation.room_verbs_api import api as evaluation_room_verbs
    from trading.exchange.api import api as exchange_api
    from trading.exchange.pages import pages as exchange_pages
    from trading.guarantees.api import api as guarantees_api
    from trading.guarantees.issuer_api import issuer_api
    from trading.guarantees.pages import pages as guarantees_pages
    from trading.opendata.api import api as opendata_api
    from trading.opendata.pages import pages as opendata_pages
    from trading.opening.api import api as opening_api
    from trading.opening.joint_api import api as opening_joint_api
    from trading.opening.pages import pages as opening_pages
    from trading.pki.api import api as pki_api
    from trading.pki.pages import pages as pki_pages
    from trading.portal.api import api as portal_api
    from trading.portal.pages import bp as home_bp
    from trading.portal.pages import footer_links, navigation
    from trading.portal.pages import pages as portal_pages
    from trading.procedures.api import api as procedures_api
    from trading.procedures.pages import pages as procedures_pages
    from trading.signals.api import api as signals_api
    from trading.signals.pages import pages as signals_pages
    from trading.signals.ratings_api import api as ratings_api
    from trading.signals.ratings_pages import pages as ratings_pages
    from trading.supervision.api import api as supervision_api
    from trading.supervision.complaint_pages import pages as complaint_pages
    from trading.supervision.complaints_api import api as complaints_api
    from trading.supervision.monitor_api import api as monitor_api
    from trading.supervision.monitor_pages import pages as monitor_pages
    from trading.supervision.pages import pages as supervision_pages
    from trading.supervision.stats_api import api as statistics_api
    from trading.supervision.stats_pages import pages as statistics_pages
    from trading.tenders.api import api as tenders_api
    from trading.tenders.pages import pages as tenders_pages
    from trading.tenders.pages import upload_document

    for bp in (
        home_bp,
        portal_pages,
        portal_api,
        accounts_pages,
        accounts_api,
        audit_pages,
        audit_api,
        pki_pages,
        pki_api,
        procedures_pages,
        procedures_api,
        credit_pages,
        credit_api,
        tenders_pages,
        tenders_api,
        bids_pages,
        bids_api,
        opening_pages,
        opening_api,
        opening_joint_api,
        archives_pages,
        archives_api,
        guarantees_pages,
        guarantees_api,
        issuer_api,
        auctions_pages,
        auctions_api,
        auction_registrations_pages,
        auction_registrations_api,
        auction_room_pages,
        auction_room_api,
        auction_results_pages,
        auction_results_api,
        evaluation_api,
        evaluation_pages,
        evaluation_room_api,
        evaluation_room_verbs,
        evaluation_room_aliases,
        evaluation_room_pages,
        awards_pages,
        awards_api,
        signals_pages,
        signals_api,
        ratings_pages,
        ratings_api,
        supervision_pages,
        supervision_api,
        complaint_pages,
        complaints_api,
        monitor_pages,
        monitor_api,
        statistics_pages,
        statistics_api,
        opendata_pages,
        opendata_api,
        exchange_pages,
        exchange_api,
        apidocs_pages,
        apidocs_api,
    ):
        app.register_blueprint(bp)
    apis = (
        accounts_api,
        audit_api,
        pki_api,
        procedures_api,
        credit_api,
        tenders_api,
        portal_api,
        bids_api,
        opening_api,
        opening_joint_api,
        archives_api,
        signals_api,
        ratings_api,
        supervision_api,
        complaints_api,
        monitor_api,
        statistics_api,
        opendata_api,
        exchange_api,
        apidocs_api,
        auctions_api,
        auction_registrations_api,
        auction_room_api,
        auction_results_api,
    )
    for bp in (
        *apis,
        guarantees_api,
        issuer_api,
        evaluation_api,
        evaluation_room_api,
        evaluation_room_verbs,
        evaluation_room_aliases,
        awards_api,
    ):
        csrf.exempt(bp)  # the API authenticates by bearer token only, never by cookie
    csrf.exempt(upload_document)  # checks CSRF itself after raising the body limit for large files

    app.jinja_env.filters["local"] = formats.local_time
    app.jinja_env.filters["money"] = formats.money
    app.jinja_env.filters["daxie"] = formats.amount_in_words
    app.jinja_env.filters["region"] = region_name
    app.jinja_env.filters["specialty"] = specialty_name
    app.jinja_env.filters["combine_page"] = lambda args, page: {**args, "page": page}
    app.context_processor(
        lambda: {
            "nav": navigation(web.current_user(), request.endpoint, request.args) if request else [],
            "footer_links": footer_links(),
        }
    )
    app.jinja_env.globals["life_label"] = tender_rules.tender_life_label
    app.jinja_env.globals["lot_life_label"] = tender_rules.lot_life_label
    return app


def connect_stages() -> None:
    """Wire the hooks by which an earlier stage lets later ones react without naming them. Idempotent
    (a function connected twice is kept once): ``create_app`` calls it, and so does importing this
    module, for what runs tender operations without an app (the scheduler, the CLI, scripts)."""
    from trading.archives.audit_scope import tender_objects
    from trading.audit import hooks as audit_hooks
    from trading.awards.award import tender_page_context as awards_on_tender_page
    from trading.credit import hooks as credit_hooks
    from trading.evaluation import hooks as evaluation_hooks
    from trading.opendata.pages import tender_page_context as opendata_on_tender_page
    from trading.opening.ceremonies import create_ceremonies
    from trading.opening.display import tender_page_context as opening_on_tender_page
    from trading.opening.stages import cancel_for_termination
    from trading.signals import reviews as signal_reviews
    from trading.signals import service_ratings
    from trading.supervision import complaint_ratings
    from trading.tenders import hooks as tender_hooks
    from trading.tenders.sealed import bidding_closed

    tender_hooks.tender_published.connect(create_ceremonies)
    tender_hooks.tender_terminated.connect(cancel_for_termination)
    tender_hooks.tender_page_context.connect(opening_on_tender_page)
    tender_hooks.tender_page_context.connect(awards_on_tender_page)
    tender_hooks.tender_page_context.connect(opendata_on_tender_page)
    audit_hooks.tender_objects.connect(tender_objects)
    credit_hooks.registration_public.connect(bidding_closed)
    evaluation_hooks.room_findings.connect(signal_reviews.room_findings)
    evaluation_hooks.compliance_refusal.connect(signal_reviews.compliance_refusal)
    service_ratings.later_services.connect(complaint_ratings.complaint_services)
    service_ratings.later_service.connect(complaint_ratings.complaint_service)


def import_job_modules() -> None:
    """The scheduler's jobs register themselves on import; this names every module that has some."""
    import trading.accounts.tasks
    import trading.archives.tasks
    import trading.auctions.tasks
    import trading.audit.tasks
    import trading.awards.tasks
    import trading.bids.tasks
    import trading.credit.tasks
    import trading.exchange.tasks
    import trading.guarantees.tasks
    import trading.opendata.tasks
    import trading.opening.tasks
    import trading.signals.tasks
    import trading.supervision.facts
    import trading.supervision.tasks
    import trading.tenders.tasks  # noqa: F401
