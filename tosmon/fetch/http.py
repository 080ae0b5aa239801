"""Fetch documents concurrently and politely, turning every failure into a FetchError.

One httpx.AsyncClient serves the whole run; a global and a per-host limit keep tosmon polite;
transient failures (5xx, 429, timeouts, resets) are retried with backoff, honouring Retry-After;
bodies are streamed and capped so a hostile page cannot exhaust memory. httpx's exceptions stop
here: the rest of tosmon only sees FetchError.

A document fetched through a proxy (a variant's `proxy:`) gets a client of its own per proxy, with
httpx's transport (which speaks HTTP CONNECT and, with socksio, SOCKS5); its password comes from
the environment variable the variant names, read when the client is made.
"""

from __future__ import annotations

import asyncio
import email.utils
import errno
import os
import re
import select
import socket
import ssl
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpcore
import httpx

from tosmon import __version__
from tosmon.errors import FetchError
from tosmon.models import Document, Snapshot, utcnow

USER_AGENT = f"tosmon/{__version__} (terms-of-service change monitor; +https://github.com/tosmon/tosmon)"
MAX_RETRY_AFTER = 60.0
# A redirect that lands here means the page now wants a session: what it serves is not the terms.
LOGIN_PATH = re.compile(r"(^|[/_.-])(log-?in|sign-?in|signon|sso|auth|oauth2?)([/_.?-]|$)", re.IGNORECASE)
# httpcore's words for a connection closed before any byte of the response came
HUNG_UP = "Server disconnected without sending a response"


@dataclass(frozen=True)
class FetchSettings:
    """How hard and how politely to fetch; tests pass short timeouts and backoffs."""

    timeout: float = 30.0  # seconds for one attempt, from connecting to the last byte
    retries: int = 2
    backoff: float = 1.0
    max_bytes: int = 10_000_000  # decoded; the largest real legal pages are under 1 MB
    per_host: int = 2
    total: int = 100
    host_delay: float = 0.0
    user_agent: str = USER_AGENT


class Fetcher:
    """Fetches documents within the run's concurrency limits."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: FetchSettings,
        now: Callable[[], datetime] = utcnow,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.client = client
        self.settings = settings
        self.now = now
        self.environ = environ  # where proxy passwords are read
        self._total = asyncio.Semaphore(settings.total)
        self._hosts: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(settings.per_host))
        self._proxied: dict[tuple[str, str | None], httpx.AsyncClient] = {}

    def _client(self, document: Document) -> httpx.AsyncClient:
        """The run's client, or the one that goes through the document's proxy."""
        if document.proxy is None:
            return self.client
        key = (document.proxy, document.proxy_password_env)
        if key not in self._proxied:
            server, auth = proxy_login(document, self.environ)
            self._proxied[key] = proxy_client(self.settings, server, auth)
        return self._proxied[key]

    async def aclose(self) -> None:
        """Close the clients of the proxies (the run's own client belongs to whoever passed it)."""
        for client in self._proxied.values():
            await client.aclose()
        self._proxied.clear()

    async def fetch(
        self, document: Document, etag: str | None = None, last_modified: str | None = None
    ) -> Snapshot | None:
        """The document's current snapshot, or None when the server says it has not changed (304)."""
        host = urlsplit(document.url).hostname or ""
        attempt = 0
        while True:
            try:
                # The host's slot first: a task waiting for its host must not hold one of the run's slots.
                async with self._hosts[host], self._total:
                    try:
                        result = await self._fetch_once(document, etag, last_modified)
                    except _HungUp:
                        # the server closed a kept-alive connection as the request went out (its idle
                        # timeout ran out): sent again at once on a new connection, as browsers do
                        result = await self._fetch_once(document, etag, last_modified)
                    if self.settings.host_delay:
                        await asyncio.sleep(self.settings.host_delay)
                    return result
            except FetchError as error:
                if not error.transient:
                    raise
                if attempt >= self.settings.retries:
                    if not attempt:
                        raise
                    raise FetchError(  # still transient: a later run may well succeed
                        f"{error.reason} (gave up after {attempt + 1} attempts)",
                        transient=True,
                        status=error.status,
                    ) from None
                attempt += 1
                delay = self.settings.backoff * 2 ** (attempt - 1)
                if error.retry_after is not None:
                    delay = min(max(delay, error.retry_after), MAX_RETRY_AFTER)
                await asyncio.sleep(delay)

    async def _fetch_once(
        self, document: Document, etag: str | None, last_modified: str | None
    ) -> Snapshot | None:
        headers = {
            "User-Agent": self.settings.user_agent,
            "Accept-Language": document.accept_language,
            "Accept": "text/html,application/xhtml+xml,application/pdf;q=0.9,text/plain;q=0.8,*/*;q=0.5",
            # Only what _decoder can undo within the size cap.
            "Accept-Encoding": "gzip, deflate",
            **dict(document.headers),
        }
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        client = self._client(document)
        try:
            # httpx's timeout bounds each read; this bounds the whole attempt, so a server trickling
            # one byte at a time cannot hold the run forever.
            async with (
                asyncio.timeout(self.settings.timeout),
                client.stream(
                    "GET", document.url, headers=headers, timeout=self.settings.timeout
                ) as response,
            ):
                if response.status_code == 304:
                    await response.aread()  # its empty body read, the connection is kept for the next request
                    return None
                if response.status_code >= 400:
                    raise _http_error(response)
                if response.history and LOGIN_PATH.search(response.url.path):
                    raise FetchError(f"redirected to a login page ({response.url}); not recorded")
                body = await self._read(response)
                return Snapshot(
                    requested_url=document.url,
                    final_url=str(response.url),
                    status=response.status_code,
                    content_type=response.headers.get("content-type", ""),
                    fetched_at=self.now(),
                    body=body,
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                )
        except (TimeoutError, httpx.TimeoutException) as error:
            through = f" through proxy {shown_proxy(document.proxy)}" if document.proxy else ""
            raise FetchError(
                f"timed out: no complete response within {self.settings.timeout:g} s{through} "
                f"({type(error).__name__})",
                transient=True,
            ) from None
        except httpx.TooManyRedirects:
            raise FetchError("too many redirects (a redirect loop?)") from None
        except httpx.ProxyError as error:  # the proxy answered, but would not take us to the page
            raise FetchError(
                f"proxy {shown_proxy(document.proxy)} refused to reach the page: {_reason(error)}",
                transient=True,
            ) from None
        except httpx.ConnectError as error:
            if document.proxy:
                raise _proxy_down(document.proxy, error) from None
            reason = _reason(error, urlsplit(document.url).hostname)
            raise FetchError(
                reason if reason.startswith("cannot resolve") else f"cannot connect: {reason}",
                transient=_transient_connect(reason),
            ) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as error:
            if isinstance(error, httpx.RemoteProtocolError) and str(error).startswith(HUNG_UP):
                raise _HungUp(f"connection broken: {_reason(error)}", transient=True) from None
            raise FetchError(f"connection broken: {_reason(error)}", transient=True) from None
        except httpx.HTTPError as error:
            raise FetchError(f"{type(error).__name__}: {_reason(error)}") from None

    async def _read(self, response: httpx.Response) -> bytes:
        """The decoded body, streamed and refused as soon as it passes the cap (even mid gzip bomb)."""
        limit = self.settings.max_bytes
        too_large = FetchError(f"response larger than {limit:,} bytes; not recorded")
        decoder = _decoder(response.headers.get("content-encoding", ""))
        body = bytearray()
        try:
            async for chunk in response.aiter_raw():
                if decoder is None:
                    body.extend(chunk)
                else:
                    body.extend(decoder.decompress(chunk, limit + 1 - len(body)))
                    if decoder.unconsumed_tail:
                        raise too_large
                if len(body) > limit:
                    raise too_large
            if decoder is not None:
                body.extend(decoder.flush())
        except zlib.error as error:
            raise FetchError(f"undecodable response: {error}") from None
        if len(body) > limit:
            raise too_large
        return bytes(body)


class _HungUp(FetchError):
    """The connection closed before any byte of the response: on a kept-alive connection, the server's
    idle timeout and the request crossed."""


def _decoder(content_encoding: str) -> zlib._Decompress | None:
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip", "deflate"):
        return zlib.decompressobj(zlib.MAX_WBITS | 32)  # 32: accept a gzip or a zlib header
    raise FetchError(f"unsupported Content-Encoding {content_encoding!r}; not recorded")


def _reason(error: Exception, host: str | None = None) -> str:
    if isinstance(error, OSError) and error.errno is not None:
        return plain_os_error(error, host)
    text = str(error)
    # httpx's own transport (used behind a proxy) words an OSError as "[Errno -2] Name or service not known"
    coded = re.match(r"\[Errno (-?\d+)\] ", text)
    if coded:
        code = int(coded[1])
        cls = socket.gaierror if code < 0 else OSError
        return plain_os_error(cls(code, text[coded.end() :]), host)
    return text or type(error).__name__


def shown_proxy(url: str | None) -> str:
    """A proxy's URL as messages show it: scheme, host and port, never a user name or password."""
    parts = urlsplit(url or "")
    host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def proxy_login(document: Document, environ: Mapping[str, str]) -> tuple[str, tuple[str, str] | None]:
    """The proxy's URL without credentials, and its user name and password if it needs them."""
    parts = urlsplit(document.proxy or "")
    server = shown_proxy(document.proxy)
    if parts.username is None:
        return server, None
    password = ""
    if document.proxy_password_env:
        if document.proxy_password_env not in environ:
            raise FetchError(
                f"proxy {server}: the environment variable {document.proxy_password_env} "
                "(its password, named by proxy_password_env) is not set"
            )
        password = environ[document.proxy_password_env]
    return server, (parts.username, password)


def proxy_client(settings: FetchSettings, server: str, auth: tuple[str, str] | None) -> httpx.AsyncClient:
    """A client whose every request goes through one proxy (httpx's transport: tosmon's pools connect
    directly); certificates are checked as for direct requests, SSL_CERT_FILE included."""
    context = httpx.create_ssl_context()
    tls = {"ssl_context": context} if server.startswith("https:") else {}  # to the proxy itself
    return httpx.AsyncClient(
        proxy=httpx.Proxy(server, auth=auth, **tls),
        verify=context,
        trust_env=False,  # the variant's proxy, not HTTP(S)_PROXY or NO_PROXY
        follow_redirects=True,
        max_redirects=10,
        timeout=settings.timeout,
        limits=httpx.Limits(max_connections=settings.total, max_keepalive_connections=settings.per_host),
    )


def _proxy_down(proxy: str | None, error: httpx.ConnectError) -> FetchError:
    """The proxy itself could not be reached: say so, not that the site is down."""
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, ConnectionRefusedError):
        cause = cause.__cause__ or cause.__context__
    if cause is not None or "refused" in str(error).lower():
        return FetchError(f"proxy {shown_proxy(proxy)} refused the connection", transient=True)
    return FetchError(f"proxy {shown_proxy(proxy)}: cannot connect: {_reason(error)}", transient=True)


# What the system says when a connection fails, as a person would say it: `[Errno -2] Name or service
# not known` means nothing to most readers of a report.
OS_ERRORS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "the server reset the connection",
    errno.ENETUNREACH: "the network is unreachable (no network?)",
    errno.EHOSTUNREACH: "no route to the host",
    errno.ETIMEDOUT: "the connection timed out",
}


def plain_os_error(error: OSError, host: str | None = None) -> str:
    """An operating system's network error in plain words, naming the host when it is known."""
    name = f" {host}" if host else ""
    if isinstance(error, socket.gaierror):
        if error.errno == socket.EAI_AGAIN:
            return f"cannot resolve host name{name}: DNS did not answer (no network?)"
        if error.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
            return f"cannot resolve host name{name}: no such host (a typo, or no DNS?)"
        return f"cannot resolve host name{name}: {error.strerror}"
    if error.errno in OS_ERRORS:
        return OS_ERRORS[error.errno]
    return error.strerror or str(error) or type(error).__name__


def _transient_connect(reason: str) -> bool:
    text = reason.lower()
    # A name that does not exist or a certificate that does not verify will not fix itself in seconds.
    return not any(word in text for word in ("no such host", "certificate", "ssl"))


def _http_error(response: httpx.Response) -> FetchError:
    status = response.status_code
    # The standard phrase, not the server's: that one is the server's text, and may be anything.
    reason = f"HTTP {status} {httpx.codes.get_reason_phrase(status)}".rstrip()
    if status == 429 or status >= 500:
        return FetchError(
            reason,
            transient=True,
            retry_after=_retry_after(response.headers.get("retry-after")),
            status=status,
        )
    return FetchError(reason, status=status)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


class _PerHostTransport(httpx.AsyncBaseTransport):
    """One connection pool per host. httpcore's single pool scans every connection for every queued
    request (quadratic): with 100 connections over 50 hosts it cost more CPU than parsing the pages."""

    def __init__(self, settings: FetchSettings) -> None:
        self.limits = httpx.Limits(
            max_connections=settings.per_host, max_keepalive_connections=settings.per_host
        )
        self.pools: dict[tuple[bytes, bytes, int | None], httpx.AsyncHTTPTransport] = {}
        self.ssl_context = httpx.create_ssl_context()  # once: loading the CA bundle takes ~30 ms

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.url.raw_scheme, request.url.raw_host, request.url.port)
        if key not in self.pools:
            transport = httpx.AsyncHTTPTransport(verify=self.ssl_context, limits=self.limits)
            # The same pool httpx builds, on asyncio's streams instead of anyio's (see _AsyncioBackend);
            # should httpx stop keeping its pool there, its own pool is used and nothing else changes.
            transport._pool = httpcore.AsyncConnectionPool(
                ssl_context=self.ssl_context,
                max_connections=self.limits.max_connections,
                max_keepalive_connections=self.limits.max_keepalive_connections,
                keepalive_expiry=self.limits.keepalive_expiry,
                network_backend=_ASYNCIO,
            )
            self.pools[key] = transport
        return await self.pools[key].handle_async_request(request)

    async def aclose(self) -> None:
        for pool in self.pools.values():
            await pool.aclose()


class _AsyncioStream(httpcore.AsyncNetworkStream):
    """A connection as asyncio's streams. httpcore's default goes through anyio, whose cancel scopes,
    task lookups and socket attributes on every read cost 15 % of a request's CPU (20 % of a
    request answered 304 Not Modified)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self.reader.read(max_bytes)
        except TimeoutError:
            raise httpcore.ReadTimeout("no data within the read timeout") from None
        except OSError as error:
            raise httpcore.ReadError(_reason(error)) from None

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                self.writer.write(buffer)
                await self.writer.drain()
        except TimeoutError:
            raise httpcore.WriteTimeout("could not send within the write timeout") from None
        except OSError as error:
            raise httpcore.WriteError(_reason(error)) from None

    async def aclose(self) -> None:
        self.writer.close()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                await self.writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError:
            self.writer.close()
            raise httpcore.ConnectTimeout("no TLS handshake within the connect timeout") from None
        except OSError as error:  # ssl.SSLError included: an untrusted certificate
            self.writer.close()
            raise httpcore.ConnectError(_reason(error)) from None
        return self

    def get_extra_info(self, info: str) -> object:
        if info == "is_readable":  # an idle kept-alive connection the server closed or wrote to
            sock = self.writer.get_extra_info("socket")
            return (
                self.reader.at_eof()
                or self.reader.exception() is not None
                or self.writer.transport.is_closing()
                or (sock is not None and _readable(sock))
            )
        return self.writer.get_extra_info(_EXTRA_INFO[info]) if info in _EXTRA_INFO else None


# httpcore's names of a connection's details, and asyncio's
_EXTRA_INFO = {
    "ssl_object": "ssl_object",
    "socket": "socket",
    "client_addr": "sockname",
    "server_addr": "peername",
}


def _readable(sock: socket.socket) -> bool:
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class _AsyncioBackend(httpcore.AsyncNetworkBackend):
    """TCP connections only: tosmon's pools set no local address, socket options or Unix sockets."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout("no connection within the connect timeout") from None
        except OSError as error:
            raise httpcore.ConnectError(plain_os_error(error, host)) from None
        return _AsyncioStream(reader, writer)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


_ASYNCIO = _AsyncioBackend()


def new_client(settings: FetchSettings) -> httpx.AsyncClient:
    options = {"follow_redirects": True, "max_redirects": 10, "timeout": settings.timeout}
    if any(
        value and key.lower() in ("http_proxy", "https_proxy", "all_proxy")
        for key, value in os.environ.items()
    ):
        # httpx honours HTTP(S)_PROXY only with its own transport: keep it, with its single pool.
        limits = httpx.Limits(max_connections=settings.total, max_keepalive_connections=settings.total)
        return httpx.AsyncClient(limits=limits, **options)
    return httpx.AsyncClient(transport=_PerHostTransport(settings), **options)
