"""OAuth access tokens for Google service accounts (Vertex AI channels).

A channel carries a service-account key file (JSON). google-auth turns it into
a signed JWT assertion and exchanges that at the key file's ``token_uri`` for an
access token; tokens are cached per key file (by fingerprint) and refreshed
shortly before they expire. google-auth's transport blocks, so the exchange runs
in a worker thread; concurrent requests for the same key share one exchange.

With Redis configured a token is shared between nodes
(``oneapi:vertex_token:<fingerprint>``, expiring with the token): a node that needs
one takes the shared token while it is fresh and exchanges only when it is not, under a
Redis lock that makes the other nodes wait for (and adopt) the renewed token - so a
cluster asks Google once per key file and token lifetime, not once per node.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson
from google.auth import exceptions as google_exceptions
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from oneapi.errors import RelayError
from oneapi.relay.adaptors.common import redis_get_json, redis_set_json
from oneapi.relay.upstream_errors import UpstreamFailure

log = logging.getLogger("oneapi.relay.google")

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
REFRESH_MARGIN = 300.0  # seconds before expiry (at most a fifth of the lifetime)
TOKEN_TIMEOUT = 30.0
REDIS_PREFIX = "oneapi:vertex_token:"
WHAT = "Vertex AI access token"
LOCK_SECONDS = 15.0  # longest an exchange may hold the cluster-wide renewal lock
LOCK_WAIT_SECONDS = 5.0  # how long other nodes wait for it before renewing themselves


@dataclass(slots=True)
class _Entry:
    credentials: service_account.Credentials
    token: str = ""
    refresh_at: float = 0.0  # time.time() after which a new token is fetched
    expires_at: float = 0.0  # time.time() when Google stops accepting it


def fingerprint(key_file: str) -> str:
    return hashlib.sha256(key_file.encode()).hexdigest()


def load_credentials(key_file: str) -> service_account.Credentials:
    """Service-account credentials from a key file's text (UpstreamFailure if unusable)."""
    try:
        info = orjson.loads(key_file)
    except orjson.JSONDecodeError:
        info = None
    if not isinstance(info, dict) or info.get("type", "service_account") != "service_account":
        raise _bad_credentials("is not a service account key file (JSON)")
    try:
        credentials: service_account.Credentials = (
            service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=[SCOPE]))
    except (ValueError, KeyError, TypeError):
        # The message may quote the key file: never pass it on.
        raise _bad_credentials("could not be loaded (missing fields or a bad private key)") \
            from None
    return credentials


def _bad_credentials(what: str) -> UpstreamFailure:
    return UpstreamFailure(RelayError(
        401, f"the channel's service account credentials {what}",
        type="authentication_error", code="invalid_credentials"))


class _TimedRequest(Request):
    """google-auth's requests transport with a shorter default timeout."""

    def __call__(self, url: str, method: str = "GET", body: Any = None,
                 headers: Any = None, timeout: Any = TOKEN_TIMEOUT,
                 **kwargs: Any) -> Any:
        return super().__call__(url, method=method, body=body,  # type: ignore[no-untyped-call]
                                headers=headers, timeout=timeout, **kwargs)


def _refresh_blocking(credentials: service_account.Credentials) -> None:
    """Fetch a new token (in a worker thread)."""
    request = _TimedRequest()
    try:
        credentials.refresh(request)  # type: ignore[no-untyped-call]
    finally:
        request.session.close()


def _refresh_at(expiry: dt.datetime | None, now: float) -> float:
    if expiry is None:
        return now + 3000.0  # no expiry reported: treat as the usual hour, minus a margin
    expires = expiry.replace(tzinfo=dt.UTC).timestamp() if expiry.tzinfo is None \
        else expiry.timestamp()
    lifetime = max(0.0, expires - now)
    return now + lifetime - min(REFRESH_MARGIN, lifetime / 5)


class AccessTokens:
    """Access tokens per service-account key file, fetched and refreshed as needed."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._inflight: dict[str, asyncio.Future[str]] = {}
        self.exchanges = 0  # token endpoint calls made (for tests and metrics)

    def cached(self, key_file: str) -> str | None:
        """A fresh token for this key file, if one is at hand (no I/O)."""
        entry = self._entries.get(fingerprint(key_file))
        if entry is not None and entry.token and time.time() < entry.refresh_at:
            return entry.token
        return None

    async def token(self, key_file: str, redis: Any = None) -> str:
        """A fresh token: cached, else shared through `redis` (a redis.asyncio client,
        optional), else fetched (one exchange at a time per key file)."""
        cached = self.cached(key_file)
        if cached is not None:
            return cached
        key = fingerprint(key_file)
        loop = asyncio.get_running_loop()
        pending = self._inflight.get(key)
        if pending is None or pending.get_loop() is not loop:
            pending = loop.create_task(self._renew(key, key_file, redis))
            self._inflight[key] = pending
            pending.add_done_callback(lambda done: self._forget(key, done))
        # Shielded: a client going away must not cancel an exchange others wait for.
        return await asyncio.shield(pending)

    def _forget(self, key: str, done: asyncio.Future[str]) -> None:
        if self._inflight.get(key) is done:
            del self._inflight[key]
        if not done.cancelled():
            done.exception()  # retrieved: no "never retrieved" warning if nobody waits

    async def _renew(self, key: str, key_file: str, redis: Any) -> str:
        entry = self._entries.get(key)
        if entry is None:
            entry = _Entry(load_credentials(key_file))  # checks the key file, shared or not
        if redis is None:
            return await self._exchange(key, entry)
        if await self._adopt_shared(redis, key, entry):
            return entry.token
        # One exchange for the whole cluster: the node holding the lock renews and shares;
        # the others wait for it (briefly) and adopt its token. If the holder dies or Redis
        # fails, they renew themselves - a token is never denied for want of the lock.
        lock = redis.lock(REDIS_PREFIX + "lock:" + key, timeout=LOCK_SECONDS,
                          blocking_timeout=LOCK_WAIT_SECONDS)
        try:
            locked = bool(await lock.acquire())
        except Exception:  # Redis unavailable: renew on our own
            locked = False
        try:
            if locked and await self._adopt_shared(redis, key, entry):
                return entry.token  # renewed by the node that held the lock before us
            token = await self._exchange(key, entry)
            await _share(redis, key, entry)
            return token
        finally:
            if locked:
                with contextlib.suppress(Exception):
                    await lock.release()

    async def _adopt_shared(self, redis: Any, key: str, entry: _Entry) -> bool:
        shared = await _shared(redis, key)
        if shared is None:
            return False
        entry.token, entry.refresh_at = shared
        self._entries[key] = entry
        return True

    async def _exchange(self, key: str, entry: _Entry) -> str:
        credentials = entry.credentials
        self.exchanges += 1
        try:
            await asyncio.to_thread(_refresh_blocking, credentials)
        except google_exceptions.RefreshError as exc:
            retryable = bool(getattr(exc, "retryable", False))
            detail = exc.args[0] if exc.args and isinstance(exc.args[0], str) else ""
            log.warning("service account %s: token exchange refused: %s",
                        _account(credentials), detail[:200])
            if retryable:
                raise UpstreamFailure(RelayError(
                    502, "the Google token endpoint failed; try again later",
                    type="upstream_error", code="token_exchange_failed")) from None
            raise UpstreamFailure(RelayError(
                401, "Google refused the channel's service account credentials"
                + (f" ({detail[:200]})" if detail else ""),
                type="authentication_error", code="invalid_credentials")) from None
        except google_exceptions.TransportError as exc:
            log.warning("service account %s: token endpoint unreachable: %r",
                        _account(credentials), exc)
            raise UpstreamFailure(RelayError(
                502, "the Google token endpoint could not be reached",
                type="upstream_error", code="token_exchange_failed")) from None
        token = credentials.token
        if not isinstance(token, str) or not token:
            raise UpstreamFailure(RelayError(502, "the Google token endpoint sent no token",
                                             type="upstream_error",
                                             code="token_exchange_failed"))
        entry.token = token
        entry.refresh_at = _refresh_at(credentials.expiry, time.time())
        entry.expires_at = _expires_at(credentials.expiry, entry.refresh_at)
        self._entries[key] = entry
        return token

    def clear(self) -> None:
        self._entries.clear()


def _expires_at(expiry: dt.datetime | None, refresh_at: float) -> float:
    if expiry is None:
        return refresh_at
    return (expiry.replace(tzinfo=dt.UTC) if expiry.tzinfo is None else expiry).timestamp()


async def _shared(redis: Any, key: str) -> tuple[str, float] | None:
    """Another node's token for this key file while it is fresh (None: fetch one)."""
    data = await redis_get_json(redis, REDIS_PREFIX + key, WHAT)
    if data is None or not isinstance(data.get("token"), str):
        return None
    refresh_at = data.get("refresh_at")
    if not isinstance(refresh_at, int | float) or refresh_at <= time.time():
        return None
    return data["token"], float(refresh_at)


async def _share(redis: Any, key: str, entry: _Entry) -> None:
    await redis_set_json(redis, REDIS_PREFIX + key,
                         {"token": entry.token, "refresh_at": entry.refresh_at},
                         int(entry.expires_at - time.time()), WHAT)


def _account(credentials: service_account.Credentials) -> str:
    email = getattr(credentials, "service_account_email", "")
    return email if isinstance(email, str) else "?"
