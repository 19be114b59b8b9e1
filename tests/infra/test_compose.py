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
    # one part of a bid file (trading/bids/uploads.py PART_SIZE, 32 MiB) with its headers, streamed
    from trading.bids.uploads import PART_SIZE

    limit = int(re.search(r"client_max_body_size (\d+)m;", conf).group(1)) << 20  # type: ignore[union-attr]
    assert PART_SIZE < limit <= PART_SIZE + (1 << 20)
    assert "proxy_request_buffering off;" in conf[conf.index("location / ") :]


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


def guide_paragraphs(guide: str) -> list[str]:
    """infra/DEPLOY.md's paragraphs and list items (headings, tables and code blocks apart: the
    paragraph before each speaks for it)."""
    blocks: list[list[str]] = []
    current: list[str] = []
    in_code = False
    for line in guide.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or line.startswith("```") or not line.strip() or line.startswith(("#", "|")):
            blocks.append(current)
            current = []
            continue
        if line.startswith("- "):
            blocks.append(current)
            current = []
        current.append(line.strip())
    blocks.append(current)
    return [" ".join(b) for b in blocks if b]


def test_every_paragraph_of_the_guide_names_its_test() -> None:
    """Each paragraph of infra/DEPLOY.md is exercised by a named test, or says why nothing here
    can: a new sentence cannot slip in unchecked, nor a test be renamed under the guide."""
    guide = (REPO / "infra" / "DEPLOY.md").read_text()
    tests = "".join(p.read_text() for p in (REPO / "tests").rglob("test_*.py"))
    paragraphs = guide_paragraphs(guide)
    assert len(paragraphs) > 20
    for text in paragraphs:
        marks = re.findall(r"\[(tested|not tested here): ([^\]]+)\]$", text)
        assert marks, f"no [tested: …] or [not tested here: …] at the end of: {text[:120]}"
        kind, what = marks[0]
        if kind == "tested":
            for name in what.split(", "):
                assert re.search(rf"^def {name}\(", tests, flags=re.M), f"the guide names {name}, no such test"


def test_the_guide_lists_the_compose_commands() -> None:
    """The processes table says exactly what the compose file runs."""
    guide = (REPO / "infra" / "DEPLOY.md").read_text()
    rows = re.findall(r"^\| `([a-z-]+)` \| `([^`]+)` \|", guide, flags=re.M)
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert {kind for kind, _ in rows} == {"migrate", "app", "live", "workers", "scheduler"}
    for kind, command in rows:
        assert command == " ".join(services[kind]["command"]), kind
    assert services["scheduler-standby"]["command"] == services["scheduler"]["command"]


def test_the_sample_environment_has_every_value_the_compose_file_needs() -> None:
    from tests.infra.topology import DOT_ENV

    required = set(re.findall(r"\$\{([A-Z_]+):\?", COMPOSE.read_text()))
    sample = (REPO / "infra" / "env.sample").read_text()
    named = set(re.findall(r"^([A-Z_]+)=", sample, flags=re.M))
    assert named == required, named ^ required
    assert set(DOT_ENV) == required  # the topology test fills in exactly what .env would
