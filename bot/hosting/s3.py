"""Hosting reference media in any S3-compatible store (AWS S3, Cloudflare R2, MinIO, Backblaze B2).

Files are uploaded under a key prefix with a random, unguessable name and handed out as presigned
GET URLs that expire (SigV4, at most 7 days). A lifecycle rule on the prefix deletes them after a
few days. boto3 is synchronous: every call runs in a worker thread.

Neither the secret key nor the signature of a URL is ever logged, and errors keep only the S3
error code: the message of a refused request may echo what was sent.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import threading
import time
from pathlib import Path, PurePosixPath
from typing import Any

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bot.hosting import Hosted, HostingError
from storage.db import Clock

log = logging.getLogger(__name__)

LIFECYCLE_RULE_ID = "seedance-bot-expire-references"
MB = 1024 * 1024
# Multipart above 8 MB, in 8 MB parts read from disk: never the whole file in memory.
TRANSFER = TransferConfig(
    multipart_threshold=8 * MB, multipart_chunksize=8 * MB, max_concurrency=4, use_threads=True
)
_SAFE_SUFFIX = re.compile(r"\.[a-z0-9]{1,8}")


class S3HostingError(HostingError):
    """The bucket refused or could not be reached; the message holds only the S3 error code."""

    def __init__(self, operation: str, reason: str) -> None:
        super().__init__("s3_error", f"S3 {operation} failed: {reason}")


def _reason(exc: BaseException) -> str:
    """The S3 error code (AccessDenied, NoSuchBucket...) or the exception's class name."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ClientError):
            return str(seen.response.get("Error", {}).get("Code") or "ClientError")
        seen = seen.__cause__ or seen.__context__
    return type(exc).__name__


class S3Host:
    """A `MediaHost` on an S3 bucket, with presigned, expiring URLs."""

    def __init__(
        self,
        *,
        bucket: str,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        key_prefix: str = "seedance-bot/",
        url_ttl_seconds: int = 24 * 3600,
        expire_days: int = 3,
        clock: Clock = time.time,
    ) -> None:
        self._bucket = bucket
        self._region = region
        self._endpoint_url = endpoint_url or None
        self._access_key_id = access_key_id
        self._secret_access_key = secret_access_key
        self._prefix = key_prefix
        self._ttl = url_ttl_seconds
        self._expire_days = expire_days
        self._clock = clock
        self._client_lock = threading.Lock()
        self._s3: Any = None

    def __repr__(self) -> str:  # never the credentials
        return f"S3Host(bucket={self._bucket!r}, endpoint={self._endpoint_url!r})"

    def _client(self) -> Any:
        """The boto3 client, made once (in a worker thread: loading it reads many files)."""
        with self._client_lock:
            if self._s3 is None:
                config = Config(
                    signature_version="s3v4",
                    region_name=self._region,
                    # AWS: virtual-hosted URLs; other stores (MinIO, R2, B2): path style works
                    # everywhere, and needs no DNS per bucket.
                    s3={"addressing_style": "path" if self._endpoint_url else "virtual"},
                    retries={"max_attempts": 3, "mode": "standard"},
                    connect_timeout=10,
                    read_timeout=60,
                    # Newer boto3 adds CRC checksums that several S3-compatible stores refuse.
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                )
                session = boto3.session.Session(
                    aws_access_key_id=self._access_key_id,
                    aws_secret_access_key=self._secret_access_key,
                    region_name=self._region,
                )
                self._s3 = session.client("s3", endpoint_url=self._endpoint_url, config=config)
            return self._s3

    # ------------------------------------------------------------------ MediaHost

    async def host(self, path: Path, *, file_name: str, mime_type: str) -> Hosted:
        """Upload the file (streamed from disk) and return a presigned GET URL for it."""
        key = self._new_key(file_name)
        expires_at = self._clock() + self._ttl
        try:
            url = await asyncio.to_thread(self._upload_and_sign, path, key, mime_type)
        except (BotoCoreError, ClientError, Boto3Error, OSError) as exc:
            reason = _reason(exc)
            log.warning("S3 upload of %s to bucket %s failed: %s", key, self._bucket, reason)
            raise S3HostingError("upload", reason) from None
        return Hosted(url=url, expires_at=expires_at, remote_id=key)

    def _new_key(self, file_name: str) -> str:
        suffix = PurePosixPath(file_name).suffix.lower()
        suffix = suffix if _SAFE_SUFFIX.fullmatch(suffix) else ""
        return f"{self._prefix}{secrets.token_urlsafe(24)}{suffix}"

    def _upload_and_sign(self, path: Path, key: str, mime_type: str) -> str:
        client = self._client()
        client.upload_file(
            str(path),
            self._bucket,
            key,
            ExtraArgs={"ContentType": mime_type},
            Config=TRANSFER,
        )
        url: str = client.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=self._ttl
        )
        return url

    # ------------------------------------------------------------------ start-up

    async def prepare(self) -> None:
        """Make sure objects under the prefix expire after `expire_days` (a lifecycle rule).

        Stores without lifecycle support, or keys that may not set it, get one warning: the
        files then stay until removed by hand, which costs storage but breaks nothing.
        """
        try:
            changed = await asyncio.to_thread(self._ensure_lifecycle_rule)
        except (BotoCoreError, ClientError, Boto3Error) as exc:
            log.warning(
                "S3 bucket %s: could not set the lifecycle rule (%s); uploaded references will "
                "not expire by themselves, delete %s* yourself or add a rule",
                self._bucket,
                _reason(exc),
                self._prefix,
            )
            return
        if changed:
            log.info(
                "S3 bucket %s: objects under %s now expire after %s days",
                self._bucket,
                self._prefix,
                self._expire_days,
            )

    def _rule(self) -> dict[str, Any]:
        return {
            "ID": LIFECYCLE_RULE_ID,
            "Filter": {"Prefix": self._prefix},
            "Status": "Enabled",
            "Expiration": {"Days": self._expire_days},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }

    def _ensure_lifecycle_rule(self) -> bool:
        """Add or update our rule, keeping every other rule of the bucket; whether it changed."""
        client = self._client()
        try:
            current = client.get_bucket_lifecycle_configuration(Bucket=self._bucket)
            rules: list[dict[str, Any]] = list(current.get("Rules") or [])
        except ClientError as exc:
            if _reason(exc) != "NoSuchLifecycleConfiguration":
                raise
            rules = []
        wanted = self._rule()
        ours = [r for r in rules if r.get("ID") == LIFECYCLE_RULE_ID]
        if len(ours) == 1 and _same_rule(ours[0], wanted):
            return False
        others = [r for r in rules if r.get("ID") != LIFECYCLE_RULE_ID]
        client.put_bucket_lifecycle_configuration(
            Bucket=self._bucket, LifecycleConfiguration={"Rules": [*others, wanted]}
        )
        return True


def _same_rule(have: dict[str, Any], want: dict[str, Any]) -> bool:
    prefix = (have.get("Filter") or {}).get("Prefix", have.get("Prefix"))
    return bool(
        prefix == want["Filter"]["Prefix"]
        and have.get("Status") == want["Status"]
        and (have.get("Expiration") or {}).get("Days") == want["Expiration"]["Days"]
    )
