"""The deployment file parses and names every service the guide mentions."""

import re

import yaml

from tests.conftest import REPO


def test_compose_parses_and_matches_guide() -> None:
    compose = yaml.safe_load((REPO / "infra" / "docker-compose.yml").read_text())
    services = set(compose["services"])
    assert {"postgres", "minio", "app", "scheduler"} <= services
    guide = (REPO / "infra" / "DEPLOY.md").read_text()
    named = set(re.findall(r"^\| `([a-z]+)` \|", guide, flags=re.M))
    assert named and named <= services, named - services
    app_env = compose["services"]["app"]["environment"]
    assert app_env["GGZY_ENV"] == "production"
    assert "lock=1" in app_env["ARCHIVE_STORE_URL"]
    assert "?" in app_env["SECRET_KEY"]  # required, no default
    assert compose["services"]["scheduler"]["command"] == ["ggzy", "scheduler"]
