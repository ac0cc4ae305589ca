"""Golden fixtures: every recorded upstream stream becomes exactly its expected Anthropic stream.

Fixture signatures are the unauthenticated ``oairs1.<payload>`` of protocol.md C.4; the gateway's carry
an HMAC (``oairs1.<payload>.<mac>``) by design, so signatures compare by what they carry: ours opened
with the test key, the fixture's payload decoded.
"""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pydantic
import pytest

from streaming.errors import GatewayError
from streaming.translate.context import RequestContext
from streaming.translate.response import response_to_message
from streaming.translate.signature import PREFIX, ReasoningRef, open_signature
from streaming.translate.stream import StreamTranslator
from streaming.transport.sse_decoder import SSEDecoder

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SIGNING_KEY = "golden-test-signing-key"
CLIENT_MODEL = "claude-sonnet-4-6"
STREAM_CASES = sorted(
    p.name.removesuffix(".sse") for p in FIXTURES.glob("*.sse") if ".anthropic." not in p.name
)
MESSAGE_CASES = sorted(p.name.removesuffix(".message.json") for p in FIXTURES.glob("*.message.json"))
ERROR_CASES = {"error_event", "error_event_flat", "failed"}
# A stream sends search results before the text whose citations title them (translate.web_search): there
# the final message differs from the non-streaming one in those titles, as test_translate_web_search pins.
TITLED_BY_LATER_CITATIONS = {"web_search"}
TERMINAL_TYPES = {"response.completed", "response.incomplete"}


# -- helpers (also used by test_stream_translator) ---------------------------------------------------


def parse_sse(text: str) -> list[dict[str, Any]]:
    """A minimal WHATWG SSE parser for LF-only fixture text: ``[{"event": name|None, "data": str}]``."""
    events: list[dict[str, Any]] = []
    name: str | None = None
    data: list[str] = []
    for line in text.split("\n"):
        if not line:
            if data:
                events.append({"event": name, "data": "\n".join(data)})
            name, data = None, []
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
    return events


def upstream_events(case: str) -> list[dict[str, Any]]:
    """The fixture's upstream events as the transport hands them over (data parsed)."""
    return [
        {"event": e["event"] or "message", "data": json.loads(e["data"])}
        for e in parse_sse((FIXTURES / f"{case}.sse").read_text(encoding="utf-8"))
    ]


def context_for(case: str, **overrides: Any) -> RequestContext:
    fields: dict[str, Any] = {
        "client_model": CLIENT_MODEL,
        "upstream_model": "gpt-5-mini",
        "thinking": case == "reasoning_then_text",
        "signing_key": SIGNING_KEY,
        "web_search": case.startswith("web_search"),
    }
    fields.update(overrides)
    return RequestContext(**fields)


def translate(events: list[dict[str, Any]], context: RequestContext) -> bytes:
    translator = StreamTranslator(context)
    frames: list[bytes] = []
    for event in events:
        frames += translator.feed(event)
    frames += translator.finish()
    return b"".join(frames)


def fixture_signature(signature: str) -> ReasoningRef:
    payload = json.loads(base64.urlsafe_b64decode(signature[len(PREFIX) :] + "=="))
    return ReasoningRef(payload["id"], payload["encrypted_content"])


def _normalise_signatures(value: Any, opener: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: opener(v)
            if k in ("signature", "data") and isinstance(v, str) and v.startswith(PREFIX)
            else _normalise_signatures(v, opener)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_normalise_signatures(v, opener) for v in value]
    return value


def ours(value: Any) -> Any:
    """Our output with each signature replaced by what it carries (None if it does not open)."""
    return _normalise_signatures(value, lambda s: open_signature(s, SIGNING_KEY))


def theirs(value: Any) -> Any:
    """Fixture output with each MAC-less signature replaced by what it carries."""
    return _normalise_signatures(value, fixture_signature)


def comparable(events: list[dict[str, Any]], side: Any) -> list[tuple[str | None, Any]]:
    """Events without pings; the raw data text where no signature is involved (exact bytes matter)."""
    result = []
    for event in events:
        if event["event"] == "ping":
            continue
        data = event["data"]
        result.append((event["event"], side(json.loads(data)) if PREFIX in data else data))
    return result


def terminal_response(case: str) -> dict[str, Any]:
    return next(e["data"]["response"] for e in upstream_events(case) if e["data"]["type"] in TERMINAL_TYPES)


def sdk_final_message(stream: bytes) -> anthropic.types.Message:
    """What the official SDK's ``messages.stream(...).get_final_message()`` makes of our bytes."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=stream)

    # anthropic 2.x runs on httpx2 (it rejects plain httpx clients).
    with httpx2.Client(transport=httpx2.MockTransport(handler)) as http_client:
        client = anthropic.Anthropic(api_key="test", base_url="http://gateway.test", http_client=http_client)
        with client.messages.stream(
            model=CLIENT_MODEL, max_tokens=1024, messages=[{"role": "user", "content": "hi"}]
        ) as stream_manager:
            return stream_manager.get_final_message()


# -- golden streams ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", STREAM_CASES)
def test_upstream_stream_translates_to_the_expected_anthropic_stream(case: str) -> None:
    produced = parse_sse(translate(upstream_events(case), context_for(case)).decode())
    expected = parse_sse((FIXTURES / f"{case}.anthropic.sse").read_text(encoding="utf-8"))

    assert comparable(produced, ours) == comparable(expected, theirs)


@pytest.mark.parametrize("case", STREAM_CASES)
def test_upstream_bytes_split_into_small_chunks_translate_the_same(case: str) -> None:
    raw = (FIXTURES / f"{case}.sse").read_bytes()
    decoder = SSEDecoder()
    events = []
    rng = random.Random(case)
    position = 0
    while position < len(raw):
        step = rng.randint(1, 7)
        events += decoder.feed(raw[position : position + step])
        position += step
    events += decoder.flush()

    assert translate(events, context_for(case)) == translate(upstream_events(case), context_for(case))


@pytest.mark.parametrize("case", STREAM_CASES)
def test_frames_from_one_event_at_a_time_equal_the_whole_stream(case: str) -> None:
    events = upstream_events(case)
    translator = StreamTranslator(context_for(case))
    per_event = [translator.feed(event) for event in events]

    assert b"".join(b"".join(frames) for frames in per_event) + b"".join(translator.finish()) == translate(
        events, context_for(case)
    )


# -- non-streaming pairs ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", MESSAGE_CASES)
def test_response_json_translates_to_the_expected_message(case: str) -> None:
    response = json.loads((FIXTURES / f"{case}.response.json").read_text(encoding="utf-8"))
    expected = json.loads((FIXTURES / f"{case}.message.json").read_text(encoding="utf-8"))

    assert ours(response_to_message(response, context_for(case))) == theirs(expected)


@pytest.mark.parametrize("case", MESSAGE_CASES)
def test_response_json_is_the_terminal_response_of_the_stream(case: str) -> None:
    response = json.loads((FIXTURES / f"{case}.response.json").read_text(encoding="utf-8"))

    assert response == terminal_response(case)


# -- the official SDK accepts what we stream ---------------------------------------------------------


@pytest.mark.parametrize("case", sorted(set(STREAM_CASES) - ERROR_CASES - TITLED_BY_LATER_CITATIONS))
def test_sdk_final_message_from_our_stream_equals_the_non_streaming_message(case: str) -> None:
    context = context_for(case)
    final = sdk_final_message(translate(upstream_events(case), context)).to_dict(mode="json")

    assert final.pop("stop_details", None) is None  # the SDK sets it from message_delta (absent there)
    assert final == response_to_message(terminal_response(case), context)


@pytest.mark.parametrize(
    ("case", "error_type"),
    [("error_event", "rate_limit_error"), ("error_event_flat", "api_error"), ("failed", "api_error")],
)
def test_sdk_raises_on_our_mid_stream_error(case: str, error_type: str) -> None:
    with pytest.raises(anthropic.APIStatusError) as raised:
        sdk_final_message(translate(upstream_events(case), context_for(case)))

    assert raised.value.status_code == 200
    assert raised.value.body["error"]["type"] == error_type  # type: ignore[index]


def test_fixture_signature_payload_opens_to_the_same_reasoning_item() -> None:
    """Guards the comparison itself: our minted signature and the fixture's carry the same item."""
    expected = parse_sse((FIXTURES / "reasoning_then_text.anthropic.sse").read_text(encoding="utf-8"))
    produced = parse_sse(
        translate(upstream_events("reasoning_then_text"), context_for("reasoning_then_text")).decode()
    )
    signature = next(
        json.loads(e["data"])["delta"]["signature"] for e in produced if "signature_delta" in e["data"]
    )
    fixture = next(
        json.loads(e["data"])["delta"]["signature"] for e in expected if "signature_delta" in e["data"]
    )

    assert open_signature(signature, SIGNING_KEY) == fixture_signature(fixture)
    assert open_signature(signature, "another-key") is None
    assert isinstance(GatewayError("x"), Exception)


@pytest.mark.parametrize("case", STREAM_CASES)
def test_every_event_we_emit_validates_against_the_sdk_types(case: str) -> None:
    adapter = pydantic.TypeAdapter(anthropic.types.RawMessageStreamEvent)
    produced = parse_sse(translate(upstream_events(case), context_for(case)).decode())

    for event in produced:
        data = json.loads(event["data"])
        assert data["type"] == event["event"]
        if event["event"] != "error":
            adapter.validate_python(data, strict=True)
