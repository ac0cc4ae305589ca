"""The load scenarios of issue 9, each a function that drives one running gateway and returns its figures.

They assert nothing: the tests (``test_load_*.py``) state the bounds, and ``bench/load_figures.py`` runs
the same functions against an older checkout for the before/after table in ``docs/load.md``. Every loop
is bounded; every wait has a timeout.
"""

from __future__ import annotations

import asyncio
import gc
import re
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.helpers import REPO_ROOT, Gateway, create_client_key, long_text_stream
from tests.fakes.upstream import (
    Behaviour,
    FakeUpstream,
    RecordedRequest,
    held,
    raw_stream,
    sse_events,
    sse_frame,
    text_response_events,
)
from tests.load.clients import Answer, after_first_text, at_once, get_models, message_body, post_message
from tests.load.probes import MIB, DatabaseProbe, ProcessProbe, metric, redis_connections


@dataclass
class Target:
    """A running gateway and what measures it."""

    gateway: Gateway
    fake: FakeUpstream
    database: DatabaseProbe
    metrics_token: str | None = None  # None: the gateway has no /metrics (an older checkout)
    config_refresh: float = 2.0  # its GATEWAY_CONFIG_REFRESH_SECONDS
    python: str = sys.executable  # the interpreter and checkout it runs from
    cwd: Path = REPO_ROOT

    @property
    def process(self) -> ProcessProbe:
        assert self.gateway.process is not None
        return ProcessProbe(self.gateway.process.pid)

    @property
    def url(self) -> str:
        return self.gateway.base_url

    @property
    def key(self) -> str:
        return self.gateway.client_key

    @property
    def upstream_port(self) -> int:
        return int(self.fake.url.rsplit(":", 1)[1].split("/")[0])

    def metric(self, name: str) -> float | None:
        if self.metrics_token is None:
            return None
        return metric(self.url, self.metrics_token, name)

    def redis_connections(self) -> int:
        """Connections the gateway's Redis accepted so far (0 when it runs without Redis)."""
        url = self.gateway.env.get("REDIS_URL")
        return redis_connections(url) - 1 if url else 0  # less the probe's own

    def create_key(self, name: str) -> str:
        """A new client key, made by the gateway's own ``manage.py createclientkey``."""
        return create_client_key(self.gateway.env, name, python=self.python, cwd=self.cwd)

    def answer_with(self, behaviour: Any) -> None:
        """A fresh fake upstream (nothing recorded) that answers every request with ``behaviour``."""
        self.fake.reset()
        self.fake.set_default(behaviour)

    async def wait_for_upstream_idle(self, timeout: float = 10.0) -> None:
        await asyncio.to_thread(self.fake.wait_for_idle, timeout)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _mib(size: float) -> float:
    return round(size / MIB, 1)


def _outcome(result: Any) -> str:
    if isinstance(result, asyncio.CancelledError):
        return "hung up"
    if isinstance(result, BaseException):
        return type(result).__name__
    return f"{result.status} {result.error_type or 'ok'}"


# --------------------------------------------------------------------------------------------------------
# 500 concurrent streams


STREAM_DELTAS = 20
STREAM_INTERVAL = 0.1  # seconds between upstream events: a stream lasts 2 s, longer than 500 take to start


def expected_text(n: int) -> str:
    return f"stream {n}:" + " tick" * (STREAM_DELTAS - 1)


def _numbered_answer(request: RecordedRequest) -> Behaviour:
    """Each request's own answer: the ``stream N`` its prompt names, so a crossed stream shows."""
    match = re.search(r"stream (\d+)", request.body.decode())
    assert match is not None
    deltas = [f"stream {match.group(1)}:"] + [" tick"] * (STREAM_DELTAS - 1)
    return sse_events(text_response_events(deltas), delay=STREAM_INTERVAL)


async def _streams(target: Target, count: int) -> list[Answer | BaseException]:
    bodies = [message_body(f"stream {n}") for n in range(count)]
    return await at_once([lambda body=body: post_message(target.url, target.key, body) for body in bodies])


@dataclass
class StreamsFigures:
    streams: int
    exact: int  # answered 200 with exactly the expected text
    well_formed: int  # every event in Anthropic's grammar
    failed: dict[str, int]
    peak_upstream_streams: int
    seconds: float
    rss_baseline_mib: float
    rss_peak_mib: float
    rss_after_mib: float
    fds_baseline: int
    fds_after: int
    upstream_connections_after: int  # idle keep-alive connections the pool kept
    cpu_ms_per_stream: float


async def concurrent_streams(target: Target, count: int = 500, warm_up: int = 500) -> StreamsFigures:
    """``count`` streams at once, after ``warm_up`` streams at once (the baseline is the warmed process)."""
    target.answer_with(_numbered_answer)
    await _streams(target, warm_up)
    await target.wait_for_upstream_idle()
    probe = target.process
    baseline = await asyncio.to_thread(probe.settled)
    probe.reset_peak()
    target.answer_with(_numbered_answer)
    began = time.monotonic()
    answers = await _streams(target, count)
    seconds = time.monotonic() - began
    peak = probe.sample()
    await target.wait_for_upstream_idle()
    after = await asyncio.to_thread(probe.settled)
    failed: Counter[str] = Counter()
    exact = well_formed = 0
    for n, answer in enumerate(answers):
        if isinstance(answer, BaseException) or answer.status != 200 or answer.error_type:
            failed[_outcome(answer)] += 1
        else:
            exact += answer.text == expected_text(n)
            well_formed += answer.well_formed
    return StreamsFigures(
        streams=count,
        exact=exact,
        well_formed=well_formed,
        failed=dict(failed),
        peak_upstream_streams=target.fake.peak_open_streams,
        seconds=round(seconds, 2),
        rss_baseline_mib=_mib(baseline.rss),
        rss_peak_mib=_mib(peak.peak_rss),
        rss_after_mib=_mib(after.rss),
        fds_baseline=baseline.fds,
        fds_after=after.fds,
        upstream_connections_after=probe.connections_to(target.upstream_port),
        cpu_ms_per_stream=_ms((peak.cpu - baseline.cpu) / count),
    )


# --------------------------------------------------------------------------------------------------------
# 1,000 client hang-ups


LOG_PROBLEMS = ("Traceback", "Task was destroyed", "never awaited", "Unclosed", " ERROR ")


def log_problems(text: str) -> int:
    """Lines of the gateway's log that speak of a crash or a leak."""
    return sum(any(problem in line for problem in LOG_PROBLEMS) for line in text.splitlines())


@dataclass
class HangUpFigures:
    hang_ups: int
    upstream_closed: int  # connections the fake upstream saw the gateway close
    upstream_streams_open_after: int
    upstream_connections_before: int  # the gateway's connections to the upstream, idle ones included
    upstream_connections_after: int
    open_streams_metric_after: float | None
    disconnects_metric: float | None
    fds_baseline: int
    fds_after: int
    seconds: float
    log_problems: int


async def _hang_up_rounds(target: Target, rounds: int, at_once_: int) -> None:
    body = message_body("Hi")
    for _ in range(rounds):
        await at_once(
            [lambda: post_message(target.url, target.key, body, hang_up=after_first_text)] * at_once_
        )
    await target.wait_for_upstream_idle()


async def hang_ups(target: Target, count: int = 1000, at_once_: int = 50) -> HangUpFigures:
    """``count`` clients, ``at_once_`` at a time, each hanging up after its first text delta (after one
    round as a warm-up)."""
    target.answer_with(long_text_stream())
    await _hang_up_rounds(target, 1, at_once_)
    probe = target.process
    baseline = await asyncio.to_thread(probe.settled)
    connections_before = probe.connections_to(target.upstream_port)
    disconnects_before = target.metric("gateway_client_disconnects_total") or 0.0
    log_offset = target.gateway.log_size()
    target.answer_with(long_text_stream())
    began = time.monotonic()
    await _hang_up_rounds(target, count // at_once_, at_once_)
    seconds = time.monotonic() - began
    after = await asyncio.to_thread(probe.settled)
    disconnects = target.metric("gateway_client_disconnects_total")
    return HangUpFigures(
        hang_ups=count // at_once_ * at_once_,
        upstream_closed=len(target.fake.disconnects),
        upstream_streams_open_after=target.fake.open_streams,
        upstream_connections_before=connections_before,
        upstream_connections_after=probe.connections_to(target.upstream_port),
        open_streams_metric_after=target.metric("gateway_open_streams"),
        disconnects_metric=None if disconnects is None else disconnects - disconnects_before,
        fds_baseline=baseline.fds,
        fds_after=after.fds,
        seconds=round(seconds, 2),
        log_problems=log_problems(target.gateway.log_since(log_offset)),
    )


# --------------------------------------------------------------------------------------------------------
# Pool churn, and a burst beyond the pool (a gateway with a small pool)


FIRST_EVENT = sse_frame(text_response_events("Hi")[0])
ENDINGS = ("hang-up", "drop", "reset")
STILL_HERE = "Still here."


async def _held_streams(target: Target, count: int, within: float) -> tuple[list[Any], int]:
    """Open ``count`` streams the fake holds open; returns their tasks and how many got their 200 in time."""
    started = [asyncio.Event() for _ in range(count)]
    body = message_body("Hi")
    tasks = [
        asyncio.create_task(post_message(target.url, target.key, body, started=event)) for event in started
    ]
    waiters = [asyncio.create_task(event.wait()) for event in started]
    _, pending = await asyncio.wait(waiters, timeout=within)
    for waiter in pending:
        waiter.cancel()
    return tasks, sum(event.is_set() for event in started)


async def _hang_up(tasks: list[Any]) -> list[Any]:
    for task in tasks:
        task.cancel()
    return await asyncio.gather(*tasks, return_exceptions=True)


async def _end_held(target: Target, streams: list[Any]) -> str:
    """Cut the held streams, then what a plain request gets (it should be served normally)."""
    await asyncio.to_thread(target.fake.cut_held)
    await _hang_up(streams)
    await target.wait_for_upstream_idle()
    target.answer_with(sse_events(text_response_events(STILL_HERE)))
    normal = await post_message(target.url, target.key, message_body("Hi"))
    return f"{normal.status} {normal.text}"


@dataclass
class CapacityFigures:
    slots: int
    streams_started: int  # of ``slots`` streams opened at once, how many got their 200 in time
    one_more: str  # what a request beyond them got
    one_more_ms: float
    then: str  # a plain request once the streams ended


async def capacity(target: Target, slots: int, pool_timeout: float) -> CapacityFigures:
    """Whether the gateway serves ``slots`` streams at once, refuses one more, and answers normally after."""
    target.answer_with(held(FIRST_EVENT))
    streams, started = await _held_streams(target, slots, within=pool_timeout + 2.0)
    extra = await post_message(target.url, target.key, message_body("Hi"))
    return CapacityFigures(
        slots=slots,
        streams_started=started,
        one_more=_outcome(extra),
        one_more_ms=_ms(extra.seconds),
        then=await _end_held(target, streams),
    )


@dataclass
class ChurnFigures:
    requests: int
    outcomes: dict[str, int]
    seconds: float
    after: CapacityFigures
    log_problems: int


async def pool_churn(target: Target, *, slots: int, pool_timeout: float, rounds: int = 30) -> ChurnFigures:
    """Issue 9.1 through the gateway: rounds of ``2 * slots`` requests at once on a ``slots``-connection pool.

    In each round ``slots`` streams hold every upstream connection and as many requests queue for one;
    then, in turn, the streaming clients hang up at once, or the upstream drops or resets every stream,
    and the queued clients hang up a moment later (0 to 20 ms), while some of them are being handed a
    connection. Afterwards the gateway must still serve ``slots`` streams at once.
    """
    target.answer_with(held(FIRST_EVENT))
    log_offset = target.gateway.log_size()
    outcomes: Counter[str] = Counter()
    body = message_body("Hi")
    began = time.monotonic()
    for round_ in range(rounds):
        ending = ENDINGS[round_ % len(ENDINGS)]
        streams, _ = await _held_streams(target, slots, within=pool_timeout + 2.0)
        queued = [asyncio.create_task(post_message(target.url, target.key, body)) for _ in range(slots)]
        await asyncio.sleep(pool_timeout / 5)  # the queued requests wait for a connection
        if ending == "hang-up":
            ended = await _hang_up(streams)
        else:
            await asyncio.to_thread(target.fake.cut_held, reset=ending == "reset")
            ended = await asyncio.gather(*streams, return_exceptions=True)
        await asyncio.sleep((round_ % 5) * 0.005)
        ended += await _hang_up(queued)
        outcomes.update(_outcome(result) for result in ended)
        await asyncio.to_thread(target.fake.cut_held)  # streams the queued got before their clients left
        await target.wait_for_upstream_idle()
    seconds = time.monotonic() - began
    after = await capacity(target, slots, pool_timeout)
    return ChurnFigures(
        requests=rounds * 2 * slots,
        outcomes=dict(outcomes),
        seconds=round(seconds, 2),
        after=after,
        log_problems=log_problems(target.gateway.log_since(log_offset)),
    )


@dataclass
class BurstFigures:
    slots: int
    burst: int
    outcomes: dict[str, int]
    latency_ms_median: float
    latency_ms_max: float
    then: str  # a plain request once the slow streams ended


async def burst_beyond_pool(
    target: Target, *, slots: int, pool_timeout: float, burst: int = 50
) -> BurstFigures:
    """``slots`` slow streams hold every upstream connection; ``burst`` more requests arrive at once."""
    target.answer_with(held(FIRST_EVENT))
    streams, _ = await _held_streams(target, slots, within=pool_timeout + 2.0)
    body = message_body("Hi")
    answers: list[Answer] = await at_once([lambda: post_message(target.url, target.key, body)] * burst)
    latencies = [answer.seconds for answer in answers]
    return BurstFigures(
        slots=slots,
        burst=burst,
        outcomes=dict(Counter(_outcome(answer) for answer in answers)),
        latency_ms_median=_ms(statistics.median(latencies)),
        latency_ms_max=_ms(max(latencies)),
        then=await _end_held(target, streams),
    )


# --------------------------------------------------------------------------------------------------------
# Floods of keys: wrong ones, and a new one many times at once


@dataclass
class KeyFloodFigures:
    requests: int
    outcomes: dict[int, int]
    key_lookups: int  # statements reading the client-key table, counted by PostgreSQL
    connections_opened: int  # PostgreSQL's session count (one still open may show up to 10 s late)
    connections_open_after: int
    redis_connections_opened: int
    cpu_ms_per_request: float
    log_lines: int
    seconds: float


async def _key_flood(target: Target, keys: list[str], concurrency: int) -> KeyFloodFigures:
    """``GET /v1/models`` once with every key in ``keys``, ``concurrency`` at a time, and what it cost."""
    database = target.database
    lookups, sessions, redis = database.key_lookups(), database.sessions(), target.redis_connections()
    probe = target.process
    cpu_before = probe.sample().cpu
    log_offset = target.gateway.log_size()
    began = time.monotonic()
    statuses: list[int] = []
    for start in range(0, len(keys), concurrency):
        batch = keys[start : start + concurrency]
        statuses += await at_once([lambda key=key: get_models(target.url, key) for key in batch])
    seconds = time.monotonic() - began
    cpu = probe.sample().cpu - cpu_before
    await asyncio.sleep(0.2)  # the backends that closed report their session
    return KeyFloodFigures(
        requests=len(keys),
        outcomes=dict(Counter(statuses)),
        key_lookups=database.key_lookups() - lookups,
        connections_opened=database.sessions() - sessions,
        connections_open_after=database.connections(),
        redis_connections_opened=target.redis_connections() - redis,
        cpu_ms_per_request=_ms(cpu / len(keys)),
        log_lines=len(target.gateway.log_since(log_offset).splitlines()),
        seconds=round(seconds, 2),
    )


async def wrong_key_flood(target: Target, count: int = 1000, concurrency: int = 20) -> KeyFloodFigures:
    """``count`` different wrong keys from one address."""
    return await _key_flood(target, [f"sk-ant-wrong-{n:06d}" for n in range(count)], concurrency)


async def valid_key_requests(target: Target, count: int = 1000, concurrency: int = 20) -> KeyFloodFigures:
    """The same traffic with the gateway's own key: what serving a request costs, to compare with."""
    return await _key_flood(target, [target.key] * count, concurrency)


@dataclass
class StampedeFigures:
    cold: KeyFloodFigures  # a key the gateway has never seen, ``count`` times at once
    warm: KeyFloodFigures  # the same again, the key now known


async def cold_key_stampede(target: Target, count: int = 500) -> StampedeFigures:
    """A key created just now, used by ``count`` requests at once; then the same, warm.

    Creating a key changes the configuration, and a worker forgets its verified keys when it sees a change
    (within ``GATEWAY_CONFIG_REFRESH_SECONDS``): the stampede starts once the gateway has seen it, so
    what it measures is the new key's lookups alone.
    """
    key = await asyncio.to_thread(target.create_key, f"stampede-{time.monotonic_ns()}")
    await asyncio.sleep(target.config_refresh)
    await _key_flood(target, [target.key] * 20, 20)  # sees the change, warm again
    cold = await _key_flood(target, [key] * count, count)
    warm = await _key_flood(target, [key] * count, count)
    return StampedeFigures(cold=cold, warm=warm)


# --------------------------------------------------------------------------------------------------------
# Big bodies


BIG_BODY_MIB = 30


def big_body(size: int = BIG_BODY_MIB * MIB) -> bytes:
    """A long conversation (as Claude Code sends after hours of work) of about ``size`` bytes, streamed."""
    turn = "x" * 10_000
    turns = max(1, size // (len(turn) + 40))
    messages = [
        {"role": "user" if n % 2 == 0 else "assistant", "content": f"{n} {turn}"} for n in range(turns | 1)
    ]
    return message_body(messages)


@dataclass
class BodiesFigures:
    body_mib: float
    at_once: int
    outcomes: dict[str, int]
    rss_baseline_mib: float
    rss_peak_mib: float
    rss_streaming_mib: float  # while the answers stream: the body must be gone by then
    rss_after_mib: float
    seconds: float


BODY_ANSWER_PAUSE = 1.0  # seconds the answer pauses after its first text: time to look at a worker mid-stream


def _paused_answer() -> Behaviour:
    frames = [sse_frame(event) for event in text_response_events(["Read", " it."])]
    return raw_stream([b"".join(frames[:5]), b"".join(frames[5:])], delay=BODY_ANSWER_PAUSE)


async def big_bodies(target: Target, count: int, body: bytes) -> BodiesFigures:
    """``count`` requests with ``body`` at once; the gateway's resident memory before, at the peak, while
    the answers stream, and after.

    The baseline is taken after one request with a 2 MiB body: what the first large request of a worker's
    life costs once (modules, caches) is not what a body costs.
    """
    target.answer_with(_paused_answer())
    await post_message(target.url, target.key, big_body(2 * MIB))
    gc.collect()
    probe = target.process
    baseline = await asyncio.to_thread(probe.settled)
    probe.reset_peak()
    started = [asyncio.Event() for _ in range(count)]
    began = time.monotonic()
    requests = [
        asyncio.create_task(post_message(target.url, target.key, body, started=event)) for event in started
    ]
    streaming = await _when_streaming(probe, requests, started)
    answers = await asyncio.gather(*requests, return_exceptions=True)
    seconds = time.monotonic() - began
    peak = probe.sample()
    target.fake.reset()  # drops the recorded bodies
    after = await asyncio.to_thread(probe.settled)
    return BodiesFigures(
        body_mib=_mib(len(body)),
        at_once=count,
        outcomes=dict(Counter(_outcome(answer) for answer in answers)),
        rss_baseline_mib=_mib(baseline.rss),
        rss_peak_mib=_mib(peak.peak_rss),
        rss_streaming_mib=_mib(streaming),
        rss_after_mib=_mib(after.rss),
        seconds=round(seconds, 2),
    )


async def _when_streaming(probe: ProcessProbe, requests: list[Any], started: list[asyncio.Event]) -> int:
    """Resident memory once every request is answered or streaming (a 200 arrived, the rest is to come)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all(event.is_set() or request.done() for event, request in zip(started, requests, strict=True)):
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(BODY_ANSWER_PAUSE / 2)
    return probe.sample().rss
