"""A hostile picture: a PNG of a few hundred kilobytes that decodes to 89 megapixels, just under
the pixel guard. It is decoded in a media worker, whose memory cap stops it cleanly; the bot's
own memory does not move."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import limits
from bot.media.jobs import MediaJobs
from bot.media.pool import MediaPool
from bot.media.results import MediaRejected
from tests.mediagen import flat_png, image_bytes

WIDTH, HEIGHT = 9400, 9500  # 89.3 MP: under Pillow's and the bot's 89.48 MP guard


def rss_mb() -> float:
    """This process's resident memory now (VmRSS), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "looks-small.png"
    path.write_bytes(flat_png(WIDTH, HEIGHT))
    return path


async def _jobs(memory_mb: int) -> AsyncIterator[MediaJobs]:
    pool = MediaPool(size=1, memory_mb=memory_mb, cpu_seconds=120, timeout_seconds=120, max_jobs=10)
    jobs = MediaJobs(pool)
    try:
        yield jobs
    finally:
        await jobs.close()


@pytest.fixture
async def capped() -> AsyncIterator[MediaJobs]:
    async for jobs in _jobs(memory_mb=640):
        yield jobs


@pytest.fixture
async def roomy() -> AsyncIterator[MediaJobs]:
    async for jobs in _jobs(memory_mb=2048):
        yield jobs


async def _warm(jobs: MediaJobs, tmp_path: Path) -> None:
    photo = tmp_path / "warm.jpg"
    photo.write_bytes(image_bytes(640, 480))
    await jobs.probe(photo, owner=1)


async def test_a_worker_at_its_memory_cap_refuses_the_file_and_the_bot_does_not_grow(
    capped: MediaJobs, bomb: Path, tmp_path: Path
) -> None:
    assert bomb.stat().st_size < 400_000
    await _warm(capped, tmp_path)
    before = rss_mb()
    with pytest.raises(MediaRejected) as refused:
        await capped.normalise("image", bomb, tmp_path / "out", stem="x", max_seconds=0, owner=1)
    assert (refused.value.code, refused.value.params) == ("unprocessable", {"reason": "memory"})
    assert rss_mb() - before < 8  # the 268 MB of pixels were never in this process
    # The worker that hit its cap left; the next file gets a fresh one.
    assert (await capped.probe(bomb, owner=1)).kind == "image"


async def test_with_room_enough_it_is_converted_within_every_limit(
    roomy: MediaJobs, bomb: Path, tmp_path: Path
) -> None:
    await _warm(roomy, tmp_path)
    before = rss_mb()
    result = await roomy.normalise(
        "image", bomb, tmp_path / "out", stem="x", max_seconds=0, owner=1
    )
    assert rss_mb() - before < 8
    assert result.mime_type == "image/jpeg"
    assert result.width is not None and result.height is not None
    assert max(result.width, result.height) <= limits.IMAGE_MAX_SIDE
    assert min(result.width, result.height) >= limits.IMAGE_MIN_SIDE
    assert result.size <= limits.IMAGE_MAX_BYTES
    assert {c["code"] for c in result.changes} == {"converted", "downscaled"}


async def test_over_the_guard_it_is_refused_from_its_header(
    roomy: MediaJobs, tmp_path: Path
) -> None:
    src = tmp_path / "over.png"
    src.write_bytes(flat_png(10_000, 9_000))  # 90 MP
    with pytest.raises(MediaRejected) as refused:
        await roomy.normalise("image", src, tmp_path / "out", stem="x", max_seconds=0, owner=1)
    assert refused.value.code == "too_many_pixels"
    assert (refused.value.params["width"], refused.value.params["height"]) == (10_000, 9_000)
