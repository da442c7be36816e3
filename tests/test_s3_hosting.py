"""MEDIA_HOSTING=s3: uploads to a real S3-compatible server on loopback, presigned expiring URLs.

The server is moto's S3 behind a gate that checks SigV4 signatures and expiry as AWS, R2 or
MinIO do (tests/fakes/s3.py); everything goes over HTTP, nothing is mocked in the client.
"""

from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bot.hosting import HostingError
from bot.hosting.s3 import LIFECYCLE_RULE_ID, S3Host, S3HostingError
from bot.settings import MediaHosting, SettingsError, load_settings
from tests.conftest import MakeBot
from tests.fakes.evolink import FakeEvolink
from tests.fakes.s3 import FakeS3
from tests.fakes.telegram import FakeTelegram
from tests.mediagen import image_bytes

TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789a"
MB = 1024 * 1024


def _host(s3: FakeS3, bucket: str, **kw: object) -> S3Host:
    options: dict[str, object] = dict(
        bucket=bucket,
        region=s3.region,
        endpoint_url=s3.endpoint_url,
        access_key_id=s3.access_key_id,
        secret_access_key=s3.secret_access_key,
        url_ttl_seconds=600,
    )
    options.update(kw)
    return S3Host(**options)  # type: ignore[arg-type]


def _get(url: str) -> httpx.Response:
    return httpx.get(url, trust_env=False, timeout=10)


async def test_upload_then_the_presigned_url_serves_the_same_bytes(
    s3: FakeS3, tmp_path: Path
) -> None:
    bucket = s3.create_bucket()
    host = _host(s3, bucket)
    data = os.urandom(9 * MB)  # over the multipart threshold: sent in parts, from disk
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)

    before = time.time()
    hosted = await host.host(path, file_name="clip.MP4", mime_type="video/mp4")

    response = _get(hosted.url)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "video/mp4"
    parts = urlsplit(hosted.url)
    assert parts.path.startswith(f"/{bucket}/seedance-bot/") and parts.path.endswith(".mp4")
    assert hosted.remote_id is not None and parts.path == f"/{bucket}/{hosted.remote_id}"
    assert len(Path(parts.path).stem) >= 32  # a random, unguessable name
    query = parse_qs(parts.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["600"]
    assert before + 600 <= hosted.expires_at <= time.time() + 600
    assert s3.secret_access_key not in hosted.url
    # Sent in parts (multipart upload): create, two parts, complete.
    uploads = [r for r in s3.records if r.path == parts.path and r.auth == "header"]
    assert [r.method for r in uploads] == ["POST", "PUT", "PUT", "POST"]

    again = await host.host(path, file_name="clip.mp4", mime_type="video/mp4")
    assert again.remote_id != hosted.remote_id


async def test_tampered_expired_and_unsigned_urls_are_refused(s3: FakeS3, tmp_path: Path) -> None:
    bucket = s3.create_bucket()
    host = _host(s3, bucket)
    first, second = tmp_path / "a.jpg", tmp_path / "b.jpg"
    first.write_bytes(image_bytes(400, 400))
    second.write_bytes(image_bytes(500, 500))
    a = await host.host(first, file_name="a.jpg", mime_type="image/jpeg")
    b = await host.host(second, file_name="b.jpg", mime_type="image/jpeg")
    assert _get(a.url).status_code == 200

    signature = parse_qs(urlsplit(a.url).query)["X-Amz-Signature"][0]
    forged = a.url.replace(signature, signature[::-1])
    longer = a.url.replace("X-Amz-Expires=600", "X-Amz-Expires=604800")
    other_key = b.url.split("?")[0] + "?" + urlsplit(a.url).query  # a's signature, b's key
    unsigned = a.url.split("?")[0]
    for url in (forged, longer, other_key, unsigned):
        refused = _get(url)
        assert refused.status_code == 403, url
        assert refused.content != first.read_bytes()

    s3.gate.clock_offset = 590  # shortly before the end of its 600 s
    assert _get(a.url).status_code == 200
    s3.gate.clock_offset = 602
    expired = _get(a.url)
    assert expired.status_code == 403
    assert "Request has expired" in expired.text


async def test_prepare_adds_the_expiry_rule_and_keeps_the_bucket_s_other_rules(
    s3: FakeS3, caplog: pytest.LogCaptureFixture
) -> None:
    bucket = s3.create_bucket()
    client = s3.client()
    other = {
        "ID": "someone-elses-rule",
        "Filter": {"Prefix": "logs/"},
        "Status": "Enabled",
        "Expiration": {"Days": 30},
    }
    client.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": [other]}
    )
    await _host(s3, bucket, expire_days=3).prepare()

    rules = {r["ID"]: r for r in client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["someone-elses-rule"]["Filter"] == {"Prefix": "logs/"}
    ours = rules[LIFECYCLE_RULE_ID]
    assert ours["Filter"] == {"Prefix": "seedance-bot/"}
    assert ours["Status"] == "Enabled"
    assert ours["Expiration"] == {"Days": 3}

    puts = len([r for r in s3.records if r.method == "PUT" and r.path == f"/{bucket}"])
    await _host(s3, bucket, expire_days=3).prepare()  # already there: nothing written
    assert len([r for r in s3.records if r.method == "PUT" and r.path == f"/{bucket}"]) == puts

    await _host(s3, bucket, expire_days=5).prepare()  # changed: updated in place
    rules = {r["ID"]: r for r in client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules[LIFECYCLE_RULE_ID]["Expiration"] == {"Days": 5}
    assert set(rules) == {"someone-elses-rule", LIFECYCLE_RULE_ID}


async def test_a_store_without_lifecycle_support_gets_one_warning_and_uploads_work(
    s3: FakeS3, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bucket = s3.create_bucket()
    s3.gate.refuse_lifecycle = True
    host = _host(s3, bucket)
    with caplog.at_level(logging.INFO, logger="bot.hosting.s3"):
        await host.prepare()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "NotImplemented" in warnings[0].getMessage()
    path = tmp_path / "a.png"
    path.write_bytes(image_bytes(400, 400, "PNG"))
    hosted = await host.host(path, file_name="a.png", mime_type="image/png")
    assert _get(hosted.url).content == path.read_bytes()


async def test_failures_are_hosting_errors_that_carry_no_credentials(
    s3: FakeS3, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bucket = s3.create_bucket()
    path = tmp_path / "a.jpg"
    path.write_bytes(image_bytes(400, 400))
    wrong_secret = "wrong-" + s3.secret_access_key
    cases = [
        (_host(s3, bucket, secret_access_key=wrong_secret), "SignatureDoesNotMatch"),
        (_host(s3, "no-such-bucket"), "NoSuchBucket"),
        (_host(s3, bucket, endpoint_url="http://127.0.0.1:9"), "EndpointConnectionError"),
    ]
    with caplog.at_level(logging.DEBUG):
        for host, reason in cases:
            with pytest.raises(S3HostingError) as info:
                await host.host(path, file_name="a.jpg", mime_type="image/jpeg")
            # The submit path treats it as "the service is down": the draft is given back.
            assert isinstance(info.value, HostingError)
            assert reason in info.value.message
            for secret in (s3.secret_access_key, wrong_secret):
                assert secret not in str(info.value)
                assert secret not in repr(host)
    for secret in (s3.secret_access_key, wrong_secret):
        assert secret not in caplog.text


def test_settings_for_s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    base: dict[str, object] = dict(
        telegram_bot_token=TOKEN, evolink_api_key="k", media_hosting="s3"
    )
    with pytest.raises(SettingsError) as info:
        load_settings(**base)
    assert str(info.value) == "S3_BUCKET is required when MEDIA_HOSTING=s3"
    assert "\n" not in str(info.value)

    monkeypatch.setenv("S3_BUCKET", "media")
    monkeypatch.setenv("S3_ENDPOINT_URL", "https://acct.r2.cloudflarestorage.com/")
    monkeypatch.setenv("S3_ACCESS_KEY_ID", "")  # empty = the default credential chain
    monkeypatch.setenv("S3_SECRET_ACCESS_KEY", "")
    settings = load_settings(**base)
    assert settings.media_hosting is MediaHosting.S3
    assert settings.s3_endpoint_url == "https://acct.r2.cloudflarestorage.com"
    assert (settings.s3_region, settings.s3_key_prefix) == ("us-east-1", "seedance-bot/")
    assert (settings.s3_url_ttl_seconds, settings.s3_expire_days) == (86400, 3)
    assert settings.s3_access_key_id is None and settings.s3_secret_access_key is None

    monkeypatch.setenv("S3_SECRET_ACCESS_KEY", "very-secret-value")
    with pytest.raises(SettingsError, match="must be set together") as info:
        load_settings(**base)
    assert "very-secret-value" not in str(info.value)
    monkeypatch.setenv("S3_ACCESS_KEY_ID", "AKIAEXAMPLE")
    settings = load_settings(**base)
    assert "very-secret-value" not in repr(settings)

    for name, value, message in [
        ("S3_URL_TTL_SECONDS", "604801", "S3_URL_TTL_SECONDS"),
        ("S3_KEY_PREFIX", " ", "S3_KEY_PREFIX"),  # the rule would cover the whole bucket
        ("S3_KEY_PREFIX", "/abs/", "S3_KEY_PREFIX"),
        ("S3_ENDPOINT_URL", "minio:9000", "S3_ENDPOINT_URL"),
        ("S3_EXPIRE_DAYS", "0", "S3_EXPIRE_DAYS"),
    ]:
        with monkeypatch.context() as patch:
            patch.setenv(name, value)
            with pytest.raises(SettingsError, match=message):
                load_settings(**base)
    with pytest.raises(SettingsError, match="S3_KEY_PREFIX"):
        load_settings(**base, s3_key_prefix="")
    with pytest.raises(SettingsError, match="must not exceed S3_EXPIRE_DAYS"):
        load_settings(**base, s3_url_ttl_seconds=604800, s3_expire_days=3)
    assert load_settings(**base, s3_url_ttl_seconds=604800, s3_expire_days=7)


@pytest.mark.e2e
async def test_photo_to_video_with_s3_hosting(
    make_bot: MakeBot,
    telegram: FakeTelegram,
    evolink: FakeEvolink,
    s3: FakeS3,
    caplog: pytest.LogCaptureFixture,
) -> None:
    chat = 901
    bucket = s3.create_bucket()
    caplog.set_level(logging.DEBUG)
    await make_bot(
        media_hosting="s3",
        s3_endpoint_url=s3.endpoint_url,
        s3_bucket=bucket,
        s3_region=s3.region,
        s3_access_key_id=s3.access_key_id,
        s3_secret_access_key=s3.secret_access_key,
        s3_url_ttl_seconds=7200,
    )
    rules = s3.client().get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["ID"] for r in rules] == [LIFECYCLE_RULE_ID]  # set on start

    telegram.send_photo(chat, chat, image_bytes(1280, 720), caption="a paper boat on a river")
    generate = telegram.send_text(chat, chat, "/generate")
    submission = await evolink.wait_for_submission(timeout=20)

    url = submission.body["image_urls"][0]
    assert url.startswith(f"{s3.endpoint_url}/{bucket}/seedance-bot/")
    assert re.search(r"[?&]X-Amz-Signature=[0-9a-f]{64}(&|$)", url)
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["7200"]
    reference = submission.references[0]
    assert (reference.kind, reference.width, reference.height) == ("image", 1280, 720)
    # The fake Evolink fetched it through the gate, with the presigned signature.
    fetched = [r for r in s3.records if r.auth == "query" and r.path == urlsplit(url).path]
    assert fetched and all(r.status is None for r in fetched)
    assert not evolink.uploads  # nothing went to Evolink's Files API

    await evolink.complete(submission.task_id)
    video = await telegram.wait_for(
        lambda c: c.method == "sendVideo" and c.ok and c.params.get("chat_id") == chat,
        timeout=20,
    )
    assert video.params["reply_parameters"]["message_id"] == generate["message_id"]
    assert s3.secret_access_key not in caplog.text
    for call in telegram.calls:
        assert s3.secret_access_key not in repr(call.params)
    assert s3.secret_access_key not in repr(submission.body)
