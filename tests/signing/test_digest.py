"""The background SM3 used by sealing and by the upload service."""

from __future__ import annotations

import os

import pytest

from signing.digest import SM3, BackgroundSM3, sm3_hex


def test_background_hash_equals_direct_and_marks_prefixes() -> None:
    data = os.urandom(3 << 20)
    with BackgroundSM3(SM3(data[:100])) as bg:
        bg.update(data[100 : 1 << 20])
        bg.mark()
        bg.update(memoryview(data)[1 << 20 :])
        h, marks = bg.finish()
    assert h.hexdigest() == sm3_hex(data) and marks == [sm3_hex(data[: 1 << 20])]


def test_the_thread_ends_with_the_block_on_error() -> None:
    with pytest.raises(ZeroDivisionError), BackgroundSM3() as bg:
        for _ in range(10):  # more than the queue holds
            bg.update(b"x" * 4096)
        raise ZeroDivisionError
    assert not bg._thread.is_alive()
