"""A scriptable fake of the OpenAI Responses API: a real HTTP/1.1 server on 127.0.0.1, in its own thread.

End-to-end tests point ``OPENAI_BASE_URL`` at ``FakeUpstream.url`` and script, per test and per path, what
the next requests get: a replayed fixture stream, JSON, an error status, a stall, a dropped connection, a
slow endless stream, a stream held open until the test cuts it (``held``, ``cut_held``) or one paused until
the test lets it finish (``paused``). Real sockets (keep-alive, chunked transfer encoding, TCP_NODELAY) so
the gateway's pooled httpx client, timeouts and disconnect handling are exercised for real. Stdlib only.

    with FakeUpstream() as upstream:
        upstream.enqueue(replay("text_simple"))
        upstream.enqueue(sse_events(text_response_events("Hi")), json_response(final_response(...)))
        ...
        upstream.wait_for_requests(1)[0].json()["stream"]

Unscripted paths: ``/v1/responses`` (and any path scripted since the last ``reset()``) answer 500
``nothing scripted``; every other path answers 404, like a compatible server without that endpoint.

The event builders (``text_response_events``, ``final_response`` ...) live in ``tests.fakes.events`` and are
re-exported here, so ``from tests.fakes.upstream import ...`` gives a test both halves.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import secrets
import select
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.fakes.events import (
    CREATED_AT,
    DEFAULT_MODEL,
    error_event,
    failed_response_events,
    final_response,
    function_call_events,
    function_call_item,
    function_call_item_events,
    incomplete_response_events,
    message_item,
    message_item_events,
    new_id,
    output_text_part,
    reasoning_item,
    reasoning_item_events,
    reasoning_response_events,
    refusal_item_events,
    refusal_response_events,
    response_events,
    response_object,
    text_response_events,
    url_citation,
    usage_object,
    web_search_call_item,
    web_search_call_item_events,
    web_search_response_events,
)

# The server and its behaviours, plus the event builders re-exported from tests.fakes.events.
__all__ = [
    "CREATED_AT",
    "DEFAULT_MODEL",
    "FIXTURES_DIR",
    "INPUT_TOKENS_PATH",
    "RESPONSES_PATH",
    "Behaviour",
    "ClientGone",
    "Exchange",
    "FakeUpstream",
    "RecordedRequest",
    "drop",
    "error",
    "error_event",
    "failed_response_events",
    "final_response",
    "fixture_bytes",
    "function_call_events",
    "function_call_item",
    "function_call_item_events",
    "held",
    "incomplete_response_events",
    "json_response",
    "message_item",
    "message_item_events",
    "new_id",
    "output_text_part",
    "paused",
    "raw_stream",
    "reasoning_item",
    "reasoning_item_events",
    "reasoning_response_events",
    "refusal_item_events",
    "refusal_response_events",
    "replay",
    "response_events",
    "response_object",
    "slow_stream",
    "split_events",
    "sse_events",
    "sse_frame",
    "stall",
    "text_response_events",
    "url_citation",
    "usage_object",
    "web_search_call_item",
    "web_search_call_item_events",
    "web_search_response_events",
]

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures"
RESPONSES_PATH = "/v1/responses"
INPUT_TOKENS_PATH = "/v1/responses/input_tokens"

_POLL_SLICE = 0.1  # longest single poll() wait; stop() also wakes waiters by shutting their sockets
_HOLD_POLL = 0.005  # how often a held stream looks for its cut: cut_held() returns within a few ms
_STREAM_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
_EVENT_END = re.compile(rb"(?<=\n\n)|(?<=\r\n\r\n)|(?<=\r\r)")


# --------------------------------------------------------------------------------------------------------
# Requests and exchanges


@dataclass
class RecordedRequest:
    """One request the fake received, as sent on the wire."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    received_at: float
    client_port: int = 0
    """The client's source port: equal ports mean a reused keep-alive connection."""

    def json(self) -> Any:
        return json.loads(self.body)


class ClientGone(Exception):
    """The client closed the connection (or the server is stopping) while a behaviour was writing."""


class Exchange:
    """One request/response on a connection: what a behaviour uses to answer."""

    def __init__(self, handler: _Handler, upstream: FakeUpstream, request: RecordedRequest) -> None:
        self._handler = handler
        self._upstream = upstream
        self.request = request
        self.headers_sent = False
        self._gone = False

    @property
    def _sock(self) -> socket.socket:
        sock: socket.socket = self._handler.connection
        return sock

    def send_head(self, status: int, headers: dict[str, str] | None = None, *, chunked: bool) -> None:
        handler = self._handler
        handler.send_response(status)
        handler.send_header("x-request-id", "req_" + secrets.token_hex(16))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        if chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        self._write_guarded(handler.end_headers)
        self.headers_sent = True

    def send_full(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        """A complete Content-Length response (the connection stays alive)."""
        merged = {"Content-Type": content_type, "Content-Length": str(len(body)), **(headers or {})}
        self.send_head(status, merged, chunked=False)
        self._write_guarded(lambda: self._handler.wfile.write(body))

    def send_chunk(self, data: bytes) -> None:
        if data:
            frame = b"%x\r\n%s\r\n" % (len(data), data)
            self._write_guarded(lambda: self._handler.wfile.write(frame))

    def send_chunks(self, chunks: Iterable[bytes]) -> None:
        """Several chunks in one socket write: the client reads them together."""
        frames = b"".join(b"%x\r\n%s\r\n" % (len(data), data) for data in chunks if data)
        if frames:
            self._write_guarded(lambda: self._handler.wfile.write(frames))

    def end_chunks(self) -> None:
        self._write_guarded(lambda: self._handler.wfile.write(b"0\r\n\r\n"))

    def wait(self, seconds: float) -> None:
        """Sleep while watching the socket: raises ClientGone as soon as the client hangs up."""
        deadline = time.monotonic() + seconds
        while True:
            if self._upstream._stopping.is_set():
                raise ClientGone
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._check_alive(min(remaining, _POLL_SLICE))

    def _check_alive(self, timeout: float) -> None:
        # poll(), not select(): select() refuses descriptors past 1023, which a busy test process reaches (the
        # load group's 500 streams at once), and a stream there would look like a client that hung up.
        poller = select.poll()
        try:
            poller.register(self._sock, select.POLLIN)
            readable = poller.poll(timeout * 1000)
        except (OSError, ValueError):
            self._client_gone()
        if not readable:
            return
        try:
            peeked = self._sock.recv(1, socket.MSG_PEEK)
        except OSError:
            self._client_gone()
        if not peeked:
            self._client_gone()
        # The client sent bytes mid-response (no pipelining in httpx): do not spin on them.
        time.sleep(timeout)

    def _write_guarded(self, write: Callable[[], object]) -> None:
        if self._upstream._stopping.is_set():
            raise ClientGone
        try:
            write()
        except OSError:
            self._client_gone()

    def _client_gone(self) -> None:
        if not self._gone:
            self._gone = True
            if not self._upstream._stopping.is_set():
                self._upstream._record_disconnect()
        self._handler.close_connection = True
        raise ClientGone

    def check_alive(self) -> None:
        """Raise ClientGone now if the client has already hung up (no waiting)."""
        self._check_alive(0)

    def mark_held(self) -> None:
        """Put this stream in ``cut_held``'s reach; call it before the first byte, so that any stream a
        client has begun to read is one that ``cut_held`` cuts."""
        self._upstream._hold(self._sock)

    def hold(self) -> str:
        """Stay silent, watching for a hang-up (``ClientGone``), until ``cut_held`` picks the ending."""
        try:
            while (ending := self._upstream._held_ending(self._sock)) is None:
                self.wait(_HOLD_POLL)
        except ClientGone:
            self._upstream._hold(self._sock, ending="gone")
            raise
        return ending

    def abort(self, *, reset: bool = False) -> None:
        """Close the connection without finishing the response (RST when ``reset``)."""
        self._handler.close_connection = True
        with contextlib.suppress(OSError):
            if reset:
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                self._sock.shutdown(socket.SHUT_RDWR)


# --------------------------------------------------------------------------------------------------------
# Behaviours


class Behaviour:
    """How the fake answers one request. Behaviours are reusable (``set_default``) and thread-safe."""

    streaming = False

    def serve(self, exchange: Exchange) -> None:
        raise NotImplementedError


BehaviourFactory = Callable[[RecordedRequest], Behaviour]
"""A plain callable queued instead of a Behaviour: gets the request, returns the behaviour to use."""


@dataclass(frozen=True)
class _Full(Behaviour):
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)

    def serve(self, exchange: Exchange) -> None:
        exchange.send_full(self.status, self.body, self.content_type, self.headers)


@dataclass(frozen=True)
class _Stream(Behaviour):
    """Chunked ``text/event-stream``: chunks with a delay before each, then end / drop / reset / close."""

    chunks: Callable[[], Iterable[bytes]]
    delay: float = 0.0
    status: int = 200
    ending: str = "end"  # "end" (terminating chunk), "drop" (FIN mid-body), "reset" (RST mid-body)
    stall: float = 0.0  # silence after the chunks, before the ending
    headers: dict[str, str] = field(default_factory=dict)
    together: bool = False  # every chunk in one socket write (no delay)
    streaming = True

    def serve(self, exchange: Exchange) -> None:
        exchange.send_head(self.status, {**_STREAM_HEADERS, **self.headers}, chunked=True)
        if self.together:
            exchange.check_alive()
            exchange.send_chunks(self.chunks())
        for index, chunk in enumerate(() if self.together else self.chunks()):
            if self.delay and index:
                exchange.wait(self.delay)
            else:
                exchange.check_alive()
            exchange.send_chunk(chunk)
        if self.stall:
            exchange.wait(self.stall)
        if self.ending == "end":
            exchange.end_chunks()
        else:
            exchange.abort(reset=self.ending == "reset")


@dataclass(frozen=True)
class _Paused(Behaviour):
    """Chunked stream: ``before``, then open and silent until ``release`` is set, then ``after`` and the end."""

    before: list[bytes]
    after: list[bytes]
    release: threading.Event
    streaming = True

    def serve(self, exchange: Exchange) -> None:
        exchange.send_head(200, dict(_STREAM_HEADERS), chunked=True)
        for chunk in self.before:
            exchange.send_chunk(chunk)
        while not self.release.is_set():
            exchange.wait(_POLL_SLICE)
        for chunk in self.after:
            exchange.send_chunk(chunk)
        exchange.end_chunks()


@dataclass(frozen=True)
class _Silence(Behaviour):
    """Read the request, answer nothing for ``seconds``, then close: a read timeout before headers."""

    seconds: float
    streaming = True

    def serve(self, exchange: Exchange) -> None:
        with contextlib.suppress(ClientGone):
            exchange.wait(self.seconds)
        exchange.abort()


@dataclass(frozen=True)
class _Held(Behaviour):
    """Stream headers and ``chunks``, then silence until ``FakeUpstream.cut_held`` drops or resets it."""

    chunks: tuple[bytes, ...]
    streaming = True

    def serve(self, exchange: Exchange) -> None:
        exchange.mark_held()
        exchange.send_head(200, dict(_STREAM_HEADERS), chunked=True)
        for chunk in self.chunks:
            exchange.send_chunk(chunk)
        exchange.abort(reset=exchange.hold() == "reset")


def fixture_bytes(fixture: str | Path | bytes) -> bytes:
    """Raw bytes of a fixture: ``"text_simple"`` -> tests/fixtures/text_simple.sse, a path, or bytes."""
    if isinstance(fixture, bytes):
        return fixture
    path = Path(fixture)
    if not path.suffix and not path.is_absolute() and len(path.parts) == 1:
        path = FIXTURES_DIR / f"{fixture}.sse"
    return path.read_bytes()


def split_events(data: bytes) -> list[bytes]:
    """Split an SSE byte stream after each blank line (one chunk per event, like the real upstream)."""
    return [part for part in _EVENT_END.split(data) if part]


def _fixed_chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def replay(
    fixture: str | Path | bytes,
    *,
    chunk_size: int | None = None,
    delay: float = 0.0,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Behaviour:
    """Serve a recorded stream: one chunk per event, or fixed ``chunk_size`` chunks, ``delay`` s apart."""
    data = fixture_bytes(fixture)
    chunks = split_events(data) if chunk_size is None else _fixed_chunks(data, chunk_size)
    return _Stream(lambda: chunks, delay=delay, status=status, headers=dict(headers or {}))


def sse_frame(event: dict[str, Any] | bytes, *, line_ending: bytes = b"\n") -> bytes:
    """``event: <type>`` + ``data: <compact json>`` + blank line; bytes pass through untouched."""
    if isinstance(event, bytes):
        return event
    data = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    name = str(event.get("type", "message")).encode()
    return b"event: " + name + line_ending + b"data: " + data + line_ending + line_ending


def _numbered(events: Iterable[dict[str, Any] | bytes]) -> Iterator[dict[str, Any] | bytes]:
    counter = itertools.count()
    for event in events:
        if isinstance(event, dict):
            seq = next(counter)
            if "sequence_number" not in event:
                event = {**event, "sequence_number": seq}
        yield event


def sse_events(
    events: Iterable[dict[str, Any] | bytes],
    *,
    delay: float = 0.0,
    comments_every: int | None = None,
    done: bool = False,
    status: int = 200,
    line_ending: bytes = b"\n",
) -> Behaviour:
    """Stream event dicts as SSE frames (``sequence_number`` added when missing; bytes items sent raw).

    ``comments_every=n`` inserts a ``: keepalive`` comment after every n events; ``done`` ends with
    ``data: [DONE]`` like some compatible servers.
    """
    frames: list[bytes] = []
    for index, event in enumerate(_numbered(events), start=1):
        frames.append(sse_frame(event, line_ending=line_ending))
        if comments_every and index % comments_every == 0:
            frames.append(b": keepalive" + line_ending + line_ending)
    if done:
        frames.append(b"data: [DONE]" + line_ending + line_ending)
    return _Stream(lambda: frames, delay=delay, status=status)


def raw_stream(
    chunks: Iterable[bytes],
    *,
    delay: float = 0.0,
    status: int = 200,
    ending: str = "end",
    together: bool = False,
) -> Behaviour:
    """Exactly these chunks (each one HTTP chunk), then ``ending``: "end", "drop" or "reset".

    ``together`` writes them all to the socket at once, so the client reads many chunks per read, as from
    a fast upstream whose events pile up in the socket buffer.
    """
    frozen = list(chunks)
    return _Stream(lambda: frozen, delay=delay, status=status, ending=ending, together=together)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Behaviour:
    """A JSON answer with Content-Length (the non-streaming ``POST /v1/responses`` or input_tokens)."""
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return _Full(status, payload, "application/json", dict(headers or {}))


def error(
    status: int, body: dict[str, Any] | str | bytes | None = None, headers: dict[str, str] | None = None
) -> Behaviour:
    """An error status. ``None`` body -> an OpenAI-shaped error object; ``str``/``bytes`` -> sent as text."""
    if body is None:
        body = {
            "error": {
                "message": f"fake upstream error {status}",
                "type": "server_error" if status >= 500 else "invalid_request_error",
                "param": None,
                "code": None,
            }
        }
    if isinstance(body, dict):
        return json_response(body, status, headers)
    raw = body.encode() if isinstance(body, str) else body
    return _Full(status, raw, "text/plain; charset=utf-8", dict(headers or {}))


def stall(seconds: float, *, after: bytes = b"", headers_first: bool | None = None) -> Behaviour:
    """Go silent for ``seconds``, then close the connection.

    With ``after`` (or ``headers_first=True``) the 200 stream headers and those bytes go out first: a read
    timeout mid-stream. Otherwise nothing at all is sent: a read timeout before the response headers.
    """
    send_headers = bool(after) if headers_first is None else headers_first
    if not send_headers:
        return _Silence(seconds)
    chunks = [after] if after else []
    return _Stream(lambda: chunks, stall=seconds, ending="drop")


def drop(after: bytes | str = b"", *, reset: bool = False) -> Behaviour:
    """Send 200 stream headers and ``after`` (bytes, or a fixture name), then cut the connection mid-body."""
    data = fixture_bytes(after) if isinstance(after, str) else after
    chunks = split_events(data)
    return _Stream(lambda: chunks, ending="reset" if reset else "drop")


def held(after: bytes | str = b"") -> Behaviour:
    """Send 200 stream headers and ``after`` (bytes, or a fixture name), then hold the stream open, silent.

    It ends when the client hangs up, or when the test calls ``FakeUpstream.cut_held()``: an upstream that
    drops (or resets) many answers at one moment of the test's choosing.
    """
    data = fixture_bytes(after) if isinstance(after, str) else after
    return _Held(tuple(split_events(data)))


def paused(before: Iterable[bytes], release: threading.Event, after: Iterable[bytes] = ()) -> Behaviour:
    """Send ``before`` (each one chunk), pause until ``release`` is set, then send ``after`` and end.

    Unlike ``held`` the stream finishes normally: for many streams open at once that then complete (the
    benchmark's memory figure), and for timing a client's hang-up (``disconnects``): while paused, the
    fake notices a closed connection within a select() wake-up.
    """
    return _Paused(list(before), list(after), release)


def slow_stream(
    events_or_bytes: Iterable[dict[str, Any] | bytes] | bytes | None = None,
    interval: float = 0.05,
    *,
    count: int = 2000,
) -> Behaviour:
    """A long stream for disconnect tests: one frame every ``interval`` seconds.

    ``None`` -> a text response with ``count`` deltas of ``"tick "`` (≈ count * interval seconds), so the
    client can hang up while the upstream is still talking; ``disconnects`` records when it notices.
    """
    if isinstance(events_or_bytes, bytes):
        frames = split_events(events_or_bytes)
        return _Stream(lambda: frames, delay=interval)
    if events_or_bytes is not None:
        frames = [sse_frame(event) for event in _numbered(events_or_bytes)]
        return _Stream(lambda: frames, delay=interval)

    def generate() -> Iterator[bytes]:
        events = text_response_events(["tick "] * count)
        return (sse_frame(event) for event in events)

    return _Stream(generate, delay=interval)


def _nothing_scripted(path: str) -> Behaviour:
    return json_response({"error": {"message": f"fake upstream: nothing scripted for {path}"}}, 500)


def _unknown_path(path: str) -> Behaviour:
    body = {"error": {"message": f"fake upstream: unknown path {path}", "type": "invalid_request_error"}}
    return json_response(body, 404)


# --------------------------------------------------------------------------------------------------------
# The server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.upstream._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.upstream._track(self.connection, add=False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``requests``, not stderr."""

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        path, _, query = self.path.partition("?")
        request = RecordedRequest(
            method=self.command,
            path=path,
            query=query,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self._read_body(),
            received_at=time.monotonic(),
            client_port=self.client_address[1],
        )
        upstream = self.server.upstream
        behaviour = upstream._next_behaviour(request)
        exchange = Exchange(self, upstream, request)
        if behaviour.streaming:
            upstream._stream_started()
        try:
            behaviour.serve(exchange)
        except ClientGone:
            self.close_connection = True
        finally:
            if behaviour.streaming:
                upstream._stream_ended()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # tracked, so server_close() joins every handler thread
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 512  # listen backlog; socketserver's 5 resets connections in a burst of 50

    def __init__(self, upstream: FakeUpstream) -> None:
        self.upstream = upstream
        super().__init__(("127.0.0.1", 0), _Handler)

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.upstream._closed(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connection errors are the client's business (and the point of several tests); others print."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class FakeUpstream:
    """The fake server. Start it (or use ``with``), script it, read what it received, stop it."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._queues: dict[str, deque[Behaviour | BehaviourFactory]] = {}
        self._defaults: dict[str, Behaviour | BehaviourFactory] = {}
        self._scripted_paths: set[str] = {RESPONSES_PATH}
        self._sockets: set[socket.socket] = set()
        self._held: dict[socket.socket, str | None] = {}  # held stream -> the ending cut_held() chose
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._disconnects_seen = 0
        self.requests: list[RecordedRequest] = []
        self.disconnects: list[float] = []
        self.open_streams = 0
        self.peak_open_streams = 0
        """The most streams served at once since the last ``reset()``."""
        self.url = ""

    # Lifecycle -------------------------------------------------------------------------------------

    def start(self) -> FakeUpstream:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(self)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}/v1"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-upstream"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        with self._lock:
            self._stopping.set()
            open_sockets = list(self._sockets)
        for sock in open_sockets:  # wakes handlers idling in keep-alive reads or stalls
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        server.server_close()  # joins the handler threads
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Scripting -------------------------------------------------------------------------------------

    def enqueue(self, *behaviours: Behaviour | BehaviourFactory, path: str = RESPONSES_PATH) -> None:
        """Answers for the next requests to ``path``, first in first out."""
        with self._lock:
            self._queues.setdefault(path, deque()).extend(behaviours)
            self._scripted_paths.add(path)

    def set_default(self, behaviour: Behaviour | BehaviourFactory | None, path: str = RESPONSES_PATH) -> None:
        """The answer for ``path`` whenever its queue is empty (``None`` removes it)."""
        with self._lock:
            if behaviour is None:
                self._defaults.pop(path, None)
            else:
                self._defaults[path] = behaviour
                self._scripted_paths.add(path)

    def cut_held(self, *, reset: bool = False, timeout: float = 5.0) -> int:
        """Cut every stream now held open by ``held`` (FIN, or RST with ``reset``); returns how many.

        Blocks until their sockets are closed, so when it returns the client's kernel already has the news:
        a test calling it from its event loop knows the next loop iteration can see the cut.
        """
        ending = "reset" if reset else "drop"
        with self._lock:
            cut = [sock for sock, chosen in self._held.items() if chosen is None]
            for sock in cut:
                self._held[sock] = ending
            if not self._lock.wait_for(lambda: not any(sock in self._held for sock in cut), timeout):
                raise TimeoutError(f"held streams not cut within {timeout} s")
        return len(cut)

    def reset(self) -> None:
        """Forget queues, defaults, recorded requests and disconnects (the server keeps running)."""
        with self._lock:
            self._queues.clear()
            self._defaults.clear()
            self._scripted_paths = {RESPONSES_PATH}
            self.requests.clear()
            self.disconnects.clear()
            self._disconnects_seen = 0
            self.peak_open_streams = self.open_streams

    # Observing -------------------------------------------------------------------------------------

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least ``n`` requests arrived; returns them all."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.requests) >= n, timeout):
                raise TimeoutError(f"fake upstream got {len(self.requests)} requests, expected {n}")
            return list(self.requests)

    def wait_for_disconnect(self, timeout: float = 5.0, *, since: float | None = None) -> float:
        """Block until the next not-yet-awaited disconnect; returns its delay after ``since`` (default: now)."""
        start = time.monotonic() if since is None else since
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.disconnects) > self._disconnects_seen, timeout):
                raise TimeoutError(f"no client disconnect within {timeout} s")
            when = self.disconnects[self._disconnects_seen]
            self._disconnects_seen += 1
        return max(0.0, when - start)

    def wait_for_idle(self, timeout: float = 5.0) -> None:
        """Block until no stream is being served."""
        with self._lock:
            if not self._lock.wait_for(lambda: self.open_streams == 0, timeout):
                raise TimeoutError(f"{self.open_streams} streams still open after {timeout} s")

    # Called by handler threads ----------------------------------------------------------------------

    def _next_behaviour(self, request: RecordedRequest) -> Behaviour:
        with self._lock:
            self.requests.append(request)
            self._lock.notify_all()
            queue = self._queues.get(request.path)
            chosen = queue.popleft() if queue else self._defaults.get(request.path)
            known = request.path in self._scripted_paths
        if chosen is None:
            return _nothing_scripted(request.path) if known else _unknown_path(request.path)
        if isinstance(chosen, Behaviour):
            return chosen
        return chosen(request)

    def _record_disconnect(self) -> None:
        with self._lock:
            self.disconnects.append(time.monotonic())
            self._lock.notify_all()

    def _stream_started(self) -> None:
        with self._lock:
            self.open_streams += 1
            self.peak_open_streams = max(self.peak_open_streams, self.open_streams)

    def _stream_ended(self) -> None:
        with self._lock:
            self.open_streams -= 1
            self._lock.notify_all()

    def _hold(self, sock: socket.socket, ending: str | None = None) -> None:
        with self._lock:
            self._held[sock] = ending

    def _held_ending(self, sock: socket.socket) -> str | None:
        with self._lock:
            return self._held.get(sock)

    def _closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._held.pop(sock, None)
            self._lock.notify_all()

    def _track(self, sock: socket.socket, *, add: bool) -> None:
        with self._lock:
            if not add:
                self._sockets.discard(sock)
                return
            self._sockets.add(sock)
            if self._stopping.is_set():  # accepted while stop() ran: do not idle in a keep-alive read
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
