"""Freed heap memory goes back to the system where the C library allows it (glibc)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import pytest

from bot.runtime.heap import give_back_free_memory


def _rss_mb() -> float:
    status = Path(f"/proc/{os.getpid()}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_memory_freed_below_a_live_block_goes_back_to_the_system() -> None:
    chunks = [bytearray(4096) for _ in range(20_000)]  # 80 MB on the C heap
    keep = chunks[-1]  # a live block above: the heap cannot simply shrink from the top
    del chunks
    before = _rss_mb()
    assert give_back_free_memory() is True
    assert _rss_mb() < before - 40
    assert len(keep) == 4096


def test_elsewhere_it_does_nothing_and_says_so() -> None:
    assert give_back_free_memory() is (platform.libc_ver()[0] == "glibc")
