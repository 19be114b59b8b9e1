"""Forms that check their own CSRF token (the rest are checked by Flask-WTF's global check)."""

from __future__ import annotations

from flask import Blueprint
from flask.blueprints import BlueprintSetupState


def checks_own_csrf(bp: Blueprint, view: str) -> None:
    """Exempt ``view`` (its dotted name) from the global CSRF check: a large upload form whose body the
    global check would parse under the default limit first; the view checks its token itself after
    raising the limit (a credit list, a complaint's evidence)."""

    def exempt(state: BlueprintSetupState) -> None:
        csrf = state.app.extensions.get("csrf")
        if csrf is not None:
            csrf.exempt(view)

    bp.record_once(exempt)
