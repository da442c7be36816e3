"""A real S3-compatible server on 127.0.0.1: moto's server app, behind a strict SigV4 gate.

moto (in server mode, the app ``ThreadedMotoServer`` runs) implements the S3 API over HTTP, so
boto3 talks to it exactly as to AWS, R2 or MinIO. What moto does not do is check signatures:
it serves a presigned URL whose signature was tampered with, or that expired long ago. Real
stores refuse both, so the gate in front of it does what they do: every request must be signed
with SigV4 by the known key, in the Authorization header (SDK calls) or in the query string
(presigned URLs, ``X-Amz-Expires`` at most 7 days), and an expired URL is refused. The gate
computes the signature from the SigV4 specification itself, not with botocore, so a URL that
passes is one any S3 store would accept.

The server is served by werkzeug in a thread, as ``ThreadedMotoServer`` does (whose app cannot
be wrapped), from the pieces ``moto.server`` exports.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

import boto3
import httpx
from botocore.config import Config
from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

MAX_PRESIGN_SECONDS = 7 * 24 * 3600
_UNSIGNED = "UNSIGNED-PAYLOAD"

StartResponse = Any
Environ = dict[str, Any]


@dataclass
class GateRecord:
    """One request the gate saw: ``auth`` is "header", "query" or "none"; ``status`` its answer
    from the gate (None when passed on to moto)."""

    method: str
    path: str
    auth: str
    status: int | None
    user_agent: str


class _QuietHandler(MotoRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _uri_encode(text: str) -> str:
    return quote(text, safe="-_.~")


def _header(environ: Environ, name: str) -> str:
    key = name.upper().replace("-", "_")
    if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        key = "HTTP_" + key
    return " ".join(str(environ.get(key, "")).split())


class SigV4Gate:
    """WSGI middleware: only correctly signed, unexpired S3 requests reach the app."""

    def __init__(self, app: Any, credentials: dict[str, str], region: str) -> None:
        self.app = app
        self.credentials = credentials
        self.region = region
        self.clock_offset = 0.0  # seconds added to the clock, to age presigned URLs
        self.refuse_lifecycle = False  # answer lifecycle calls NotImplemented, as B2 does
        self.records: list[GateRecord] = []

    def __call__(self, environ: Environ, start_response: StartResponse) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/moto-api/"):
            return self.app(environ, start_response)
        refusal, auth = self._check(environ)
        if refusal is None and self.refuse_lifecycle and "lifecycle" in environ["QUERY_STRING"]:
            refusal = (501, "NotImplemented", "Lifecycle configuration is not implemented")
        self.records.append(
            GateRecord(
                environ.get("REQUEST_METHOD", ""),
                path,
                auth,
                refusal[0] if refusal else None,
                _header(environ, "user-agent"),
            )
        )
        if refusal is None:
            return self.app(environ, start_response)
        status, code, message = refusal
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
        ).encode()
        reason = {400: "Bad Request", 403: "Forbidden", 501: "Not Implemented"}[status]
        headers = [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
        start_response(f"{status} {reason}", headers)
        return [body]

    def _check(self, environ: Environ) -> tuple[tuple[int, str, str] | None, str]:
        query = self._query(environ.get("QUERY_STRING", ""))
        names = {name for name, _ in query}
        authorization = _header(environ, "authorization")
        if authorization:
            fields = dict(
                part.strip().split("=", 1)
                for part in authorization.removeprefix("AWS4-HMAC-SHA256").split(",")
                if "=" in part
            )
            if not authorization.startswith("AWS4-HMAC-SHA256 ") or len(fields) != 3:
                return (400, "InvalidArgument", "Unsupported Authorization Type"), "header"
            amz_date = _header(environ, "x-amz-date")
            payload = _header(environ, "x-amz-content-sha256")
            refusal = self._verify(
                environ, query, fields["Credential"], fields["SignedHeaders"],
                fields["Signature"], amz_date, payload,
            )  # fmt: skip
            return refusal, "header"
        if "X-Amz-Signature" in names:
            params = dict(query)
            try:
                expires = int(params.get("X-Amz-Expires", ""))
                signed_at = datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
            except (KeyError, ValueError):
                return (400, "AuthorizationQueryParametersError", "Malformed query"), "query"
            if not 1 <= expires <= MAX_PRESIGN_SECONDS:
                return (
                    (400, "AuthorizationQueryParametersError", "X-Amz-Expires out of range"),
                    "query",
                )
            unsigned = [(n, v) for n, v in query if n != "X-Amz-Signature"]
            refusal = self._verify(
                environ, unsigned, params.get("X-Amz-Credential", ""),
                params.get("X-Amz-SignedHeaders", ""), params["X-Amz-Signature"],
                params["X-Amz-Date"], _UNSIGNED,
            )  # fmt: skip
            if refusal is None:
                now = time.time() + self.clock_offset
                if now > signed_at.replace(tzinfo=UTC).timestamp() + expires:
                    refusal = (403, "AccessDenied", "Request has expired")
            return refusal, "query"
        return (403, "AccessDenied", "Access Denied"), "none"

    @staticmethod
    def _query(raw: str) -> list[tuple[str, str]]:
        pairs = []
        for part in raw.split("&"):
            if part:
                name, _, value = part.partition("=")
                pairs.append((unquote(name), unquote(value)))
        return pairs

    def _verify(
        self,
        environ: Environ,
        query: list[tuple[str, str]],
        credential: str,
        signed_headers: str,
        signature: str,
        amz_date: str,
        payload: str,
    ) -> tuple[int, str, str] | None:
        scope = credential.split("/")
        if len(scope) != 5 or scope[4] != "aws4_request" or scope[3] != "s3":
            return 400, "AuthorizationHeaderMalformed", "Malformed credential"
        key_id, day, region = scope[0], scope[1], scope[2]
        secret = self.credentials.get(key_id)
        if secret is None:
            return 403, "InvalidAccessKeyId", "The AWS Access Key Id does not exist"
        if region != self.region:
            return 400, "AuthorizationHeaderMalformed", f"wrong region {region}"
        raw_uri = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
        path = raw_uri.split("?", 1)[0] or "/"
        headers = signed_headers.split(";")
        if "host" not in headers:
            return 403, "AccessDenied", "host must be signed"
        canonical = "\n".join(
            [
                environ.get("REQUEST_METHOD", "GET"),
                path,
                "&".join(f"{_uri_encode(n)}={_uri_encode(v)}" for n, v in sorted(query)),
                "".join(f"{h}:{_header(environ, h)}\n" for h in headers),
                signed_headers,
                payload,
            ]
        )
        to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256",
                amz_date,
                "/".join(scope[1:]),
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )
        key = _hmac(("AWS4" + secret).encode(), day)
        for part in (region, "s3", "aws4_request"):
            key = _hmac(key, part)
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return 403, "SignatureDoesNotMatch", "The request signature does not match"
        return None


class FakeS3:
    """moto's S3 behind the SigV4 gate, on a free port of 127.0.0.1, in a thread.

    Use as ``with FakeS3() as s3:``; ``s3.endpoint_url``, ``s3.access_key_id`` and
    ``s3.secret_access_key`` configure a client; ``s3.client()`` is one.
    """

    region = "us-east-1"

    def __init__(self) -> None:
        self.access_key_id = "AKIA" + secrets.token_hex(8).upper()
        self.secret_access_key = secrets.token_urlsafe(30)
        self.endpoint_url = ""
        self.gate = SigV4Gate(
            DomainDispatcherApplication(create_backend_app),
            {self.access_key_id: self.secret_access_key},
            self.region,
        )
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Serve until ``stop``."""
        self._server = make_server(
            "127.0.0.1", 0, self.gate, threaded=True, request_handler=_QuietHandler
        )
        self.endpoint_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Forget every bucket (moto's state is per process) and stop serving."""
        if self._server is None or self._thread is None:
            return
        try:
            httpx.post(f"{self.endpoint_url}/moto-api/reset", trust_env=False, timeout=10)
        finally:
            self._server.shutdown()
            self._thread.join(10)
            self._server.server_close()
            self._server = self._thread = None

    def __enter__(self) -> FakeS3:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, *, secret_access_key: str | None = None) -> Any:
        """A boto3 S3 client signing with our key (or another secret, to be refused)."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=secret_access_key or self.secret_access_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def create_bucket(self, name: str | None = None) -> str:
        """A new empty bucket; its name."""
        bucket = name or f"media-{secrets.token_hex(4)}"
        self.client().create_bucket(Bucket=bucket)
        return bucket

    @property
    def records(self) -> list[GateRecord]:
        """Every request the gate saw."""
        return self.gate.records
