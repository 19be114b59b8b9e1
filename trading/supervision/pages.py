"""The supervision pages: the time-limit rules and the warnings (黄灯预警、红灯追责)."""

from __future__ import annotations

from flask import Blueprint

pages = Blueprint("supervision", __name__, template_folder="templates")
