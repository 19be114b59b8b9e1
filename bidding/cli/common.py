"""What the ``ggzy-bid`` commands share: key files and passwords, errors, progress, the platform client."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pathlib
import sys
import unicodedata
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

import click
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

from archive import clock
from signing.certs import Certificate, TrustStore
from signing.errors import SigningError
from signing.sm2 import KEY_FILE_ITERATIONS, PrivateKey, check_key_password, key_file_iterations

#: Unicode's bidirectional controls (UAX #9): U+202E shows "x\u202etxt.exe" as "xexe.txt" (the platform
#: refuses the same set in file names; ``bidding`` never imports ``trading``, so it is named here too).
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _shown(ch: str) -> str:
    if ch in BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp"):
        return ch.encode("unicode_escape", "backslashreplace").decode("ascii")
    return ch


def safe(text: object) -> str:
    """What the platform sent (a title, a name, an error message), fit for one line of the bidder's
    terminal: C0/C1 controls, DEL, line and paragraph separators and bidi controls are shown escaped
    (``\\x1b``, ``\\u202e``), so a hostile tender title cannot set the window title, clear the
    screen, start a forged line or reorder what follows; tabs and line breaks too, so it stays one
    column of a tab-separated listing. Every string from the platform a command prints goes
    through here (rich, where it draws, also gets ``rich.markup.escape``)."""
    return "".join(_shown(ch) for ch in ("" if text is None else str(text)))


KEY_FILES = {"sign": ("sign.key", "sign.pub", "sign.crt"), "enc": ("enc.key", "enc.pub", "enc.crt")}


def beijing(value: str | None) -> str:
    """An instant from the platform (ISO 8601, UTC) as the pages show it: Beijing time, to the
    second. What is not an instant is shown as it came, never hidden."""
    if not value:
        return "—"
    try:
        return clock.local(dt.datetime.fromisoformat(value)).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return safe(value)


def amount(value: object) -> str:
    """Yuan with thousands separators (``12,345,678.90``), as the pages show amounts."""
    try:
        return f"{Decimal(str(value)):,.2f}"
    except (InvalidOperation, ValueError):
        return safe(value)


def thousands(value: object) -> str:
    """A count (bytes) with thousands separators; what is not a whole number shown as it came (``safe``)."""
    return f"{value:,}" if isinstance(value, int) else safe(value)


def fail(message: str) -> None:
    """Say what went wrong and exit 2. The message often quotes the platform (its error message and
    code, a document's name), so all of it is shown through ``safe``."""
    click.echo(f"错误 (error): {safe(message)}", err=True)
    sys.exit(2)


@contextlib.contextmanager
def errors() -> Iterator[None]:
    try:
        yield
    except SigningError as exc:
        fail(f"{exc} [{exc.code}]")
    except OSError as exc:
        fail(f"{exc.strerror or exc}: {exc.filename or ''}")


def interactive() -> bool:
    """Progress bars and spinners only for a person at a terminal; tests, pipes and logs get plain
    lines (``GGZY_NO_PROGRESS`` silences even those)."""
    return sys.stdout.isatty() and not os.environ.get("GGZY_NO_PROGRESS")


class _PlainProgress:
    """The bar's plain stand-in: a line on stderr at each quarter, so a log shows the work moving
    without a redrawn line per chunk (stdout stays the command's result)."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.done, self.said = max(total, 0), safe(label), 0, 0

    def __call__(self, n: int) -> None:
        self.done += n
        quarter = 4 if self.total == 0 else min(4, self.done * 4 // self.total)
        while self.said < quarter:
            self.said += 1
            click.echo(
                f"{self.label}：{self.said * 25}%（{min(self.done, self.total):,} / {self.total:,} 字节）", err=True
            )


def bar_label(label: str) -> str:
    """A progress bar's label as rich draws it: rich reads descriptions as markup, and the label
    may hold a document's name from the platform (``[link=…]`` or ``[/]`` would be obeyed)."""
    return escape(safe(label))


@contextlib.contextmanager
def progress_bar(total: int, label: str) -> Iterator[Any]:
    if not interactive():
        plain = _PlainProgress(total, label)
        yield (lambda n: None) if os.environ.get("GGZY_NO_PROGRESS") else plain
        return
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        transient=True,
    ) as p:
        task = p.add_task(bar_label(label), total=total)
        yield lambda n: p.advance(task, n)


@contextlib.contextmanager
def spinner(label: str) -> Iterator[None]:
    """While waiting on the platform (no size to count): a spinner at a terminal, else nothing."""
    if not interactive():
        yield
        return
    from rich.console import Console

    with Console().status(label):
        yield


def when(value: str | None) -> str:
    """An instant in a sentence: Beijing time, said so (``2026-12-05 08:30:00（北京时间）``)."""
    return f"{beijing(value)}（北京时间）" if value else "—"


BEIJING_FOOTER = "（北京时间 Beijing time）"


def one_line(text: object) -> str:
    """Free text (a question, an objection, an answer) on one line of a tab-separated listing: its
    own runs of blanks, tabs and line breaks read as one space (they would split the columns), and
    what could drive the terminal is shown escaped (``safe``)."""
    return safe(" ".join(("" if text is None else str(text)).split()))


def key_password(for_new: bool = False) -> bytes:
    env = os.environ.get("GGZY_KEY_PASSWORD")
    if env:
        pw = env.encode()
    else:
        pw = str(
            click.prompt("私钥口令 (key password)", hide_input=True, confirmation_prompt=for_new, err=True)
        ).encode()
    if for_new:
        check_key_password(pw)  # the same rule whether the password came from the prompt or the variable
    return pw


def read_key(path: pathlib.Path, password: bytes) -> PrivateKey:
    """A key file; files from older ggzy-bid (2,048 PBKDF2 iterations) are still read, with a warning."""
    data = path.read_bytes()
    key = PrivateKey.from_pem(data, password)
    rounds = key_file_iterations(data)
    if rounds is not None and rounds < KEY_FILE_ITERATIONS:
        click.echo(
            f"警告 (warning): {path} 的口令保护较弱（PBKDF2 {rounds} 次），请用 ggzy-bid rekey 重新保存 "
            f"(weak key file protection: run ggzy-bid rekey)",
            err=True,
        )
    return key


def load_keys(keys: pathlib.Path, kind: str, password: bytes | None) -> tuple[PrivateKey | None, Certificate]:
    key_name, _, cert_name = KEY_FILES[kind]
    cert_path = keys / cert_name
    if not cert_path.exists():
        fail(f"缺少证书 {cert_path} (certificate missing)")
    cert = Certificate.load(cert_path.read_bytes())
    key = read_key(keys / key_name, password) if password is not None else None
    return key, cert


def trust_store(ca: pathlib.Path) -> TrustStore:
    return TrustStore((Certificate.load(ca.read_bytes()),))


def api_client(server: str | None = None) -> Any:
    from bidding.client import Client

    return Client.from_config(server)


@contextlib.contextmanager
def api_errors() -> Iterator[None]:
    import http.client

    from bidding.client import ApiError

    with errors():
        try:
            yield
        except ApiError as exc:
            fail(str(exc))
        except (ConnectionError, http.client.HTTPException, TimeoutError) as exc:
            fail(f"连接中断，重新运行同一命令即可续传 (connection lost; run the same command again to resume): {exc}")
