"""/bidder/tool tells a whole round as the tool really works: every command it shows is a command of
``ggzy-bid`` with options the command has (read from the tool itself, as ``--help`` prints them),
every command of the tool is shown, and the root certificate its checks need can be downloaded and
compared by its SM3."""

from __future__ import annotations

import html as htmllib
import re
import shlex

import click
from flask.testing import FlaskClient

from bidding.cli import main as ggzy_bid
from signing.certs import Certificate


def _shown_commands(page: str) -> list[list[str]]:
    """Each ``ggzy-bid …`` line of the page's <pre> blocks, split as a shell would."""
    lines: list[list[str]] = []
    for block in re.findall(r"<pre>(.*?)</pre>", page, flags=re.S):
        for line in htmllib.unescape(block).splitlines():
            words = shlex.split(line.split("#")[0])
            if words and words[0] == "ggzy-bid":
                lines.append(words[1:])
    return lines


def _resolve(words: list[str]) -> tuple[str, click.Command]:
    """The command a line runs (``guarantee apply``, ``uploads abandon``) and the rest of its words."""
    command: click.Command = ggzy_bid
    path: list[str] = []
    for word in words:
        if not isinstance(command, click.Group) or word not in command.commands:
            break
        command = command.commands[word]
        path.append(word)
    return " ".join(path), command


def test_every_command_shown_is_real_and_every_command_is_shown(client: FlaskClient) -> None:
    page = client.get("/bidder/tool").get_data(as_text=True)
    assert "pip install ggzy\n" not in page and "pip install ./ggzy" in page  # installed from the source
    shown = _shown_commands(page)
    assert len(shown) >= 25
    used: set[str] = set()
    for words in shown:
        if words in (["--help"], ["命令", "--help"]):
            continue
        name, command = _resolve(words)
        assert name, words
        used.add(name)
        options = {opt for p in command.params for opt in p.opts + p.secondary_opts} | {"--help"}
        for word in words:
            if word.startswith("--"):
                assert word in options, (name, word)
        required = {p.opts[0] for p in command.params if p.required and isinstance(p, click.Option)}
        assert required <= set(words) or "--help" in words, (name, required - set(words))
    everything = {
        f"{name} {sub}" if isinstance(cmd, click.Group) else name
        for name, cmd in ggzy_bid.commands.items()
        for sub in (cmd.commands if isinstance(cmd, click.Group) else [""])
    }
    missing = everything - used - {"sign-document"}  # the tenderee's command, named in words only
    assert not missing, missing


def test_the_root_certificate_to_check_against(client: FlaskClient) -> None:
    page = client.get("/bidder/tool").get_data(as_text=True)
    r = client.get("/bidder/tool/root.pem")
    assert r.status_code == 200 and "root.pem" in r.headers["Content-Disposition"]
    root = Certificate.from_pem(r.data)
    assert root.is_ca and root.fingerprint in page  # compared by another way than this download
    certs = client.get("/api/v1/platform/certificates").get_json()
    assert Certificate.from_pem(certs["root"].encode()).fingerprint == root.fingerprint
