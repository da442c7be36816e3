"""The benchmarks still run: each bench module in a tiny configuration, so none can rot.

Figures are not judged here beyond being positive numbers; `python -m bench` measures.
"""

from __future__ import annotations

import asyncio
import io
import math
from pathlib import Path

import pytest
from PIL import Image

from bench import files_api, idle, latency, soak, throughput
from bench import media as media_bench
from bench import replicas as replicas_bench
from bench import storage as storage_bench
from bench._common import Result
from tests.mediagen import image_bytes

pytestmark = pytest.mark.e2e


def _check(result: Result) -> None:
    assert result.text.strip()
    assert result.figures
    for name, value in result.figures.items():
        assert math.isfinite(value), f"{name} = {value}"
        assert value > 0, f"{name} = {value}"


async def test_latency_idle_and_throughput_benches_run() -> None:
    # Side by side (each has its own fakes, bots and ports), so the three take seconds, not tens.
    names = ("latency", "idle", "throughput")
    outcomes = await asyncio.gather(
        latency.run(latency.Config.tiny()),
        idle.run(idle.Config.tiny()),
        throughput.run(throughput.Config.tiny()),
        return_exceptions=True,
    )
    failed = {n: o for n, o in zip(names, outcomes, strict=True) if isinstance(o, BaseException)}
    assert not failed, failed
    for outcome in outcomes:
        assert isinstance(outcome, Result)
        _check(outcome)


def test_media_bench_sides_run(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make: the bot strips it, so both sides re-encode
    src = tmp_path / "photo.jpg"
    Image.open(io.BytesIO(image_bytes(640, 480))).save(src, format="JPEG", exif=exif.tobytes())
    (tmp_path / "bot").mkdir()
    (tmp_path / "bare").mkdir()
    target = media_bench.run_bot("image", src, tmp_path / "bot", 15.0)
    media_bench.run_bare("image", src, tmp_path / "bare", target)
    assert Path(target["path"]).stat().st_size > 0
    assert (tmp_path / "bare" / "bare.jpg").stat().st_size > 0


async def test_storage_bench_runs() -> None:
    # PostgreSQL too when the tests have a server (TEST_DATABASE_URL).
    _check(await storage_bench.run(storage_bench.Config.tiny()))


async def test_soak_and_files_api_benches_run() -> None:
    outcomes = await asyncio.gather(
        soak.run(soak.Config.tiny()),
        files_api.run(files_api.Config.tiny()),
        return_exceptions=True,
    )
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    assert not failed, failed
    for outcome in outcomes:
        assert isinstance(outcome, Result)
        _check(outcome)


async def test_replicas_bench_runs(postgres_server: str) -> None:
    # Needs the tests' PostgreSQL server (the fixture skips, or fails when one is required).
    result = await replicas_bench.run(replicas_bench.Config.tiny())
    _check(result)
    assert [v for k, v in result.figures.items() if k.endswith("tasks_per_request")] == [1.0, 1.0]
