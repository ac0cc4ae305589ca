"""Usage records, written off the request path: a queue, and one writer thread that batches.

``record`` is an outcome sink (``streaming.outcome``): it turns a completed request into a
``UsageRecord`` and puts it on an in-process queue, which costs the request a few microseconds and never
waits on the database. The writer thread drains the queue every ``GATEWAY_USAGE_FLUSH_SECONDS`` with one
``bulk_create`` and one update of the keys' ``last_used_at``, on a connection it keeps. Why batched in a
thread rather than "after the response": a stream's end is on the event loop, where a synchronous ORM
write would block every other stream, and one insert per request would cost one round trip (and one
SQLite lock) each; a batch costs one. What a crash loses: at most one flush interval of records;
``flush()`` runs at shutdown (the ASGI lifespan, and at exit).
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from datetime import UTC, datetime

from django.db import connections

from streaming.conf import gateway_settings
from streaming.control.db_thread import drop_broken_connections
from streaming.outcome import Outcome

logger = logging.getLogger("streaming")

RECORDED_ENDPOINTS = frozenset({"messages", "messages_stream", "count_tokens"})
_MAX_QUEUED = (
    100_000  # beyond this (the database is down) new records are dropped, with one warning per batch
)

_queue: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
_lock = threading.Lock()  # one flush at a time (the writer thread, shutdown, tests)
_writer: threading.Thread | None = None
_dropped = 0


def record(outcome: Outcome) -> None:
    """Queue ``outcome`` for the database (the outcome sink; never blocks)."""
    global _dropped
    if outcome.endpoint not in RECORDED_ENDPOINTS or not gateway_settings.RECORD_USAGE:
        return
    if _queue.qsize() >= _MAX_QUEUED:
        _dropped += 1
        return
    _queue.put_nowait(outcome)
    _ensure_writer()


def _ensure_writer() -> None:
    global _writer
    if _writer is None or not _writer.is_alive():
        with _lock:
            if _writer is None or not _writer.is_alive():
                _writer = threading.Thread(target=_write_forever, name="gateway-usage", daemon=True)
                _writer.start()


def _write_forever() -> None:
    stop = threading.Event()
    while not stop.wait(gateway_settings.USAGE_FLUSH_SECONDS):
        try:
            if not flush():
                connections.close_all()  # idle: hold no database connection
        except Exception:
            logger.exception("writing usage records failed; they are kept for the next attempt")


def _to_record(outcome: Outcome) -> dict[str, object]:
    return {
        "created_at": outcome.started_at,
        "client_key_id": outcome.client_key_id,
        "key_name": outcome.client_key_name or "",
        "endpoint": outcome.endpoint,
        "stream": outcome.stream,
        "client_model": (outcome.client_model or "")[:200],
        "upstream": (outcome.upstream or "")[:100],
        "upstream_model": (outcome.upstream_model or "")[:200],
        "input_tokens": outcome.input_tokens,
        "output_tokens": outcome.output_tokens,
        "cache_read_tokens": outcome.cache_read_tokens,
        "cache_creation_tokens": outcome.cache_creation_tokens,
        "web_search_requests": outcome.web_search_requests,
        "stop_reason": outcome.stop_reason or "",
        "status": outcome.status,
        "error_type": (outcome.error_type or "")[:64],
        "cause": (outcome.cause or "")[:64],
        "ttfb_ms": None if outcome.ttfb is None else round(outcome.ttfb * 1000),
        "duration_ms": None if outcome.duration is None else round(outcome.duration * 1000),
        "correlation_id": (outcome.correlation_id or "")[:64],
    }


def flush() -> int:
    """Write every queued record now (one batch); the number written."""
    global _dropped
    from streaming.models import ClientKey, UsageRecord

    with _lock:
        batch: list[Outcome] = []
        while True:
            try:
                batch.append(_queue.get_nowait())
            except queue.Empty:
                break
        if not batch:
            return 0
        try:
            UsageRecord.objects.bulk_create([UsageRecord(**_to_record(outcome)) for outcome in batch])
            key_ids = {outcome.client_key_id for outcome in batch if outcome.client_key_id is not None}
            if key_ids:
                # An update, not save(): no signal, so the configuration version does not change.
                ClientKey.objects.filter(id__in=key_ids).update(last_used_at=datetime.now(UTC))
        except Exception:
            for outcome in batch:  # keep them for the next attempt (the database may be back by then)
                _queue.put_nowait(outcome)
            raise
        finally:
            drop_broken_connections()
        if _dropped:
            logger.warning("usage queue full: %d records dropped", _dropped)
            _dropped = 0
        return len(batch)


def flush_quietly() -> None:
    """``flush()`` that logs instead of raising (shutdown paths)."""
    try:
        flush()
    except Exception:
        logger.exception("writing usage records at shutdown failed")


atexit.register(flush_quietly)
