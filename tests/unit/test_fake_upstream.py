"""The fake Responses-API upstream behaves like a real HTTP server, as scripted (tests/fakes/upstream.py)."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Iterator

import httpx
import pydantic
import pytest
from openai.types.responses import Response, ResponseFunctionWebSearch, ResponseStreamEvent

from tests.fakes.upstream import (
    INPUT_TOKENS_PATH,
    Behaviour,
    FakeUpstream,
    drop,
    error,
    error_event,
    failed_response_events,
    final_response,
    fixture_bytes,
    function_call_events,
    held,
    incomplete_response_events,
    json_response,
    paused,
    raw_stream,
    reasoning_response_events,
    refusal_response_events,
    replay,
    response_events,
    response_object,
    slow_stream,
    sse_events,
    stall,
    text_response_events,
    url_citation,
    usage_object,
    web_search_call_item_events,
    web_search_response_events,
)


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as http:
        yield http


def post(
    client: httpx.Client, upstream: FakeUpstream, path: str = "/responses", **kwargs: object
) -> httpx.Response:
    return client.post(upstream.url + path, json=kwargs or {"model": "m"})


def parse_sse(body: bytes) -> list[dict[str, object]]:
    """Minimal reader for well-formed frames (the real decoder has its own tests)."""
    events = []
    for frame in body.split(b"\n\n"):
        data = [line[6:] for line in frame.split(b"\n") if line.startswith(b"data: ")]
        if data:
            events.append(json.loads(b"\n".join(data)))
    return events


def test_url_is_a_loopback_v1_base_url(upstream: FakeUpstream) -> None:
    assert upstream.url.startswith("http://127.0.0.1:")
    assert upstream.url.endswith("/v1")


def test_replay_serves_the_fixture_bytes_as_an_event_stream(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    upstream.enqueue(replay("text_simple"))

    response = post(client, upstream)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.content == fixture_bytes("text_simple")


def test_replay_sends_one_chunk_per_event_by_default(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.enqueue(replay("text_simple", delay=0.01))

    with client.stream("POST", upstream.url + "/responses", json={}) as response:
        chunks = list(response.iter_raw())

    assert len(chunks) == fixture_bytes("text_simple").count(b"\n\n")
    assert all(chunk.endswith(b"\n\n") for chunk in chunks)


def test_replay_with_chunk_size_splits_the_bytes_evenly(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.enqueue(replay(b"0123456789", chunk_size=3, delay=0.01))

    with client.stream("POST", upstream.url + "/responses", json={}) as response:
        chunks = list(response.iter_raw())

    assert chunks == [b"012", b"345", b"678", b"9"]


def test_requests_are_recorded_with_lowercased_headers_and_body(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    upstream.enqueue(json_response({"ok": True}))

    client.post(upstream.url + "/responses?x=1", json={"model": "gpt"}, headers={"X-Correlation-ID": "abc"})

    [request] = upstream.wait_for_requests(1)
    assert (request.method, request.path, request.query) == ("POST", "/v1/responses", "x=1")
    assert request.headers["x-correlation-id"] == "abc"
    assert request.json() == {"model": "gpt"}


def test_queue_is_first_in_first_out_then_default(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.enqueue(json_response({"n": 1}), json_response({"n": 2}))
    upstream.set_default(json_response({"n": "default"}))

    bodies = [post(client, upstream).json() for _ in range(4)]

    assert bodies == [{"n": 1}, {"n": 2}, {"n": "default"}, {"n": "default"}]


def test_unscripted_responses_path_answers_500(upstream: FakeUpstream, client: httpx.Client) -> None:
    response = post(client, upstream)

    assert response.status_code == 500
    assert "nothing scripted for /v1/responses" in response.json()["error"]["message"]


def test_unknown_path_answers_404(upstream: FakeUpstream, client: httpx.Client) -> None:
    response = post(client, upstream, "/responses/input_tokens")

    assert response.status_code == 404


def test_other_paths_can_be_scripted(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.enqueue(
        json_response({"object": "response.input_tokens", "input_tokens": 7}), path=INPUT_TOKENS_PATH
    )

    assert post(client, upstream, "/responses/input_tokens").json()["input_tokens"] == 7


def test_a_factory_builds_the_behaviour_from_the_request(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    upstream.set_default(lambda request: json_response({"echo": request.json()["model"]}))

    assert post(client, upstream, model="gpt-x").json() == {"echo": "gpt-x"}


def test_error_with_retry_after_header(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.enqueue(error(429, {"error": {"message": "slow down"}}, headers={"retry-after": "2"}))

    response = post(client, upstream)

    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.json() == {"error": {"message": "slow down"}}


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (None, "application/json", b'"type":"server_error"'),
        ("<html>bad gateway</html>", "text/plain; charset=utf-8", b"<html>bad gateway</html>"),
    ],
)
def test_error_bodies(
    upstream: FakeUpstream, client: httpx.Client, body: str | None, content_type: str, expected: bytes
) -> None:
    upstream.enqueue(error(502, body))

    response = post(client, upstream)

    assert response.status_code == 502
    assert response.headers["content-type"] == content_type
    assert expected in response.content


def test_connection_is_kept_alive_between_requests(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.set_default(replay("text_simple"))

    for _ in range(3):
        with client.stream("POST", upstream.url + "/responses", json={}) as response:
            response.read()

    assert len({request.client_port for request in upstream.wait_for_requests(3)}) == 1


def test_stall_before_headers_times_out_the_client(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.enqueue(stall(5.0))

    with pytest.raises(httpx.ReadTimeout):
        client.post(upstream.url + "/responses", json={}, timeout=httpx.Timeout(5.0, read=0.2))


def test_stall_after_bytes_sends_headers_and_bytes_first(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    upstream.enqueue(stall(5.0, after=b"event: x\ndata: {}\n\n"))

    with client.stream(
        "POST", upstream.url + "/responses", json={}, timeout=httpx.Timeout(5.0, read=0.2)
    ) as response:
        chunks = response.iter_raw()
        assert response.status_code == 200
        assert next(chunks) == b"event: x\ndata: {}\n\n"
        with pytest.raises(httpx.ReadTimeout):
            next(chunks)


def test_drop_cuts_the_body_mid_stream(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.enqueue(drop(b"event: x\ndata: {}\n\n"))

    with client.stream("POST", upstream.url + "/responses", json={}) as response:
        received = []
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in response.iter_raw():
                received.append(chunk)

    assert received == [b"event: x\ndata: {}\n\n"]


def test_drop_with_reset_sends_rst(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.enqueue(drop(b"event: x\ndata: {}\n\n", reset=True))

    with (
        client.stream("POST", upstream.url + "/responses", json={}) as response,
        pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)),
    ):
        response.read()


def test_held_stream_stays_open_until_cut_held_drops_it(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.enqueue(held(b"event: x\ndata: {}\n\n"))

    with client.stream("POST", upstream.url + "/responses", json={}) as response:
        chunks = response.iter_raw()
        assert next(chunks) == b"event: x\ndata: {}\n\n"
        assert upstream.cut_held() == 1
        with pytest.raises(httpx.RemoteProtocolError):
            next(chunks)


def test_cut_held_with_reset_resets_every_held_stream(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.set_default(held(b"event: x\ndata: {}\n\n"))
    with (
        client.stream("POST", upstream.url + "/responses", json={}) as first,
        httpx.Client(timeout=5.0) as other,
        other.stream("POST", upstream.url + "/responses", json={}) as second,
    ):
        streams = [response.iter_raw() for response in (first, second)]
        for chunks in streams:
            next(chunks)

        assert upstream.cut_held(reset=True) == 2
        for chunks in streams:
            with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
                next(chunks)


def test_held_stream_ends_when_the_client_hangs_up(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.enqueue(held(b"event: x\ndata: {}\n\n"))

    with client.stream("POST", upstream.url + "/responses", json={}) as response:
        next(response.iter_raw())

    upstream.wait_for_idle(timeout=1.0)
    assert upstream.cut_held() == 0


def test_raw_stream_sends_exactly_these_chunks(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.enqueue(raw_stream([b"data: a\r", b"\n\r\n"], delay=0.02))

    with client.stream("POST", upstream.url + "/responses", json={}) as response:
        assert list(response.iter_raw()) == [b"data: a\r", b"\n\r\n"]


def test_raw_stream_together_sends_the_same_chunks_in_one_burst(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    chunks = [b"data: %d\n\n" % n for n in range(50)]
    upstream.enqueue(raw_stream(chunks, together=True, delay=1.0))  # the delay does not apply

    started = time.monotonic()
    with client.stream("POST", upstream.url + "/responses", json={}) as response:
        assert b"".join(response.iter_raw()) == b"".join(chunks)
    assert time.monotonic() - started < 1.0


def test_client_going_away_mid_stream_is_noticed_quickly(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    upstream.enqueue(slow_stream(interval=1.0))

    with client.stream("POST", upstream.url + "/responses", json={}) as response:
        chunks = response.iter_raw()
        next(chunks)
        assert upstream.open_streams == 1
        closed_at = time.monotonic()
        response.close()  # an unfinished response closes its connection

    assert upstream.wait_for_disconnect(since=closed_at) < 0.5
    upstream.wait_for_idle(timeout=1.0)
    assert upstream.open_streams == 0


@pytest.fixture
def many_descriptors_open() -> Iterator[None]:
    """This process holds descriptors past 1023, as a busy test process does (500 streams at once)."""
    held_open = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    yield
    for fd in held_open:
        os.close(fd)


def test_a_stream_on_a_descriptor_past_1023_is_served_to_its_end(
    upstream: FakeUpstream, client: httpx.Client, many_descriptors_open: None
) -> None:
    """select() refuses such descriptors; the fake took that for a client hanging up and cut the stream."""
    upstream.enqueue(raw_stream([b"data: a\n\n", b"data: b\n\n"], delay=0.02))

    with client.stream("POST", upstream.url + "/responses", json={}) as response:
        assert b"".join(response.iter_raw()) == b"data: a\n\ndata: b\n\n"
    assert upstream.disconnects == []


def test_paused_stream_waits_for_its_release_then_finishes(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    release = threading.Event()
    upstream.enqueue(paused([b"data: a\n\n"], release, after=[b"data: b\n\n"]))

    with client.stream("POST", upstream.url + "/responses", json={}) as response:
        chunks = response.iter_raw()
        assert next(chunks) == b"data: a\n\n"
        assert upstream.open_streams == 1
        release.set()
        assert list(chunks) == [b"data: b\n\n"]

    upstream.wait_for_idle(timeout=1.0)


def test_client_leaving_a_paused_stream_is_recorded_promptly(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    upstream.enqueue(paused([b"data: a\n\n"], threading.Event()))

    with client.stream("POST", upstream.url + "/responses", json={}) as response:
        next(response.iter_raw())
        closed_at = time.monotonic()
        response.close()

    assert upstream.wait_for_disconnect(since=closed_at) < 0.5
    upstream.wait_for_idle(timeout=1.0)


def test_sse_events_numbers_events_and_adds_comments_and_done(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    upstream.enqueue(sse_events([{"type": "a"}, {"type": "b"}, {"type": "c"}], comments_every=2, done=True))

    body = post(client, upstream).content

    assert body == (
        b'event: a\ndata: {"type":"a","sequence_number":0}\n\n'
        b'event: b\ndata: {"type":"b","sequence_number":1}\n\n'
        b": keepalive\n\n"
        b'event: c\ndata: {"type":"c","sequence_number":2}\n\n'
        b"data: [DONE]\n\n"
    )


def test_stop_with_an_open_stream_and_an_idle_keepalive_connection_returns_promptly() -> None:
    fake = FakeUpstream().start()
    fake.enqueue(json_response({}), stall(30.0, after=b": hi\n\n"))
    threads_before = threading.active_count()
    with httpx.Client() as idle, httpx.Client() as streaming:
        idle.post(fake.url + "/responses", json={})  # leaves a keep-alive connection open
        with streaming.stream("POST", fake.url + "/responses", json={}) as response:
            chunks = response.iter_raw()  # keep a reference: a dropped iterator closes the connection
            next(chunks)
            started = time.monotonic()
            fake.stop()
            assert time.monotonic() - started < 1.0
    assert threading.active_count() < threads_before
    assert fake.disconnects == []


@pytest.mark.parametrize(
    ("events", "terminal"),
    [
        (text_response_events("Hello there, world"), "response.completed"),
        (function_call_events("get_weather", {"city": "Paris"}, text="Checking."), "response.completed"),
        (reasoning_response_events(["**Plan**\n\nthink", "more"], "Done."), "response.completed"),
        (refusal_response_events("I can't help with that."), "response.completed"),
        (incomplete_response_events("The Roman Empire began"), "response.incomplete"),
        (failed_response_events(), "response.failed"),
    ],
)
def test_event_builders_make_numbered_streams_whose_output_matches_the_done_items(
    events: list[dict[str, object]], terminal: str
) -> None:
    done_items = [event["item"] for event in events if event["type"] == "response.output_item.done"]

    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    assert [event["type"] for event in events][:2] == ["response.created", "response.in_progress"]
    assert events[-1]["type"] == terminal
    assert final_response(events)["output"] == done_items


def test_text_response_events_deltas_join_to_the_text() -> None:
    events = text_response_events("Hello there, world")

    deltas = [event["delta"] for event in events if event["type"] == "response.output_text.delta"]

    assert deltas == ["Hello", " there,", " world"]


def test_reasoning_encrypted_content_only_in_output_item_done() -> None:
    events = reasoning_response_events(["a"], "b", encrypted_content="ENC")

    carrying = [event["type"] for event in events if "ENC" in json.dumps(event)]

    assert carrying == ["response.output_item.done", "response.completed"]


def test_function_call_arguments_deltas_join_to_the_arguments() -> None:
    events = function_call_events("f", {"city": "Paris", "unit": "celsius"}, call_id="call_1")

    deltas = "".join(e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta")
    added = next(e for e in events if e["type"] == "response.output_item.added")

    assert json.loads(deltas) == {"city": "Paris", "unit": "celsius"}
    assert added["item"]["name"] == "f"
    assert added["item"]["call_id"] == "call_1"


def test_streamed_builder_events_round_trip(upstream: FakeUpstream, client: httpx.Client) -> None:
    events = text_response_events(["Hi", "!"])
    upstream.enqueue(sse_events([*events[:3], error_event("boom", code="server_error")]))

    received = parse_sse(post(client, upstream).content)

    assert received[:3] == events[:3]
    assert received[3]["error"]["message"] == "boom"


ANSWER = (
    "Async views arrived in Django 3.1 ([djangoproject.com](https://djangoproject.com/?utm_source=openai))."
)
CITED = url_citation(
    ANSWER,
    "([djangoproject.com](https://djangoproject.com/?utm_source=openai))",
    "https://djangoproject.com/?utm_source=openai",
    "Django",
)
# The 3.x types require ``cache_write_tokens``, which 2025 recordings lack (protocol.md B.3): sent here.
USAGE = usage_object(1480, 96, cache_write_tokens=0)


@pytest.mark.parametrize(
    "events",
    [
        web_search_response_events(
            "django async", ["https://djangoproject.com/"], ANSWER, [CITED], usage=USAGE
        ),
        response_events(web_search_call_item_events("q", [], status="failed"), usage=USAGE),
    ],
    ids=["search_then_cited_answer", "failed_search"],
)
def test_web_search_events_are_what_the_openai_sdk_types_describe(events: list[dict[str, object]]) -> None:
    adapter = pydantic.TypeAdapter(ResponseStreamEvent)

    for event in events:
        adapter.validate_python(event, strict=True)
    Response.model_validate(final_response(events), strict=True)


def test_a_web_search_call_carries_its_query_and_sources_only_when_done() -> None:
    events = web_search_call_item_events("django async", ["https://a.example/", "https://b.example/"])

    added, done = events[0]["item"], events[-1]["item"]

    assert [event["type"] for event in events] == [
        "response.output_item.added",
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.completed",
        "response.output_item.done",
    ]
    assert added["action"] == {"type": "search"}
    assert (
        ResponseFunctionWebSearch.model_validate(done, strict=True).action.sources[1].url
        == "https://b.example/"
    )  # type: ignore[union-attr,index]


def test_an_annotation_event_follows_the_delta_that_completes_its_span() -> None:
    events = web_search_response_events("q", [], ANSWER, [CITED])
    kinds = [event["type"] for event in events if event["type"].startswith("response.output_text.")]

    assert kinds[-3:] == [
        "response.output_text.delta",
        "response.output_text.annotation.added",
        "response.output_text.done",
    ]
    assert final_response(events)["output"][1]["content"][0]["annotations"] == [CITED]


def test_response_object_defaults_usage_only_for_finished_responses() -> None:
    assert response_object(status="completed")["usage"]["input_tokens"] == 12
    assert response_object(status="in_progress")["usage"] is None


@pytest.mark.anyio
async def test_a_burst_of_one_hundred_concurrent_streams_is_served(upstream: FakeUpstream) -> None:
    def all_at_once(request: object) -> Behaviour:
        # Answer only once all 100 are connected: a quick answer could free a connection for reuse
        # before the last requests start, and then fewer than 100 connections would be opened.
        upstream.wait_for_requests(100, timeout=10.0)
        return replay("text_simple", delay=0.01)

    upstream.set_default(all_at_once)
    limits = httpx.Limits(max_connections=100)

    async with httpx.AsyncClient(limits=limits, timeout=10.0) as http:
        responses = await asyncio.gather(
            *(http.post(upstream.url + "/responses", json={}) for _ in range(100))
        )

    assert {response.content for response in responses} == {fixture_bytes("text_simple")}
    assert len({request.client_port for request in upstream.requests}) == 100
