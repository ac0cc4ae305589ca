"""Streaming ``POST /v1/messages`` (and the ``/v1/messages/stream`` alias) through the real gateway.

The official Python SDK consumes the stream unchanged (``messages.stream``, raw ``stream=True``); raw
httpx checks the bytes, the timing and what happens to the upstream connection.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import anthropic
import httpx
import pytest

from streaming.translate.signature import open_signature
from tests.e2e.helpers import (
    Gateway,
    anthropic_headers,
    assert_well_formed,
    fixture_events,
    fixture_message,
    hang_up_after_first_delta,
    items_of_type,
    long_text_stream,
    parse_sse,
    without_pings,
)
from tests.fakes.upstream import (
    FakeUpstream,
    RecordedRequest,
    drop,
    error,
    function_call_events,
    function_call_item_events,
    raw_stream,
    reasoning_item_events,
    replay,
    response_events,
    slow_stream,
    sse_events,
    sse_frame,
    stall,
    text_response_events,
    usage_object,
)

pytestmark = pytest.mark.e2e

MODEL = "claude-sonnet-4-6"
USER_HI: list[Any] = [{"role": "user", "content": "Hi"}]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
THINKING = {"type": "enabled", "budget_tokens": 2048}
# Fixtures whose whole Anthropic stream is fixed (no thinking signature, which the gateway MACs itself).
GOLDEN = [
    "text_simple",
    "tool_call",
    "parallel_tool_calls",
    "incomplete_max_tokens",
    "refusal",
    "unicode",
    "keepalive_and_multiline",
]


def stream_body(**overrides: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 256, "messages": USER_HI, "stream": True, **overrides}


def sent(upstream: FakeUpstream, index: int = 0) -> dict[str, Any]:
    payload: dict[str, Any] = upstream.requests[index].json()
    return payload


# The SDK's stream helpers --------------------------------------------------------------------------


@pytest.mark.parametrize("chunking", ["per-event", "5-byte"])
@pytest.mark.parametrize("name", GOLDEN)
def test_stream_final_message_matches_the_golden_message(
    client: anthropic.Anthropic, upstream: FakeUpstream, name: str, chunking: str
) -> None:
    upstream.enqueue(replay(name, chunk_size=5 if chunking == "5-byte" else None))

    with client.messages.stream(
        model=MODEL, max_tokens=256, tools=[WEATHER_TOOL], messages=USER_HI
    ) as stream:
        final = stream.get_final_message()

    assert final.model_dump() == fixture_message(name)
    assert sent(upstream)["stream"] is True


def test_text_stream_and_final_text(client: anthropic.Anthropic, upstream: FakeUpstream) -> None:
    upstream.enqueue(sse_events(text_response_events(["Grüße", " aus", " Zürich", " 👋🏽"])))

    with client.messages.stream(model=MODEL, max_tokens=256, messages=USER_HI) as stream:
        pieces = list(stream.text_stream)
        final_text = stream.get_final_text()
        final = stream.get_final_message()

    assert pieces == ["Grüße", " aus", " Zürich", " 👋🏽"]
    assert final_text == "Grüße aus Zürich 👋🏽"
    assert (final.stop_reason, final.model) == ("end_turn", MODEL)
    assert (final.usage.input_tokens, final.usage.output_tokens) == (12, 10)


def test_finished_streams_give_their_upstream_connection_back_to_the_pool(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    """A stream read to its end is reused: no new TCP (in production, TLS) handshake per request."""
    for _ in range(6):
        upstream.enqueue(sse_events(text_response_events(["Hi"])))
        with client.messages.stream(model=MODEL, max_tokens=256, messages=USER_HI) as stream:
            stream.get_final_message()
    ports = [request.client_port for request in upstream.wait_for_requests(6)]
    assert len(set(ports)) <= 2, ports


def test_tool_use_stream_gives_the_parsed_input(client: anthropic.Anthropic, upstream: FakeUpstream) -> None:
    arguments = {"city": 'Zürich "Altstadt"', "days": [1, 2, 3], "note": "line1\nline2 ✓"}
    upstream.enqueue(
        sse_events(function_call_events("get_weather", arguments, call_id="call_s1", text="Checking."))
    )

    with client.messages.stream(
        model=MODEL, max_tokens=256, tools=[WEATHER_TOOL], messages=USER_HI
    ) as stream:
        partial_json = "".join(event.partial_json for event in stream if event.type == "input_json")  # type: ignore[union-attr]
        final = stream.get_final_message()

    assert json.loads(partial_json) == arguments
    assert [block.type for block in final.content] == ["text", "tool_use"]
    assert final.content[1].input == arguments  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use"


def test_tool_arguments_only_in_the_finished_item_still_reach_the_client(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    """Some Responses servers send no argument deltas, only ``function_call_arguments.done``."""
    events = [
        event
        for event in function_call_events("get_weather", {"city": "Oslo"}, call_id="call_nodelta")
        if event["type"] != "response.function_call_arguments.delta"
    ]
    upstream.enqueue(sse_events(events))

    with client.messages.stream(
        model=MODEL, max_tokens=256, tools=[WEATHER_TOOL], messages=USER_HI
    ) as stream:
        final = stream.get_final_message()

    assert final.content[0].input == {"city": "Oslo"}  # type: ignore[union-attr]


def test_reasoning_stream_matches_the_golden_message_with_the_gateways_signature(
    client: anthropic.Anthropic, upstream: FakeUpstream, gateway: Gateway
) -> None:
    upstream.enqueue(replay("reasoning_then_text"))

    with client.messages.stream(model=MODEL, max_tokens=4096, thinking=THINKING, messages=USER_HI) as stream:
        thinking = "".join(event.thinking for event in stream if event.type == "thinking")  # type: ignore[union-attr]
        final = stream.get_final_message().model_dump()

    expected = fixture_message("reasoning_then_text")
    signature = final["content"][0].pop("signature")
    expected["content"][0].pop("signature")
    assert final == expected
    assert thinking == expected["content"][0]["thinking"]
    assert open_signature(signature, _secret(gateway)) is not None


def test_thinking_and_tool_use_round_trip_across_streamed_turns(
    client: anthropic.Anthropic, upstream: FakeUpstream, gateway: Gateway
) -> None:
    encrypted = "gAAAAABo-streamed+encrypted/reasoning=="
    upstream.enqueue(
        sse_events(
            response_events(
                reasoning_item_events(["Look it up."], encrypted_content=encrypted, item_id="rs_stream1"),
                function_call_item_events(
                    "get_weather", {"city": "Rome"}, call_id="call_stream1", output_index=1
                ),
                usage=usage_object(30, 80, reasoning_tokens=50),
            )
        ),
        sse_events(text_response_events("Warm.")),
    )
    question = {"role": "user", "content": "Weather in Rome?"}

    with client.messages.stream(
        model=MODEL, max_tokens=4096, thinking=THINKING, tools=[WEATHER_TOOL], messages=[question]
    ) as stream:
        first = stream.get_final_message()
    tool_use = first.content[1]
    with client.messages.stream(
        model=MODEL,
        max_tokens=4096,
        thinking=THINKING,
        tools=[WEATHER_TOOL],
        messages=[
            question,
            {"role": "assistant", "content": first.content},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "24°C"}],
            },  # type: ignore[union-attr]
        ],
    ) as stream:
        second_text = stream.get_final_text()

    assert [block.type for block in first.content] == ["thinking", "tool_use"]
    assert open_signature(first.content[0].signature, _secret(gateway)) == ("rs_stream1", encrypted)  # type: ignore[union-attr]
    assert second_text == "Warm."
    turn2 = sent(upstream, 1)
    [reasoning] = items_of_type(turn2, "reasoning")
    [call] = items_of_type(turn2, "function_call")
    [output] = items_of_type(turn2, "function_call_output")
    assert reasoning["encrypted_content"] == encrypted
    assert reasoning.get("id") in (None, "rs_stream1")  # with store: false an id is optional (and risky)
    assert call["call_id"] == output["call_id"] == "call_stream1"
    assert turn2["input"].index(reasoning) < turn2["input"].index(call) < turn2["input"].index(output)


def test_stop_sequence_ends_the_stream_and_closes_the_upstream(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    """The match is split across deltas (" ST" + "OP"); the upstream would go on for seconds."""
    deltas = ["alpha", " beta", " ST", "OP", " gamma"] + [" tick"] * 400
    upstream.enqueue(slow_stream(text_response_events(deltas), interval=0.02))

    with client.messages.stream(
        model=MODEL, max_tokens=256, stop_sequences=["STOP"], messages=USER_HI
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert text == "alpha beta "
    assert (final.stop_reason, final.stop_sequence) == ("stop_sequence", "STOP")
    upstream.wait_for_disconnect(timeout=2.0)


def test_text_that_only_looks_like_a_stop_sequence_is_released(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    upstream.enqueue(sse_events(text_response_events(["the ST", "OCK market", " is ST"])))

    with client.messages.stream(
        model=MODEL, max_tokens=256, stop_sequences=["STOP"], messages=USER_HI
    ) as stream:
        final = stream.get_final_message()

    assert final.content[0].text == "the STOCK market is ST"  # type: ignore[union-attr]
    assert (final.stop_reason, final.stop_sequence) == ("end_turn", None)


# Raw events ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["text_simple", "tool_call", "parallel_tool_calls", "reasoning_then_text"])
def test_raw_sdk_stream_follows_the_event_grammar(
    client: anthropic.Anthropic, upstream: FakeUpstream, name: str
) -> None:
    upstream.enqueue(replay(name))

    events = client.messages.create(
        model=MODEL, max_tokens=4096, thinking=THINKING, tools=[WEATHER_TOOL], messages=USER_HI, stream=True
    )

    assert_well_formed([(event.type, event.model_dump()) for event in events])


@pytest.mark.parametrize("name", GOLDEN)
def test_raw_bytes_equal_the_golden_stream(
    http: httpx.Client, gateway: Gateway, upstream: FakeUpstream, name: str
) -> None:
    upstream.enqueue(replay(name))

    response = http.post(
        "/v1/messages", json=stream_body(tools=[WEATHER_TOOL]), headers=anthropic_headers(gateway.client_key)
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["request-id"]
    assert without_pings(parse_sse(response.content)) == fixture_events(name)


def test_stream_writes_raw_utf8(http: httpx.Client, gateway: Gateway, upstream: FakeUpstream) -> None:
    upstream.enqueue(replay("unicode", chunk_size=3))

    response = http.post("/v1/messages", json=stream_body(), headers=anthropic_headers(gateway.client_key))

    assert '"text":"Zürich"'.encode() in response.content
    assert '"text":"你好"'.encode() in response.content
    assert b"\\u00fc" not in response.content


def test_stream_alias_always_streams(http: httpx.Client, gateway: Gateway, upstream: FakeUpstream) -> None:
    upstream.enqueue(replay("text_simple"))
    body = {"model": MODEL, "max_tokens": 256, "messages": USER_HI}

    response = http.post("/v1/messages/stream", json=body, headers=anthropic_headers(gateway.client_key))

    assert response.headers["content-type"].startswith("text/event-stream")
    assert without_pings(parse_sse(response.content)) == fixture_events("text_simple")


def test_message_start_is_sent_as_soon_as_the_upstream_stream_begins_and_pings_fill_silence(
    tuned_gateway: Gateway, upstream: FakeUpstream
) -> None:
    """Tuned gateway: ping every 0.2 s. The upstream sends response.created, then thinks for 1 s."""
    frames = [sse_frame(event) for event in text_response_events("Late answer")]
    upstream.enqueue(raw_stream([frames[0], b"".join(frames[1:])], delay=1.0))
    started = time.monotonic()
    first_event_after: float | None = None
    raw = b""

    with httpx.stream(
        "POST",
        f"{tuned_gateway.base_url}/v1/messages",
        json=stream_body(),
        headers=anthropic_headers(tuned_gateway.client_key),
        timeout=10,
    ) as response:
        for chunk in response.iter_bytes():
            if first_event_after is None and b"message_start" in chunk:
                first_event_after = time.monotonic() - started
            raw += chunk

    events = parse_sse(raw)
    names = [name for name, _ in events]
    assert first_event_after is not None
    assert first_event_after < 0.8
    assert names.count("ping") >= 3
    assert names.index("ping") > names.index("message_start")
    assert_well_formed(events)


# Errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "error_type"),
    [("error_event", "rate_limit_error"), ("error_event_flat", "api_error"), ("failed", "api_error")],
)
def test_mid_stream_upstream_error_raises_in_the_sdk(
    client: anthropic.Anthropic, upstream: FakeUpstream, name: str, error_type: str
) -> None:
    upstream.enqueue(replay(name))

    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(model=MODEL, max_tokens=256, messages=USER_HI) as stream,
    ):
        stream.get_final_message()

    assert caught.value.body["error"]["type"] == error_type  # type: ignore[index]


@pytest.mark.parametrize("name", ["error_event", "error_event_flat", "failed"])
def test_mid_stream_error_events_equal_the_golden_stream(
    http: httpx.Client, gateway: Gateway, upstream: FakeUpstream, name: str
) -> None:
    upstream.enqueue(replay(name))

    response = http.post("/v1/messages", json=stream_body(), headers=anthropic_headers(gateway.client_key))

    events = without_pings(parse_sse(response.content))
    assert events[-1][0] == "error"
    assert events[-1][1]["error"]["type"] == fixture_events(name)[-1][1]["error"]["type"]
    assert [name for name, _ in events] == [name for name, _ in fixture_events(name)]


def _partial_text_stream() -> bytes:
    """The start of a text answer: created, in_progress, item/part added, two deltas."""
    return b"".join(sse_frame(event) for event in text_response_events(["Hello", " there", " friend"])[:6])


@pytest.mark.parametrize(
    "behaviour",
    [
        pytest.param(lambda: drop(_partial_text_stream()), id="connection-dropped"),
        pytest.param(lambda: drop(_partial_text_stream(), reset=True), id="connection-reset"),
        pytest.param(lambda: raw_stream([_partial_text_stream()]), id="eof-without-terminal-event"),
        pytest.param(
            lambda: raw_stream(
                [_partial_text_stream(), b"event: response.output_text.delta\ndata: {not json\n\n"]
            ),
            id="malformed-json-frame",
        ),
    ],
)
def test_broken_upstream_stream_raises_in_the_sdk(
    client: anthropic.Anthropic, upstream: FakeUpstream, behaviour: Any
) -> None:
    upstream.enqueue(behaviour())

    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(model=MODEL, max_tokens=256, messages=USER_HI) as stream,
    ):
        stream.get_final_message()

    assert caught.value.body["error"]["type"] == "api_error"  # type: ignore[index]


def test_mid_stream_read_timeout_raises_in_the_sdk(
    tuned_gateway: Gateway, client_for: Any, upstream: FakeUpstream
) -> None:
    upstream.enqueue(stall(10, after=_partial_text_stream()))

    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        client_for(tuned_gateway).messages.stream(model=MODEL, max_tokens=256, messages=USER_HI) as stream,
    ):
        stream.get_final_message()

    assert caught.value.body["error"]["type"] == "timeout_error"  # type: ignore[index]


@pytest.mark.parametrize(
    ("status", "exception", "client_status"),
    [
        (429, anthropic.RateLimitError, 429),
        (400, anthropic.BadRequestError, 400),
        (500, anthropic.InternalServerError, 502),
    ],
)
def test_upstream_error_before_the_stream_is_an_http_status(
    client: anthropic.Anthropic,
    upstream: FakeUpstream,
    status: int,
    exception: type[Exception],
    client_status: int,
) -> None:
    upstream.set_default(error(status))  # every attempt

    with (
        pytest.raises(exception) as caught,
        client.messages.stream(model=MODEL, max_tokens=256, messages=USER_HI) as stream,
    ):
        stream.get_final_message()

    assert caught.value.status_code == client_status  # type: ignore[attr-defined]


def test_unreachable_upstream_before_the_stream_is_an_http_status(
    unreachable_gateway: Gateway, client_for: Any
) -> None:
    with (
        pytest.raises(anthropic.OverloadedError),
        client_for(unreachable_gateway).messages.stream(
            model=MODEL, max_tokens=256, messages=USER_HI
        ) as stream,
    ):
        stream.get_final_message()


def test_upstream_timeout_before_the_stream_is_an_http_status(
    tuned_gateway: Gateway, client_for: Any, upstream: FakeUpstream
) -> None:
    upstream.enqueue(stall(10))

    with (
        pytest.raises(anthropic.GatewayTimeoutError),
        client_for(tuned_gateway).messages.stream(model=MODEL, max_tokens=256, messages=USER_HI) as stream,
    ):
        stream.get_final_message()


# Lifetimes -------------------------------------------------------------------------------------------


def test_client_disconnect_closes_the_upstream_request(gateway: Gateway, upstream: FakeUpstream) -> None:
    upstream.enqueue(long_text_stream())

    hang_up_after_first_delta(gateway)
    hung_up = time.monotonic()

    assert upstream.wait_for_disconnect(timeout=2.0, since=hung_up) < 2.0


def test_many_disconnects_leave_nothing_behind(
    gateway: Gateway, client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    log_offset = gateway.log_size()
    rounds = 20
    upstream.set_default(lambda request: long_text_stream())

    for _ in range(rounds):
        hang_up_after_first_delta(gateway)
    for _ in range(rounds):
        upstream.wait_for_disconnect(timeout=3.0)
    upstream.wait_for_idle(timeout=3.0)
    upstream.set_default(sse_events(text_response_events("Still here.")))
    with client.messages.stream(model=MODEL, max_tokens=256, messages=USER_HI) as stream:
        text = stream.get_final_text()

    assert text == "Still here."
    log = gateway.log_since(log_offset)
    for trouble in ("Traceback", "Task was destroyed", "never awaited", "Unclosed", "ERROR"):
        assert trouble not in log


def _echo(request: RecordedRequest) -> Any:
    """Answer each request with the ``req-N`` token its prompt carries, in small slow pieces."""
    match = re.search(r"req-\d+", request.body.decode())
    assert match is not None
    return sse_events(text_response_events(["echo ", match.group(), " done"]), delay=0.02)


@pytest.mark.anyio
async def test_fifty_concurrent_streams_each_get_their_own_answer(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    upstream.set_default(_echo)

    async with anthropic.AsyncAnthropic(
        base_url=gateway.base_url, api_key=gateway.client_key, max_retries=0, timeout=60
    ) as sdk:

        async def one(n: int) -> str:
            async with sdk.messages.stream(
                model=MODEL, max_tokens=64, messages=[{"role": "user", "content": f"req-{n}"}]
            ) as stream:
                return await stream.get_final_text()

        answers = await asyncio.gather(*(one(n) for n in range(50)))

    assert answers == [f"echo req-{n} done" for n in range(50)]
    assert len(upstream.requests) == 50


def _secret(gateway: Gateway) -> str:
    return (gateway.data_dir / "secret_key").read_text().strip()
