"""SM3 prefix digests of a sealed file, taken while ``ggzy-bid seal`` writes it.

The upload protocol sends, with each part, the SM3 of the file up to that part's end. Hashing
during the upload puts a second full SM3 pass (the server does one) on the bidder's side of a
loopback or a slow link; hashing the ciphertext as it is written, in a thread that runs while the
next chunk is being encrypted (hashlib's SM3 releases the GIL), makes that pass nearly free.

The result is kept beside the sealed file as ``<file>.sm3.json``. It is only a hint: the server
hashes every byte it receives and refuses a part whose prefix digest differs, and the client then
hashes the file itself (see ``bidding.client.upload_sealed``).
"""

from __future__ import annotations

import json
import pathlib
from dataclasses import dataclass
from typing import Any, BinaryIO

from signing.digest import BackgroundSM3
from signing.envelope import SealedHeader, seal

#: Prefix digests are recorded at every multiple of this; the server's part size is a multiple of it.
STEP = 4 << 20
FORMAT = "ggzy-sealed-digests"


@dataclass(frozen=True)
class PartDigests:
    size: int
    step: int
    prefixes: tuple[str, ...]  # SM3 of the first (i + 1) * step bytes, for each whole step
    sm3: str  # of the whole file

    def prefix(self, end: int) -> str | None:
        """SM3 of the first ``end`` bytes, if recorded."""
        if end == self.size:
            return self.sm3
        if end % self.step or not 0 < end // self.step <= len(self.prefixes):
            return None
        return self.prefixes[end // self.step - 1]

    def to_json(self) -> str:
        body = {"format": FORMAT, "version": 1, "size": self.size, "step": self.step}
        return json.dumps({**body, "prefixes": list(self.prefixes), "sm3": self.sm3})


def sidecar(sealed: pathlib.Path) -> pathlib.Path:
    return sealed.with_name(sealed.name + ".sm3.json")


def load(sealed: pathlib.Path) -> PartDigests | None:
    """The recorded digests, or None when missing, unreadable or for a file of another size."""
    try:
        d = json.loads(sidecar(sealed).read_text())
        got = PartDigests(int(d["size"]), int(d["step"]), tuple(str(p) for p in d["prefixes"]), str(d["sm3"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if d.get("format") != FORMAT or got.size != sealed.stat().st_size or got.step <= 0:
        return None
    return got


class HashingWriter:
    """A write-only file that passes bytes to ``dst`` and hashes them in a background thread."""

    def __init__(self, dst: BinaryIO, step: int = STEP) -> None:
        self._dst, self._step = dst, step
        self._hash = BackgroundSM3()
        self._size = 0

    def write(self, data: bytes) -> int:
        data = bytes(data)  # the caller may reuse its buffer; the thread must see these bytes
        n = self._dst.write(data)
        view = memoryview(data)
        while view:
            take = min(len(view), self._step - self._size % self._step)
            self._hash.update(view[:take])
            self._size += take
            view = view[take:]
            if self._size % self._step == 0:
                self._hash.mark()
        return n if n is not None else len(data)

    def finish(self) -> PartDigests:
        h, marks = self._hash.finish()
        return PartDigests(self._size, self._step, tuple(marks), h.hexdigest())


def seal_file(source: pathlib.Path, out: pathlib.Path, **seal_args: Any) -> SealedHeader:
    """Seal ``source`` into ``out`` (written whole or not at all) and record its prefix digests."""
    partial = out.with_name(out.name + ".part")
    with source.open("rb") as src, partial.open("wb") as dst:
        hashing = HashingWriter(dst)
        header = seal(src, hashing, **seal_args)
        digests = hashing.finish()
    sidecar(out).write_text(digests.to_json())
    partial.replace(out)
    return header
