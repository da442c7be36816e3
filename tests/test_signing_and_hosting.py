"""Local media hosting: signed, expiring, unguessable URLs; nothing outside the media folder."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from bot.hosting import LocalHost
from bot.hosting.signing import UrlSigner, load_or_create_key
from bot.web.routes import create_web_app
from storage import Store, database_at
from storage.models import Task
from tests.conftest import on_both_engines


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def setup(tmp_path: Path, database_url: str | None):  # type: ignore[no-untyped-def]
    media = tmp_path / "media"
    (media / "d1").mkdir(parents=True)
    (media / "d1" / "r1-abc.jpg").write_bytes(b"JPEGDATA")
    (tmp_path / "secret.txt").write_text("not for you")
    clock = Clock()
    host = LocalHost(
        media_dir=media,
        public_url="http://bot.test",
        signer=UrlSigner(b"k" * 32),
        ttl_seconds=600,
        clock=clock,
    )
    store = Store(database_at(database_url, sqlite_path=tmp_path / "db.sqlite3"))
    await store.open()

    async def on_callback(task: Task, claim: str | None) -> None:
        raise AssertionError("no callback expected")

    app = create_web_app(store=store, local_host=host, on_callback=on_callback)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot.test")
    yield host, client, clock, media
    await client.aclose()
    await store.close()


async def test_a_signed_url_serves_the_file(setup) -> None:  # type: ignore[no-untyped-def]
    host, client, _, media = setup
    hosted = await host.host(media / "d1" / "r1-abc.jpg", file_name="x.jpg", mime_type="image/jpeg")
    assert hosted.url.startswith("http://bot.test/media/")
    response = await client.get(urlsplit(hosted.url).path)
    assert response.status_code == 200
    assert response.content == b"JPEGDATA"


async def test_an_expired_url_is_not_found(setup) -> None:  # type: ignore[no-untyped-def]
    host, client, clock, media = setup
    hosted = await host.host(media / "d1" / "r1-abc.jpg", file_name="x.jpg", mime_type="image/jpeg")
    clock.now += 601
    assert (await client.get(urlsplit(hosted.url).path)).status_code == 404


async def test_a_tampered_url_is_not_found(setup) -> None:  # type: ignore[no-untyped-def]
    host, client, _, media = setup
    hosted = await host.host(media / "d1" / "r1-abc.jpg", file_name="x.jpg", mime_type="image/jpeg")
    path = urlsplit(hosted.url).path
    _, _, expires, signature, rest = path.split("/", 4)
    later = f"/media/{int(expires) + 10_000}/{signature}/{rest}"
    other_sig = f"/media/{expires}/{'A' * len(signature)}/{rest}"
    for bad in (later, other_sig, path.replace("r1-abc", "r2-abc"), "/media/1/x/d1/r1-abc.jpg"):
        assert (await client.get(bad)).status_code == 404, bad


async def test_no_path_traversal_even_with_a_valid_signature(setup) -> None:  # type: ignore[no-untyped-def]
    host, client, _, _ = setup
    expires = 2_000_000
    # A signature for a path outside the media folder must still not serve it.
    sig = UrlSigner(b"k" * 32).sign("../secret.txt", expires)
    response = await client.get(f"/media/{expires}/{sig}/..%2Fsecret.txt")
    assert response.status_code == 404
    assert host.resolve(expires, sig, "../secret.txt") is None


@on_both_engines
async def test_unknown_callback_secret_is_not_found(setup) -> None:  # type: ignore[no-untyped-def]
    _, client, _, _ = setup
    response = await client.post("/callbacks/evolink/nope", json={"id": "task-x"})
    assert response.status_code == 404


@on_both_engines
async def test_health(setup) -> None:  # type: ignore[no-untyped-def]
    _, client, _, _ = setup
    response = await client.get("/healthz")
    assert response.json() == {"status": "ok"}


def test_the_generated_key_is_kept_private_and_stable(tmp_path: Path) -> None:
    key_file = tmp_path / "signing.key"
    first = load_or_create_key(key_file, None)
    assert load_or_create_key(key_file, None) == first
    assert key_file.stat().st_mode & 0o077 == 0
    assert load_or_create_key(key_file, "configured-key-123456") == b"configured-key-123456"
