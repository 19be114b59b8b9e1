"""The deployment file parses, names every service the guide mentions, and has every process the
platform needs, each started by its own command (a compose file without the decryption workers or
the live server would queue every key release forever and serve rooms a thread per watcher)."""

import os
import re
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO

COMPOSE = REPO / "infra" / "docker-compose.yml"
#: every process kind the platform needs, and the command that starts it
NEEDED = {
    "migrate": ["ggzy", "init"],
    "live": ["ggzy", "live"],
    "workers": ["ggzy", "workers"],
    "scheduler": ["ggzy", "scheduler"],
    "scheduler-standby": ["ggzy", "scheduler"],
}


def test_compose_parses_and_matches_guide() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert {"postgres", "minio", "app", "proxy", *NEEDED} <= set(services)
    guide = (REPO / "infra" / "DEPLOY.md").read_text()
    named = set(re.findall(r"^\| `([a-z-]+)` \|", guide, flags=re.M))
    assert named == set(services), named ^ set(services)
    for name, command in NEEDED.items():
        assert services[name]["command"][: len(command)] == command, name
    assert services["app"]["command"][0] == "gunicorn" and "wsgi:app" in services["app"]["command"]
    app_env = services["app"]["environment"]
    assert app_env["GGZY_ENV"] == "production"
    assert "lock=1" in app_env["ARCHIVE_STORE_URL"]
    assert "?" in app_env["SECRET_KEY"] and "?" in app_env["LIVE_URL"]  # required, no default
    assert app_env["TRUSTED_PROXY_HOPS"] == "1"
    for name in ("app", "live", "workers", "scheduler", "scheduler-standby"):
        assert services[name]["environment"] == app_env, name  # one configuration for every process
    assert "ports" not in services["app"] and "ports" not in services["live"]  # only through the proxy
    # uploads' parts wait in MinIO (no UPLOAD_STAGING_DIR): any app container takes any part
    assert "UPLOAD_STAGING_DIR" not in app_env and app_env["OBJECT_STORE_URL"].startswith("minio://")


def test_the_proxy_sends_live_streams_to_live_and_says_who_asked() -> None:
    conf = (REPO / "infra" / "nginx.conf").read_text()
    live = conf[conf.index("location /live/") : conf.index("location / ")]
    assert "proxy_pass http://ggzy_live;" in live and "proxy_buffering off;" in live
    assert "server live:5001;" in conf and "server app:8000;" in conf
    assert conf.count("proxy_set_header X-Forwarded-For $remote_addr;") == 2  # overwritten, not appended
    assert conf.count("proxy_set_header X-Forwarded-Proto $scheme;") == 2


def test_docker_checks_the_file_when_it_can() -> None:
    docker = shutil.which("docker")
    plugin = docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0
    if not plugin:
        pytest.skip("docker compose is not installed here (the docker client has no compose plugin)")
    env = {**os.environ, "POSTGRES_PASSWORD": "p", "MINIO_ROOT_USER": "u", "MINIO_ROOT_PASSWORD": "m"}
    env |= {"SECRET_KEY": "s" * 32, "PLATFORM_KEY_PASSWORD": "k", "PUBLIC_URL": "https://ggzy.example.cn"}
    env |= {"PLATFORM_CODE": "12350100MB0000000U"}
    done = subprocess.run(
        [str(docker), "compose", "-f", str(COMPOSE), "config", "--quiet"], env=env, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr
