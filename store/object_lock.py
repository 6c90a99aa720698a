"""A lock object on S3-compatible storage: one writer of a store at a time, across machines.

``flock`` cannot reach object storage, so the study lock of a store there
is an object, ``runs/.lock``, created with a conditional write: ``PutObject``
with ``If-None-Match: *`` succeeds for exactly one of several writers racing
for it and answers ``412 Precondition Failed`` to the others (AWS S3 has it
since 2024, MinIO and ``moto`` too). Unlike ``flock``, nothing releases the
object when its holder dies, so the holder rewrites it every
``HEARTBEAT_SECONDS`` (``If-Match`` its own ETag, so a holder that lost the
lock notices); a lock not rewritten for ``STALE_SECONDS`` is taken over by
the next run, again with ``If-Match`` on the stale ETag so that only one
taker wins. The holder deletes the object when done (``If-Match``, so it
never deletes a successor's lock).

``boto3`` sends the conditional requests (``pyarrow.fs`` has none); it reads
the same ``AWS_*`` environment variables as the rest of the store.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from typing import Any

HEARTBEAT_SECONDS = 15.0
"""How often a holder rewrites its lock object."""
STALE_SECONDS = 120.0
"""A lock object not rewritten for this long belongs to a run that died; the next run takes it over."""
STALE_ENV = "IRISIN_LOCK_STALE_SECONDS"
"""Environment override of ``STALE_SECONDS`` (a shorter wait after a crash; never below a few heartbeats)."""


def stale_seconds() -> float:
    """``STALE_SECONDS``, or ``IRISIN_LOCK_STALE_SECONDS`` when set to a positive number."""
    try:
        value = float(os.environ.get(STALE_ENV, "") or STALE_SECONDS)
    except ValueError:
        return STALE_SECONDS
    return value if value > 0 else STALE_SECONDS


def _split(url: str) -> tuple[str, str]:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return bucket, key


def _client() -> Any:
    import boto3  # imported here: only a store on object storage needs it

    return boto3.client("s3")


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


_LOST = ("PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "404", "412", "409")
"""Answers that mean someone else's write won (or the object is gone)."""


class ObjectLock:
    """The lock object at ``url`` (``s3://bucket/key``); ``acquire`` once, then ``release``."""

    def __init__(self, url: str, *, stale_after: float | None = None) -> None:
        self.url = url
        self.bucket, self.key = _split(url)
        self.stale_seconds = stale_seconds() if stale_after is None else stale_after
        self.heartbeat_seconds = min(HEARTBEAT_SECONDS, self.stale_seconds / 4)
        self._s3 = _client()
        self._etag: str | None = None
        self._body: dict[str, Any] = {}
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        self.lost = False
        """Set when a heartbeat found the lock taken over (this run was thought dead)."""

    def _put(self, **condition: str) -> str:
        self._body["heartbeat"] = time.time()
        answer = self._s3.put_object(
            Bucket=self.bucket,
            Key=self.key,
            Body=json.dumps(self._body).encode(),
            ContentType="application/json",
            **condition,
        )
        return str(answer["ETag"])

    def holder(self) -> tuple[dict[str, Any], str] | None:
        """The lock object's content and ETag, or None when there is none."""
        try:
            answer = self._s3.get_object(Bucket=self.bucket, Key=self.key)
        except Exception as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                return None
            raise
        try:
            body = json.loads(answer["Body"].read())
        except ValueError:
            body = {}
        return (body if isinstance(body, dict) else {}), str(answer["ETag"])

    def try_acquire(self, what: str) -> str | None:
        """Take the lock: None on success, else a description of the live holder."""
        self._body = {
            "holder": f"pid {os.getpid()} on {socket.gethostname()}, {what}",
            "token": uuid.uuid4().hex,
            "since": time.time(),
        }
        try:
            self._etag = self._put(IfNoneMatch="*")
            self._start_heartbeat()
            return None
        except Exception as exc:
            if _code(exc) not in _LOST:
                raise
        seen = self.holder()
        if seen is None:  # released between our write and our read: try again at the next poll
            return "a run that just finished"
        body, etag = seen
        age = time.time() - float(body.get("heartbeat", 0.0) or 0.0)
        if age > self.stale_seconds:
            try:
                self._etag = self._put(IfMatch=etag)
                self._start_heartbeat()
                return None
            except Exception as exc:
                if _code(exc) not in _LOST:
                    raise
                return "another run taking over a stale lock"
        return f"{body.get('holder', 'unknown')}, last seen {age:.0f} s ago"

    def _start_heartbeat(self) -> None:
        self._stop.clear()
        self._beat = threading.Thread(target=self._heartbeat, name="irisin-lock", daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                self._etag = self._put(IfMatch=self._etag or "")
            except Exception as exc:
                if _code(exc) in _LOST:
                    self.lost = True
                    return
                # a network error: keep trying; the lock goes stale only after STALE_SECONDS

    def release(self) -> None:
        """Stop the heartbeat and delete the lock object, if it is still ours."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        if self._etag is None or self.lost:
            return
        try:
            self._s3.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=self._etag)
        except Exception as exc:
            if _code(exc) not in _LOST:
                raise
        self._etag = None
