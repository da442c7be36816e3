"""The bot follows an upstream's redirect only to the public internet (no SSRF through it)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bot.runtime.metrics import Metrics
from bot.tasks.delivery import Deliverer
from bot.tasks.safe_fetch import UnsafeRedirect, is_public


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("http://127.0.0.1/x", False),
        ("http://10.0.0.5/x", False),
        ("http://172.16.3.4/x", False),
        ("http://192.168.1.1/x", False),
        ("http://169.254.169.254/latest/meta-data", False),
        ("http://[::1]/x", False),
        ("http://localhost/x", False),
        ("https://93.184.216.34/x", True),
    ],
)
async def test_which_addresses_count_as_public(url: str, public: bool) -> None:
    assert await is_public(httpx.URL(url)) is public


def _deliverer(handler, tmp_path: Path) -> Deliverer:  # type: ignore[no-untyped-def]
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler), follow_redirects=False)
    return Deliverer(
        bot=None,  # type: ignore[arg-type]
        store=None,  # type: ignore[arg-type]
        messenger=None,  # type: ignore[arg-type]
        notices=None,  # type: ignore[arg-type]
        media=None,  # type: ignore[arg-type]
        http=http,
        tmp_dir=tmp_path,
        metrics=Metrics(),
    )


async def test_a_redirect_into_the_private_network_is_not_followed(tmp_path: Path) -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/secrets"})

    with pytest.raises(UnsafeRedirect):
        await _deliverer(handler, tmp_path)._download("https://cdn.test/v.mp4", tmp_path / "v")
    assert asked == ["https://cdn.test/v.mp4"]  # the private address was never requested


async def test_a_redirect_to_a_public_cdn_is_followed(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "cdn.test":
            return httpx.Response(302, headers={"Location": "https://93.184.216.34/v.mp4"})
        return httpx.Response(200, content=b"video bytes")

    await _deliverer(handler, tmp_path)._download("https://cdn.test/v.mp4", tmp_path / "v")
    assert (tmp_path / "v").read_bytes() == b"video bytes"
