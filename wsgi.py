"""WSGI entry point: ``gunicorn wsgi:app``."""

from trading.app import create_app

app = create_app()
