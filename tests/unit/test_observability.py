"""One log line per request and Prometheus metrics, both fed by the request's outcome."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.test import AsyncClient, override_settings

from streaming.observability import metrics, request_log
from streaming.observability.request_log import JSONFormatter, log_request
from streaming.outcome import Outcome


def finished(**fields: Any) -> Outcome:
    """A completed request's record (filled by hand: completing it would also run the app's sinks)."""
    outcome = Outcome("messages", correlation_id="c0ffee")
    for name, value in {
        "status": 200,
        "ttfb": 0.12,
        "duration": 2.5,
        "client_key_name": "alice",
        "client_model": "claude-sonnet-4-6",
        "upstream": "settings",
        "upstream_model": "gpt-5",
        "stream": True,
        "stop_reason": "end_turn",
        "input_tokens": 12,
        "output_tokens": 34,
        **fields,
    }.items():
        setattr(outcome, name, value)
    return outcome


def test_a_request_is_one_line_with_its_facts(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="streaming.requests"):
        log_request(finished())

    [record] = caplog.records
    assert record.getMessage().startswith(
        "messages stream 200 end_turn key=alice model=claude-sonnet-4-6->settings/gpt-5"
    )
    assert record.request["input_tokens"] == 12 and record.request["correlation_id"] == "c0ffee"  # type: ignore[attr-defined]


def test_a_failure_names_its_cause_at_warning_level(caplog: pytest.LogCaptureFixture) -> None:
    outcome = finished(stop_reason=None, status=529, error_type="overloaded_error", cause="connect")
    with caplog.at_level(logging.INFO, logger="streaming.requests"):
        log_request(outcome)

    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "529 overloaded_error cause=connect" in record.getMessage()


def test_the_json_format_is_one_object_per_line_with_every_field() -> None:
    record = logging.LogRecord("streaming.requests", logging.INFO, __file__, 1, "%s", ("msg",), None)
    record.request = request_log.fields(finished())  # type: ignore[attr-defined]
    record.correlation_id = "c0ffee"  # type: ignore[attr-defined]

    document = json.loads(JSONFormatter().format(record))

    assert document["level"] == "INFO" and document["correlation_id"] == "c0ffee"
    assert (document["key"], document["status"], document["output_tokens"]) == ("alice", 200, 34)
    assert document["time"].endswith("Z")


@pytest.mark.anyio
async def test_a_flood_of_failed_authentications_is_one_line_and_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failure = finished(status=401, error_type="authentication_error", cause="authentication_error")
    request_log._auth_failures.flush()  # a window another test opened
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="streaming.requests"):
        for _ in range(1000):
            log_request(failure)
        request_log._auth_failures.flush()  # the window's end

    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert messages[1] == "999 more failed authentications in the last 10 s (collapsed)"


# --- metrics -------------------------------------------------------------------------------------------


def sample(name: str, **labels: str) -> float:
    value = metrics._metrics().registry.get_sample_value(name, labels)
    return value or 0.0


@override_settings(GATEWAY_METRICS_TOKEN="scrape-token")
def test_a_completed_request_counts_requests_tokens_and_times() -> None:
    before = sample("gateway_requests_total", endpoint="messages", model="claude-sonnet-4-6", status="200")
    tokens = sample("gateway_tokens_total", direction="output", model="claude-sonnet-4-6")

    metrics.record_metrics(finished())

    assert (
        sample("gateway_requests_total", endpoint="messages", model="claude-sonnet-4-6", status="200")
        == before + 1
    )
    assert sample("gateway_tokens_total", direction="output", model="claude-sonnet-4-6") == tokens + 34
    assert sample("gateway_request_duration_seconds_count", endpoint="messages", stream="true") >= 1


@override_settings(GATEWAY_METRICS_TOKEN="scrape-token")
@pytest.mark.parametrize(
    ("cause", "metric", "labels"),
    [
        ("connect", "gateway_upstream_errors_total", {"kind": "connect"}),
        ("mid_stream_error", "gateway_upstream_errors_total", {"kind": "mid_stream_error"}),
        ("client_gone", "gateway_client_disconnects_total", {"endpoint": "messages"}),
        ("rpm_limit", "gateway_rate_limited_total", {"limit": "rpm_limit"}),
    ],
)
def test_failures_are_counted_by_kind(cause: str, metric: str, labels: dict[str, str]) -> None:
    before = sample(metric, **labels)

    metrics.record_metrics(finished(cause=cause, error_type="x"))

    assert sample(metric, **labels) == before + 1


@override_settings(GATEWAY_METRICS_TOKEN="scrape-token")
def test_model_labels_are_capped_so_clients_cannot_grow_the_series(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_models", set())
    monkeypatch.setattr(metrics, "MAX_MODEL_LABELS", 2)

    labels = [metrics._model_label(name) for name in ("a", "b", "c", "a")]

    assert labels == ["a", "b", "other", "a"]


def test_without_a_token_nothing_is_recorded() -> None:
    before = sample("gateway_requests_total", endpoint="messages", model="claude-sonnet-4-6", status="200")

    metrics.record_metrics(finished())

    assert (
        sample("gateway_requests_total", endpoint="messages", model="claude-sonnet-4-6", status="200")
        == before
    )


@pytest.mark.anyio
async def test_the_metrics_page_is_off_without_a_token_and_needs_it_otherwise() -> None:
    client = AsyncClient()
    assert (await client.get("/metrics")).status_code == 404
    with override_settings(GATEWAY_METRICS_TOKEN="scrape-token"):
        refused = await client.get("/metrics", headers={"authorization": "Bearer wrong"})
        page = await client.get("/metrics", headers={"authorization": "Bearer scrape-token"})

    assert refused.status_code == 401 and b"scrape-token" not in refused.content
    assert page.status_code == 200 and page["content-type"].startswith("text/plain")
    assert b"# TYPE gateway_requests_total counter" in page.content


@pytest.mark.anyio
async def test_a_crash_outside_the_api_is_still_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from django.http import HttpRequest

    from streaming.api.error_pages import server_error_handler

    response = server_error_handler(HttpRequest())

    assert response.status_code == 500
    assert not getattr(
        response, "_has_been_logged", False
    )  # Django's own log line (with the traceback) stays


@pytest.mark.anyio
async def test_the_metrics_page_answers_get_only_and_stamps_its_errors() -> None:
    client = AsyncClient()
    with override_settings(GATEWAY_METRICS_TOKEN="scrape-token"):
        posted = await client.post("/metrics", headers={"authorization": "Bearer scrape-token"})
        refused = await client.get("/metrics")

    assert posted.status_code == 405 and posted["allow"] == "GET"
    assert refused["request-id"].startswith("req_")
