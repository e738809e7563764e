"""Calls to the upstream service: one after another (sync) or all at once (async).

The sync client keeps one ``httpx.Client`` per process (pooled keep-alive connections,
thread-safe). Flask runs every ``async def`` view in a fresh event loop, and an async
client is bound to the loop it was created in, so the async path opens its
``httpx.AsyncClient`` inside the view; the SSL context it would otherwise build on every
request is made once and shared (loopback is plain HTTP, but httpx builds it anyway).
"""

from __future__ import annotations

import asyncio
import os
import ssl
import threading
from typing import Any

import httpx

TIMEOUT = httpx.Timeout(30.0, connect=5.0)
_SSL_CONTEXT = ssl.create_default_context()


class UpstreamError(Exception):
    """The upstream service did not answer as expected (the view answers 502)."""


def _check(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise UpstreamError(f"upstream answered HTTP {response.status_code}")
    return response.json()


class UpstreamClient:
    """Sequential calls over a per-process connection pool."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._client: httpx.Client | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def _http(self) -> httpx.Client:
        # created lazily and per process: a pool must not be shared across a fork
        if self._client is None or self._pid != os.getpid():
            with self._lock:
                if self._client is None or self._pid != os.getpid():
                    self._client = httpx.Client(
                        base_url=self.base_url, timeout=TIMEOUT, verify=_SSL_CONTEXT
                    )
                    self._pid = os.getpid()
        return self._client

    def delays(self, calls: int, delay_ms: int) -> list[dict[str, Any]]:
        client = self._http()
        try:
            return [_check(client.get("/delay", params={"ms": delay_ms})) for _ in range(calls)]
        except httpx.HTTPError as exc:
            raise UpstreamError(f"upstream unreachable: {type(exc).__name__}") from exc

    async def delays_concurrently(self, calls: int, delay_ms: int) -> list[dict[str, Any]]:
        limits = httpx.Limits(max_connections=calls, max_keepalive_connections=0)
        try:
            async with httpx.AsyncClient(
                base_url=self.base_url, timeout=TIMEOUT, verify=_SSL_CONTEXT, limits=limits
            ) as client:
                responses = await asyncio.gather(
                    *(client.get("/delay", params={"ms": delay_ms}) for _ in range(calls))
                )
        except httpx.HTTPError as exc:
            raise UpstreamError(f"upstream unreachable: {type(exc).__name__}") from exc
        return [_check(r) for r in responses]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
