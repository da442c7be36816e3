"""Tests of the fake Evolink API and Files API (tests/fakes/evolink.py)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.evolink import MODEL, FakeEvolink, LoopbackServer
from tests.mediagen import image_bytes, write_audio, write_video

KEY = "sk-test-evolink-key"
TASK_ID = re.compile(r"^task-unified-\d{10}-[a-z0-9]{8}$")


class Media:
    """Reference files made once per session, on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[str, bytes] = {}
        self._makers: dict[str, Callable[[Path], object]] = {
            "ok.mp4": lambda p: write_video(p, seconds=3),
            "ok.mov": lambda p: write_video(p, seconds=3, audio=False, container="mov"),
            "8s.mp4": lambda p: write_video(p, seconds=8, audio=False),
            "1s.mp4": lambda p: write_video(p, seconds=1),
            "20s.mp4": lambda p: write_video(p, seconds=20, audio=False),
            "384.mp4": lambda p: write_video(p, width=384, height=384),
            "12fps.mp4": lambda p: write_video(p, fps=12),
            "ok.mp3": lambda p: write_audio(p, seconds=3),
            "ok.wav": lambda p: write_audio(p, seconds=3, codec="pcm_s16le"),
            "ok.ogg": lambda p: write_audio(p, seconds=3, codec="libopus", rate=48000),
        }

    def __getitem__(self, name: str) -> bytes:
        if name not in self._cache:
            path = self.root / name
            self._makers[name](path)
            self._cache[name] = path.read_bytes()
        return self._cache[name]


class Peer:
    """A loopback server that hosts reference files and receives callbacks."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.callbacks: list[dict[str, Any]] = []
        self.callback_statuses: list[int] = []
        self.server = LoopbackServer(
            Starlette(
                routes=[
                    Route("/f/{name}", self._file),
                    Route("/hook", self._hook, methods=["POST"]),
                ]
            )
        )

    @property
    def url(self) -> str:
        return self.server.url

    def host(self, name: str, data: bytes) -> str:
        """Serve `data` (with a misleading Content-Type) and return its URL."""
        self.files[name] = data
        return f"{self.url}/f/{name}"

    async def _file(self, request: Request) -> Response:
        data = self.files.get(request.path_params["name"])
        if data is None:
            return Response(status_code=404)
        return Response(data, media_type="application/octet-stream")

    async def _hook(self, request: Request) -> Response:
        self.callbacks.append(await request.json())
        status = self.callback_statuses.pop(0) if self.callback_statuses else 200
        return Response(status_code=status)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    return Media(tmp_path_factory.mktemp("media"))


@pytest.fixture
async def fake() -> AsyncIterator[FakeEvolink]:
    async with FakeEvolink() as f:
        f.callback_retry_delays = (0.05, 0.05, 0.05)
        yield f


@pytest.fixture
async def api(fake: FakeEvolink) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=fake.base_url, headers=headers, timeout=10) as c:
        yield c


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    p = Peer()
    await p.server.start()
    yield p
    await p.server.stop()


@pytest.fixture
def jpeg_url(peer: Peer) -> str:
    return peer.host("ref.jpg", image_bytes(800, 600))


def body(**fields: Any) -> dict[str, Any]:
    """A valid submit body, with `fields` overriding (None removes a field)."""
    base: dict[str, Any] = {
        "model": MODEL,
        "prompt": "A red fox runs through snow",
        "image_urls": ["https://example.com/a.jpg"],
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


async def submit(api: httpx.AsyncClient, data: dict[str, Any], **headers: str) -> httpx.Response:
    return await api.post("/v1/videos/generations", json=data, headers=headers)


# ---------------------------------------------------------------------- submit


async def test_valid_submit_with_one_jpeg(
    fake: FakeEvolink, api: httpx.AsyncClient, jpeg_url: str
) -> None:
    resp = await submit(api, body(image_urls=[jpeg_url]), **{"Idempotency-Key": "draft-1"})
    assert resp.status_code == 200, resp.text
    task = resp.json()
    assert TASK_ID.match(task["id"])
    assert task == {
        "created": task["created"],
        "id": task["id"],
        "model": MODEL,
        "object": "video.generation.task",
        "progress": 0,
        "status": "pending",
        "task_info": {"can_cancel": True, "estimated_time": 120, "video_duration": 5},
        "type": "video",
        "usage": {"billing_rule": "per_second", "credits_reserved": 6.0, "user_group": "default"},
    }
    sub = await fake.wait_for_submission()
    assert sub.task_id == task["id"]
    assert sub.headers["idempotency-key"] == "draft-1"
    assert sub.body["image_urls"] == [jpeg_url]
    (ref,) = sub.references
    assert (ref.kind, ref.format, ref.width, ref.height) == ("image", "JPEG", 800, 600)
    assert len(ref.sha256) == 64
    assert fake.tasks[task["id"]].status == "pending"
    assert fake.rejected == []


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"prompt": None}, "prompt"),
        ({"prompt": "   "}, "prompt"),
        ({"prompt": 42}, "prompt"),
        ({"model": "seedance-2.0"}, "model"),
        ({"image_urls": [f"https://example.com/{i}.jpg" for i in range(10)]}, "image_urls"),
        ({"video_urls": [f"https://example.com/{i}.mp4" for i in range(4)]}, "video_urls"),
        ({"image_urls": None, "audio_urls": ["https://example.com/a.mp3"]}, "audio_urls"),
        ({"duration": 3}, "duration"),
        ({"duration": 16}, "duration"),
        ({"duration": 5.0}, "duration"),
        ({"duration": True}, "duration"),
        ({"duration": "5"}, "duration"),
        ({"quality": "1080p"}, "quality"),
        ({"aspect_ratio": "2:1"}, "aspect_ratio"),
        ({"generate_audio": "yes"}, "generate_audio"),
        ({"content_filter": 1}, "content_filter"),
        ({"seed": 7}, "seed"),
        ({"callback_url": None, "negative_prompt": "x"}, "negative_prompt"),
        ({"image_urls": ["/relative/a.jpg"]}, "image_urls"),
        ({"image_urls": ["ftp://example.com/a.jpg"]}, "image_urls"),
    ],
)
async def test_invalid_bodies_are_refused(
    fake: FakeEvolink, api: httpx.AsyncClient, fields: dict[str, Any], param: str
) -> None:
    data = body(**fields)
    resp = await submit(api, data)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert (error["code"], error["type"], error["param"]) == (
        "invalid_request",
        "invalid_request_error",
        param,
    )
    assert param in error["message"]
    assert fake.rejected == [{"status": 400, "error": error, "body": data}]
    assert fake.submissions == []
    assert fake.tasks == {}


async def test_null_field_and_non_json_are_refused(
    fake: FakeEvolink, api: httpx.AsyncClient
) -> None:
    resp = await submit(api, {**body(), "callback_url": None})
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "callback_url"
    resp = await api.post("/v1/videos/generations", content=b"{not json")
    assert resp.status_code == 400
    assert "JSON" in resp.json()["error"]["message"]
    fake.max_body_bytes = 100
    resp = await submit(api, body(prompt="x" * 200))
    assert resp.status_code == 413
    assert len(fake.rejected) == 3


@pytest.mark.parametrize(
    ("callback_url", "why"),
    [
        ("http://hooks.example.com/cb", "HTTPS"),
        ("https://127.0.0.1/cb", "private or loopback"),
        ("https://10.1.2.3/cb", "private or loopback"),
        ("https://192.168.0.5/cb", "private or loopback"),
        ("https://localhost/cb", "private or loopback"),
        ("https://hooks.example.com/" + "a" * 2048, "max 2048"),
    ],
)
async def test_strict_callback_rules(callback_url: str, why: str) -> None:
    async with (
        FakeEvolink(allow_insecure_callbacks=False) as fake,
        httpx.AsyncClient(base_url=fake.base_url, headers={"Authorization": f"Bearer {KEY}"}) as c,
    ):
        resp = await submit(c, body(callback_url=callback_url))
        assert resp.status_code == 400
        assert resp.json()["error"]["param"] == "callback_url"
        assert why in resp.json()["error"]["message"]


async def test_public_https_callback_is_accepted_when_strict(jpeg_url: str) -> None:
    async with (
        FakeEvolink(allow_insecure_callbacks=False) as fake,
        httpx.AsyncClient(base_url=fake.base_url, headers={"Authorization": f"Bearer {KEY}"}) as c,
    ):
        data = body(image_urls=[jpeg_url], callback_url="https://hooks.example.com/cb/s3cret")
        resp = await submit(c, data)
        assert resp.status_code == 200, resp.text
        assert fake.tasks[resp.json()["id"]].callback_url == data["callback_url"]


@pytest.mark.parametrize(
    ("field", "name", "expected"),
    [
        ("image_urls", "img:200x200", "image_urls[0]: 200x200: width and height must each be"),
        ("image_urls", "img:900x300", "image_urls[0]: aspect ratio 3.00 (width/height)"),
        ("image_urls", "img:6100x2500", "image_urls[0]: 6100x2500: width and height"),
        ("image_urls", "gif:800x600", "image_urls[0]: image format GIF is not supported"),
        ("image_urls", "ok.mp3", "image_urls[0]: is not a readable image"),
        ("video_urls", "1s.mp4", "video_urls[0]: duration 1.00 s is outside 2..15 s"),
        ("video_urls", "20s.mp4", "video_urls[0]: duration 20.00 s is outside 2..15 s"),
        ("video_urls", "384.mp4", "video_urls[0]: 384x384 = 147456 pixels, outside 409600"),
        ("video_urls", "12fps.mp4", "video_urls[0]: frame rate 12.000 fps is outside 24..60"),
        ("video_urls", "img:800x600", "video_urls[0]: container jpeg_pipe is not supported"),
        ("video_urls", "ok.mp3", "video_urls[0]: container mp3 is not supported"),
        ("audio_urls", "ok.ogg", "audio_urls[0]: audio format ogg is not supported"),
        ("audio_urls", "ok.mp4", "audio_urls[0]: audio format mov,mp4"),
    ],
)
async def test_bad_references_are_refused(
    fake: FakeEvolink,
    api: httpx.AsyncClient,
    peer: Peer,
    media: Media,
    jpeg_url: str,
    field: str,
    name: str,
    expected: str,
) -> None:
    if name.startswith(("img:", "gif:")):
        w, h = (int(x) for x in name[4:].split("x"))
        data = image_bytes(w, h, "GIF" if name.startswith("gif") else "JPEG")
    else:
        data = media[name]
    url = peer.host("ref.bin", data)  # no telling extension: the fake must probe
    fields: dict[str, Any] = {field: [url]}
    if field != "image_urls":
        fields["image_urls"] = [jpeg_url]
    resp = await submit(api, body(**fields))
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["param"] == field
    assert error["message"].startswith(expected), error["message"]
    assert fake.submissions == []


async def test_total_video_duration_over_15s_is_refused(
    api: httpx.AsyncClient, peer: Peer, media: Media
) -> None:
    url = peer.host("8s.mp4", media["8s.mp4"])
    resp = await submit(api, body(image_urls=None, video_urls=[url, url]))
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == "video_urls: total duration 16.00 s exceeds 15 s"


async def test_unreachable_reference_names_its_index(
    api: httpx.AsyncClient, peer: Peer, jpeg_url: str
) -> None:
    resp = await submit(api, body(image_urls=[jpeg_url, f"{peer.url}/f/missing.jpg"]))
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == "image_urls[1] could not be downloaded: 404"
    resp = await submit(api, body(image_urls=["http://127.0.0.1:1/a.jpg"]))
    assert resp.json()["error"]["message"] == "image_urls[0] could not be downloaded: ConnectError"


async def test_valid_video_and_audio_references_pass(
    fake: FakeEvolink, api: httpx.AsyncClient, peer: Peer, media: Media
) -> None:
    data = body(
        image_urls=[peer.host("a.png", image_bytes(640, 1000, "PNG"))],
        video_urls=[peer.host("v.mp4", media["ok.mp4"]), peer.host("v.mov", media["ok.mov"])],
        audio_urls=[peer.host("a.mp3", media["ok.mp3"]), peer.host("a.wav", media["ok.wav"])],
        duration=10,
        quality="480p",
        aspect_ratio="adaptive",
        generate_audio=False,
        content_filter=False,
    )
    resp = await submit(api, data)
    assert resp.status_code == 200, resp.text
    assert resp.json()["usage"]["credits_reserved"] == 8.8
    refs = (await fake.wait_for_submission()).references
    assert [(r.kind, r.format) for r in refs] == [
        ("image", "PNG"),
        ("video", "mp4"),
        ("video", "mov"),
        ("audio", "mp3"),
        ("audio", "wav"),
    ]
    video = refs[1]
    assert (video.width, video.height, video.fps, video.codec) == (640, 640, 24.0, "h264")
    assert video.duration == pytest.approx(3.0, abs=0.05)
    assert refs[3].duration == pytest.approx(3.0, abs=0.05)
    assert fake.tasks[resp.json()["id"]].generate_audio is False


@pytest.mark.parametrize(
    ("method", "path", "server"),
    [
        ("POST", "/v1/videos/generations", "api"),
        ("GET", "/v1/tasks/task-unified-1-abcdefgh", "api"),
        ("GET", "/v1/credits", "api"),
        ("POST", "/api/v1/files/upload/stream", "files"),
        ("GET", "/api/v1/files/quota", "files"),
        ("DELETE", "/api/v1/files/file_x", "files"),
    ],
)
@pytest.mark.parametrize("auth", [None, "Bearer wrong-key", KEY])
async def test_auth_is_required(
    fake: FakeEvolink, method: str, path: str, server: str, auth: str | None
) -> None:
    base = fake.base_url if server == "api" else fake.files_base_url
    headers = {"Authorization": auth} if auth else {}
    async with httpx.AsyncClient(base_url=base) as c:
        resp = await c.request(method, path, headers=headers, json=body())
    assert resp.status_code == 401
    assert resp.json() == {
        "error": {
            "code": "unauthorized",
            "message": "Invalid or expired token",
            "type": "authentication_error",
        }
    }


async def test_idempotent_replay_returns_the_same_task(
    fake: FakeEvolink, api: httpx.AsyncClient, jpeg_url: str
) -> None:
    fake.honours_idempotency_key = True
    data = body(image_urls=[jpeg_url])
    first, second = await asyncio.gather(
        submit(api, data, **{"Idempotency-Key": "k1"}),
        submit(api, data, **{"Idempotency-Key": "k1"}),
    )
    assert first.json()["id"] == second.json()["id"]
    third = await submit(api, data, **{"Idempotency-Key": "k2"})
    assert third.json()["id"] != first.json()["id"]
    assert len(fake.submissions) == 2
    assert fake.idempotent_replays == 1
    assert fake.credits == 1000.0 - 2 * 6.0


async def test_by_default_a_repeated_key_is_a_second_paid_task(
    fake: FakeEvolink, api: httpx.AsyncClient, jpeg_url: str
) -> None:
    # The API documents no idempotency: nothing may rely on the header.
    data = body(image_urls=[jpeg_url])
    first = await submit(api, data, **{"Idempotency-Key": "k1"})
    second = await submit(api, data, **{"Idempotency-Key": "k1"})
    assert first.json()["id"] != second.json()["id"]
    assert len(fake.tasks) == 2 and fake.idempotent_replays == 0


@pytest.mark.parametrize("status", ["500", "502", "503", "504"])
async def test_a_task_can_be_created_and_answered_with_a_server_error(
    fake: FakeEvolink, api: httpx.AsyncClient, jpeg_url: str, status: str
) -> None:
    fake.break_next_answer(status)  # type: ignore[arg-type]
    resp = await submit(api, body(image_urls=[jpeg_url]))
    assert resp.status_code == int(status)
    assert "error" in resp.json()
    assert len(fake.tasks) == 1 and len(fake.submissions) == 1  # created, and charged
    assert fake.credits < 1000.0


@pytest.mark.parametrize(
    ("how", "error"),
    [
        ("reset", httpx.RemoteProtocolError),
        ("cut", httpx.RemoteProtocolError),
        ("gzip", httpx.DecodingError),
    ],
)
async def test_a_task_can_be_created_and_its_answer_lost(
    fake: FakeEvolink, api: httpx.AsyncClient, jpeg_url: str, how: str, error: type[Exception]
) -> None:
    fake.break_next_answer(how)  # type: ignore[arg-type]
    with pytest.raises((error, httpx.ReadError)):
        await submit(api, body(image_urls=[jpeg_url]))
    assert len(fake.tasks) == 1
    # The server keeps serving on other connections.
    assert (await submit(api, body(image_urls=[jpeg_url]))).status_code == 200
    assert len(fake.tasks) == 2


async def test_a_task_can_be_answered_after_the_client_gave_up(
    fake: FakeEvolink, jpeg_url: str
) -> None:
    fake.break_next_answer("late", delay=1.0)
    async with httpx.AsyncClient(base_url=fake.base_url, timeout=0.3) as c:
        with pytest.raises(httpx.ReadTimeout):
            await c.post(
                "/v1/videos/generations",
                json=body(image_urls=[jpeg_url]),
                headers={"Authorization": f"Bearer {fake.api_key}"},
            )
    assert len(fake.tasks) == 1


async def test_insufficient_credits(
    fake: FakeEvolink, api: httpx.AsyncClient, jpeg_url: str
) -> None:
    fake.credits = 5.0
    resp = await submit(api, body(image_urls=[jpeg_url]))
    assert resp.status_code == 402
    assert resp.json()["error"]["code"] == "insufficient_quota"


# ---------------------------------------------------------------------- tasks


async def make_task(api: httpx.AsyncClient, url: str, **fields: Any) -> str:
    resp = await submit(api, body(image_urls=[url], **fields))
    assert resp.status_code == 200, resp.text
    return str(resp.json()["id"])


async def test_task_goes_pending_processing_completed(
    fake: FakeEvolink, api: httpx.AsyncClient, jpeg_url: str
) -> None:
    task_id = await make_task(api, jpeg_url)
    assert (await api.get(f"/v1/tasks/{task_id}")).json()["status"] == "pending"
    fake.set_progress(task_id, 40)
    task = (await api.get(f"/v1/tasks/{task_id}")).json()
    assert (task["status"], task["progress"]) == ("processing", 40)
    assert "results" not in task
    await fake.complete(task_id)
    task = (await api.get(f"/v1/tasks/{task_id}")).json()
    assert (task["status"], task["progress"]) == ("completed", 100)
    assert task["results"] == [f"{fake.base_url}/results/{task_id}.mp4"]
    assert "error" not in task
    assert fake.task_queries == [task_id] * 3
    async with httpx.AsyncClient() as anon:  # no auth needed for the result
        video = await anon.get(task["results"][0])
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    path = Path(str(fake.tasks[task_id].result_path))
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.width == 640
        assert len(container.streams.audio) == 1  # generate_audio defaults to true
    assert path.read_bytes() == video.content


async def test_complete_without_audio_padded_then_expired(
    fake: FakeEvolink, api: httpx.AsyncClient, jpeg_url: str, tmp_path: Path
) -> None:
    task_id = await make_task(api, jpeg_url, generate_audio=False)
    await fake.complete(task_id, size=(480, 480), seconds=1.0, pad_to_bytes=3_000_000)
    url = fake.tasks[task_id].results[0]
    async with httpx.AsyncClient() as anon:
        data = (await anon.get(url)).content
        assert len(data) >= 3_000_000
        (tmp_path / "r.mp4").write_bytes(data)
        with av.open(str(tmp_path / "r.mp4")) as container:
            assert container.streams.audio == ()
            assert container.streams.video[0].codec_context.height == 480
            assert sum(1 for _ in container.decode(video=0)) == 24
        fake.expire_result(task_id)
        assert (await anon.get(url)).status_code == 404


async def test_failed_task_shows_error(
    fake: FakeEvolink, api: httpx.AsyncClient, jpeg_url: str
) -> None:
    task_id = await make_task(api, jpeg_url)
    await fake.fail(task_id, code="generation_timeout", message="timed out")
    task = (await api.get(f"/v1/tasks/{task_id}")).json()
    assert task["status"] == "failed"
    assert task["error"] == {
        "code": "generation_timeout",
        "message": "timed out",
        "type": "task_error",
    }
    assert "results" not in task
    assert task["task_info"]["can_cancel"] is False


async def test_unknown_task_is_404(api: httpx.AsyncClient) -> None:
    resp = await api.get("/v1/tasks/task-unified-1-zzzzzzzz")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "task_not_found"


async def test_auto_progress_finishes_a_task(peer: Peer, jpeg_url: str) -> None:
    async with (
        FakeEvolink(auto_progress=True) as fake,
        httpx.AsyncClient(base_url=fake.base_url, headers={"Authorization": f"Bearer {KEY}"}) as c,
    ):
        task_id = await make_task(c, jpeg_url, callback_url=f"{peer.url}/hook")
        seen = [(await c.get(f"/v1/tasks/{task_id}")).json() for _ in range(3)]
        assert [(t["status"], t["progress"]) for t in seen] == [
            ("processing", 50),
            ("processing", 100),
            ("completed", 100),
        ]
        await fake.wait_for_callbacks()
        assert fake.callbacks_sent == [(task_id, 200)]
        assert peer.callbacks == [seen[2]]


async def test_a_task_on_a_timeline_queues_then_progresses_with_the_clock_then_completes(
    peer: Peer, jpeg_url: str
) -> None:
    async with (
        FakeEvolink() as fake,
        httpx.AsyncClient(base_url=fake.base_url, headers={"Authorization": f"Bearer {KEY}"}) as c,
    ):
        fake.timeline = lambda: (0.3, 0.6)  # every new submit: queued 0.3 s, processed 0.6 s
        task_id = await make_task(c, jpeg_url, callback_url=f"{peer.url}/hook")
        first = (await c.get(f"/v1/tasks/{task_id}")).json()
        assert (first["status"], first["progress"]) == ("pending", 0)
        await asyncio.sleep(0.6)
        middle = (await c.get(f"/v1/tasks/{task_id}")).json()
        assert middle["status"] == "processing" and 20 <= middle["progress"] <= 80
        for _ in range(100):  # its video is rendered first (on a busy machine, a while)
            last = (await c.get(f"/v1/tasks/{task_id}")).json()
            if last["status"] != "processing":
                break
            await asyncio.sleep(0.05)
        assert last["status"] == "completed" and last["results"]
        task = fake.tasks[task_id]
        assert task.completed_at is not None and task.timeline is not None
        assert task.completed_at - task.timeline[0] >= 0.9
        await fake.wait_for_callbacks()
        assert fake.callbacks_sent == [(task_id, 200)]


# ---------------------------------------------------------------------- callbacks


async def test_callback_is_retried_after_500(
    fake: FakeEvolink, api: httpx.AsyncClient, peer: Peer, jpeg_url: str
) -> None:
    task_id = await make_task(api, jpeg_url, callback_url=f"{peer.url}/hook")
    peer.callback_statuses = [500, 502]
    await fake.complete(task_id)
    await fake.wait_for_callbacks()
    assert fake.callbacks_sent == [(task_id, 500), (task_id, 502), (task_id, 200)]
    task = (await api.get(f"/v1/tasks/{task_id}")).json()
    assert peer.callbacks == [task] * 3


async def test_callback_gives_up_after_three_retries(
    fake: FakeEvolink, api: httpx.AsyncClient, jpeg_url: str
) -> None:
    task_id = await make_task(api, jpeg_url, callback_url="http://127.0.0.1:1/hook")
    await fake.fail(task_id)
    await fake.wait_for_callbacks()
    assert fake.callbacks_sent == [(task_id, None)] * 4


async def test_send_callback_forges_one(
    fake: FakeEvolink, api: httpx.AsyncClient, peer: Peer, jpeg_url: str
) -> None:
    task_id = await make_task(api, jpeg_url, callback_url=f"{peer.url}/hook")
    peer.callback_statuses = [403]
    forged = {"id": task_id, "status": "completed", "results": ["https://evil.example/x.mp4"]}
    assert await fake.send_callback(task_id, forged) == 403
    assert peer.callbacks == [forged]
    assert fake.callbacks_sent == [(task_id, 403)]


# ---------------------------------------------------------------------- faults


async def test_fail_next_with_retry_after(
    fake: FakeEvolink, api: httpx.AsyncClient, jpeg_url: str
) -> None:
    fake.fail_next("/v1/videos/generations", 429, retry_after=2)
    resp = await submit(api, body(image_urls=[jpeg_url]))
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == "2"
    assert resp.json() == {
        "error": {
            "code": "rate_limit_exceeded",
            "message": "Too many requests, please try again later",
            "type": "rate_limit_error",
        }
    }
    assert fake.rejected[0]["status"] == 429
    assert fake.rejected[0]["body"]["image_urls"] == [jpeg_url]
    task_id = (await submit(api, body(image_urls=[jpeg_url]))).json()["id"]
    fake.fail_next("/v1/tasks/", 503, times=2, code="service_unavailable", message="busy")
    statuses = [(await api.get(f"/v1/tasks/{task_id}")).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


async def test_delays_provoke_client_timeouts(fake: FakeEvolink, api: httpx.AsyncClient) -> None:
    fake.fail_next("/v1/credits", 500, delay=0.3)
    with pytest.raises(httpx.ReadTimeout):
        await api.get("/v1/credits", timeout=0.1)
    fake.set_delay("/v1/credits", 0.3)
    with pytest.raises(httpx.ReadTimeout):
        await api.get("/v1/credits", timeout=0.1)
    fake.set_delay("/v1/credits", 0)
    assert (await api.get("/v1/credits", timeout=0.2)).status_code == 200


# ---------------------------------------------------------------------- credits


async def test_credits_go_down(fake: FakeEvolink, api: httpx.AsyncClient, jpeg_url: str) -> None:
    before = (await api.get("/v1/credits")).json()
    assert before == {
        "success": True,
        "message": "ok",
        "data": {
            "token": {"remaining_credits": 1000.0, "unlimited_credits": False, "used_credits": 0.0},
            "user": {"remaining_credits": 1000.0, "used_credits": 0.0},
        },
    }
    await make_task(api, jpeg_url, duration=15, quality="720p")
    after = (await api.get("/v1/credits")).json()["data"]
    assert after["token"]["remaining_credits"] == 982.0
    assert after["user"]["used_credits"] == 18.0


# ---------------------------------------------------------------------- Files API


async def test_files_upload_download_quota_delete(
    fake: FakeEvolink, api: httpx.AsyncClient
) -> None:
    jpeg = image_bytes(800, 600)
    async with httpx.AsyncClient(
        base_url=fake.files_base_url, headers={"Authorization": f"Bearer {KEY}"}
    ) as files:
        resp = await files.post(
            "/api/v1/files/upload/stream",
            files={"file": ("photo.jpg", jpeg, "application/octet-stream")},
            data={"upload_path": "seedance/refs", "file_name": "ref-1.jpg"},
        )
        assert resp.status_code == 200, resp.text
        info = resp.json()
        assert (info["success"], info["code"], info["msg"]) == (True, 200, "ok")
        data = info["data"]
        assert data["file_name"] == "ref-1.jpg"
        assert data["original_name"] == "photo.jpg"
        assert (data["file_size"], data["mime_type"]) == (len(jpeg), "image/jpeg")
        assert data["upload_path"] == "seedance/refs"
        url = f"{fake.files_base_url}/files/{data['file_id']}/ref-1.jpg"
        assert data["file_url"] == data["download_url"] == url
        assert data["upload_time"] < data["expires_at"]
        assert (await files.get(url, headers={"Authorization": ""})).content == jpeg
        quota = (await files.get("/api/v1/files/quota")).json()["data"]
        assert (quota["used_files"], quota["max_files"], quota["remain_files"]) == (1, 2000, 1999)
        # The API fetches a Files API URL like any other reference.
        assert (await submit(api, body(image_urls=[url]))).status_code == 200
        assert fake.submissions[0].references[0].size == len(jpeg)
        deleted = await files.delete(f"/api/v1/files/{data['file_id']}")
        assert deleted.json()["success"] is True
        assert (await files.get(url)).status_code == 404
        assert (await files.get("/api/v1/files/quota")).json()["data"]["used_files"] == 0
        assert [(u.file_name, u.mime_type, u.deleted) for u in fake.uploads] == [
            ("ref-1.jpg", "image/jpeg", True)
        ]


async def test_files_api_refusals(fake: FakeEvolink, media: Media) -> None:
    async with httpx.AsyncClient(
        base_url=fake.files_base_url, headers={"Authorization": f"Bearer {KEY}"}
    ) as files:
        upload = "/api/v1/files/upload/stream"
        resp = await files.post(upload, files={"file": ("a.mp4", media["ok.mp4"])})
        assert resp.json()["data"]["mime_type"] == "video/mp4"
        resp = await files.post(upload, files={"file": ("notes.txt", b"hello", "text/plain")})
        assert (resp.status_code, resp.json()["success"]) == (400, False)
        resp = await files.post(upload, data={"upload_path": "x"})
        assert resp.status_code == 400
        fake.files_max_bytes = 1000
        resp = await files.post(upload, files={"file": ("big.jpg", image_bytes(800, 600))})
        assert resp.status_code == 413
        fake.files_accepted_types.discard("video/mp4")
        fake.files_max_bytes = 100 * 1024 * 1024
        resp = await files.post(upload, files={"file": ("a.mp4", media["ok.mp4"], "video/mp4")})
        assert resp.json()["msg"] == "Unsupported file type: video/mp4"
        fake.files_max_count = 1
        resp = await files.post(upload, files={"file": ("a.jpg", image_bytes(400, 400))})
        assert (resp.status_code, resp.json()["msg"]) == (403, "File quota exceeded")
        fake.fail_next("/api/v1/files/upload/stream", 503)
        resp = await files.post(upload, files={"file": ("a.jpg", image_bytes(400, 400))})
        assert resp.status_code == 503
    assert len(fake.uploads) == 1


async def test_wait_for_submission_times_out(fake: FakeEvolink) -> None:
    with pytest.raises(TimeoutError):
        await fake.wait_for_submission(timeout=0.05)
