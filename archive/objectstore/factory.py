"""Build an ObjectStore from a URL: ``file:///path`` (or a plain path) or
``minio://ACCESS:SECRET@host:port/bucket[?secure=1&lock=1]``."""

from __future__ import annotations

import os
import pathlib
from urllib.parse import parse_qs, unquote, urlparse

from archive.objectstore.base import ObjectStore

#: seconds to wait for the object store to accept a connection, and for each read of an answer.
#: The SDK's defaults (5 minutes each, 5 retries with back-off) made every request wait ~6 s
#: before failing when MinIO was down, and a hung MinIO would have held workers for minutes.
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 120.0


def open_store(url: str, *, base: pathlib.Path | None = None, object_lock: bool = False) -> ObjectStore:
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        from archive.objectstore.local import LocalObjectStore

        path = pathlib.Path(unquote(parsed.path if parsed.scheme == "file" else url))
        if not path.is_absolute() and base is not None:
            path = base / path
        return LocalObjectStore(path)
    if parsed.scheme == "minio":
        import certifi
        import urllib3
        from minio import Minio

        from archive.objectstore.s3 import S3ObjectStore

        q = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        bucket = parsed.path.strip("/")
        if not bucket or not parsed.hostname:
            raise ValueError("OBJECT_STORE_URL must look like minio://KEY:SECRET@host:port/bucket")
        client = Minio(
            f"{parsed.hostname}:{parsed.port or 9000}",
            access_key=unquote(parsed.username or ""),
            secret_key=unquote(parsed.password or ""),
            secure=q.get("secure", "0") in ("1", "true"),
            region=q.get("region", "us-east-1"),
            http_client=urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT),
                maxsize=10,
                cert_reqs="CERT_REQUIRED",
                ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
                # one more try for a refused connection; server errors as the SDK retries them
                retries=urllib3.Retry(total=3, connect=1, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
            ),
        )
        return S3ObjectStore(client, bucket, object_lock=object_lock or q.get("lock", "0") in ("1", "true"))
    raise ValueError(f"unsupported object store URL scheme {parsed.scheme!r}")
