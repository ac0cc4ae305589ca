"""Non-streaming ``POST /v1/messages`` through the real gateway, driven by the official Python SDK.

Each test scripts the fake Responses upstream, calls the SDK as any application would, and checks both
what the SDK got back and what the upstream received.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import anthropic
import pytest

from streaming.translate.response import INVALID_ARGUMENTS_KEY
from streaming.translate.signature import open_signature
from tests.e2e.helpers import (
    Gateway,
    answer,
    content_parts,
    fixture_message,
    golden,
    items_of_type,
    message_text,
)
from tests.fakes.upstream import (
    INPUT_TOKENS_PATH,
    FakeUpstream,
    error,
    function_call_events,
    function_call_item_events,
    incomplete_response_events,
    json_response,
    reasoning_item_events,
    refusal_response_events,
    response_events,
    text_response_events,
    usage_object,
)

pytestmark = pytest.mark.e2e

MODEL = "claude-sonnet-4-6"
UPSTREAM_MODEL = "gpt-5"  # conftest.MODEL_MAP: claude-* -> gpt-5
USER_HI: list[Any] = [{"role": "user", "content": "Hi"}]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
    },
}
# A 1x1 transparent PNG.
PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
# The smallest well-formed PDF (one empty page).
PDF_BYTES = (
    b"%PDF-1.1\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 3 3]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def sent(upstream: FakeUpstream, index: int = 0) -> dict[str, Any]:
    """The JSON body of the index-th request the upstream received."""
    payload: dict[str, Any] = upstream.requests[index].json()
    return payload


# Text, system, model, usage ------------------------------------------------------------------------


def test_text_answer_matches_the_golden_message(client: anthropic.Anthropic, upstream: FakeUpstream) -> None:
    upstream.enqueue(golden("text_simple"))

    message = client.messages.create(model=MODEL, max_tokens=256, messages=USER_HI)

    assert message.model_dump() == fixture_message("text_simple")


def test_upstream_request_uses_the_mapped_model_and_stores_nothing(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    upstream.enqueue(answer(text_response_events("Hello")))

    client.messages.create(model=MODEL, max_tokens=300, messages=USER_HI)

    payload = sent(upstream)
    assert upstream.requests[0].path == "/v1/responses"
    assert payload["model"] == UPSTREAM_MODEL
    assert payload["store"] is False
    assert payload["max_output_tokens"] == 300
    assert [message_text(item) for item in items_of_type(payload, "message")] == ["Hi"]


def test_upstream_request_carries_the_gateway_key_not_the_client_key(
    client: anthropic.Anthropic, upstream: FakeUpstream, gateway: Gateway
) -> None:
    upstream.enqueue(answer(text_response_events("Hello")))

    client.messages.create(model=MODEL, max_tokens=300, messages=USER_HI)

    headers = upstream.requests[0].headers
    assert headers["authorization"] == f"Bearer {gateway.upstream_key}"
    assert gateway.client_key not in json.dumps(headers)


def test_answer_echoes_the_client_model_name(client: anthropic.Anthropic, upstream: FakeUpstream) -> None:
    upstream.enqueue(answer(text_response_events("Hello", model="gpt-5-2025-08-07")))

    message = client.messages.create(model="claude-opus-4-5", max_tokens=50, messages=USER_HI)

    assert message.model == "claude-opus-4-5"


def test_model_names_the_map_does_not_match_pass_through(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    upstream.enqueue(answer(text_response_events("Hello")))

    client.messages.create(model="gpt-4.1-mini", max_tokens=50, messages=USER_HI)

    assert sent(upstream)["model"] == "gpt-4.1-mini"


def test_usage_reports_cached_input_tokens_apart(client: anthropic.Anthropic, upstream: FakeUpstream) -> None:
    upstream.enqueue(answer(text_response_events("Hello", usage=usage_object(100, 7, cached_tokens=60))))

    message = client.messages.create(model=MODEL, max_tokens=50, messages=USER_HI)

    assert message.usage.input_tokens == 40
    assert message.usage.cache_read_input_tokens == 60
    assert message.usage.cache_creation_input_tokens == 0
    assert message.usage.output_tokens == 7


@pytest.mark.parametrize(
    "system",
    [
        "You are terse. Answer in one word.",
        [{"type": "text", "text": "You are terse."}, {"type": "text", "text": "Answer in one word."}],
    ],
    ids=["string", "text-blocks"],
)
def test_system_prompt_becomes_instructions(
    client: anthropic.Anthropic, upstream: FakeUpstream, system: Any
) -> None:
    upstream.enqueue(answer(text_response_events("Yes")))

    client.messages.create(model=MODEL, max_tokens=50, system=system, messages=USER_HI)

    instructions = sent(upstream)["instructions"]
    assert instructions.index("You are terse.") < instructions.index("Answer in one word.")


def test_system_message_inside_messages_stays_in_place(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    """Claude Code puts a ``role: "system"`` message in the middle (and at the end) of the conversation."""
    upstream.enqueue(answer(text_response_events("Done")))

    client.messages.create(
        model=MODEL,
        max_tokens=50,
        messages=[
            {"role": "user", "content": "First question"},
            {
                "role": "system",
                "content": [{"type": "text", "text": "cwd is /tmp", "cache_control": {"type": "ephemeral"}}],
            },  # type: ignore[list-item,typeddict-item]
        ],
    )

    messages = items_of_type(sent(upstream), "message")
    assert [(item["role"], message_text(item)) for item in messages] in (
        [("user", "First question"), ("system", "cwd is /tmp")],
        [("user", "First question"), ("developer", "cwd is /tmp")],
    )


# Images and documents ------------------------------------------------------------------------------


def test_base64_image_becomes_a_data_url(client: anthropic.Anthropic, upstream: FakeUpstream) -> None:
    upstream.enqueue(answer(text_response_events("A pixel.")))

    client.messages.create(
        model=MODEL,
        max_tokens=50,
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG_1PX},
                    },
                    {"type": "text", "text": "What is this?"},
                ],
            }
        ],
    )

    [image] = content_parts(sent(upstream), "input_image")
    assert image["image_url"] == f"data:image/png;base64,{PNG_1PX}"


def test_image_url_is_passed_as_a_url(client: anthropic.Anthropic, upstream: FakeUpstream) -> None:
    upstream.enqueue(answer(text_response_events("A cat.")))

    client.messages.create(
        model=MODEL,
        max_tokens=50,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                    {"type": "text", "text": "What is this?"},
                ],
            }
        ],
    )

    [image] = content_parts(sent(upstream), "input_image")
    assert image["image_url"] == "https://example.com/cat.jpg"


def test_request_over_djangos_default_upload_limit_is_accepted(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    """A 3 MB image is an ordinary request (Anthropic allows 32 MB); Django's 2.5 MB default must not apply."""
    big = base64.b64encode(b"\x89PNG" + bytes(3 * 1024 * 1024)).decode()
    upstream.enqueue(answer(text_response_events("Big.")))

    message = client.messages.create(
        model=MODEL,
        max_tokens=50,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": big}}
                ],
            }
        ],
    )

    assert message.content[0].type == "text"
    assert content_parts(sent(upstream), "input_image")[0]["image_url"].endswith(big[-64:])


def test_pdf_document_becomes_an_input_file(client: anthropic.Anthropic, upstream: FakeUpstream) -> None:
    pdf = base64.b64encode(PDF_BYTES).decode()
    upstream.enqueue(answer(text_response_events("An empty page.")))

    client.messages.create(
        model=MODEL,
        max_tokens=50,
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "source": {"type": "base64", "media_type": "application/pdf", "data": pdf},
                    },
                    {"type": "text", "text": "Summarise."},
                ],
            }
        ],
    )

    [file_part] = content_parts(sent(upstream), "input_file")
    assert file_part["file_data"] in (pdf, f"data:application/pdf;base64,{pdf}")
    assert file_part.get("filename", "x.pdf").endswith(".pdf")


# Tools -----------------------------------------------------------------------------------------------


def test_tool_call_answer_matches_the_golden_message(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    upstream.enqueue(golden("tool_call"))

    message = client.messages.create(
        model=MODEL, max_tokens=256, tools=[WEATHER_TOOL], messages=[{"role": "user", "content": "Paris?"}]
    )

    assert message.model_dump() == fixture_message("tool_call")


def test_tools_become_function_tools_with_their_schema(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    upstream.enqueue(answer(text_response_events("OK")))

    client.messages.create(model=MODEL, max_tokens=50, tools=[WEATHER_TOOL], messages=USER_HI)

    [tool] = sent(upstream)["tools"]
    assert tool["type"] == "function"
    assert tool["name"] == "get_weather"
    assert tool["description"] == WEATHER_TOOL["description"]
    assert tool["parameters"] == WEATHER_TOOL["input_schema"]
    assert not tool.get("strict")


@pytest.mark.parametrize(
    ("tool_choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "tool", "name": "get_weather"}, {"type": "function", "name": "get_weather"}),
        ({"type": "none"}, "none"),
    ],
    ids=["auto", "any", "tool", "none"],
)
def test_tool_choice_maps_to_the_responses_form(
    client: anthropic.Anthropic, upstream: FakeUpstream, tool_choice: Any, expected: Any
) -> None:
    upstream.enqueue(answer(text_response_events("OK")))

    client.messages.create(
        model=MODEL, max_tokens=50, tools=[WEATHER_TOOL], tool_choice=tool_choice, messages=USER_HI
    )

    assert sent(upstream)["tool_choice"] == expected


def test_disable_parallel_tool_use_turns_parallel_calls_off(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    upstream.enqueue(answer(text_response_events("OK")))

    client.messages.create(
        model=MODEL,
        max_tokens=50,
        tools=[WEATHER_TOOL],
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
        messages=USER_HI,
    )

    assert sent(upstream)["parallel_tool_calls"] is False


def test_tool_use_then_tool_result_round_trips_the_call_id(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    upstream.enqueue(
        answer(function_call_events("get_weather", {"city": "Paris"}, call_id="call_RoundTrip123")),
        answer(text_response_events("It is 22°C in Paris.")),
    )
    question = {"role": "user", "content": "Weather in Paris?"}

    first = client.messages.create(model=MODEL, max_tokens=256, tools=[WEATHER_TOOL], messages=[question])
    [tool_use] = [block for block in first.content if block.type == "tool_use"]
    second = client.messages.create(
        model=MODEL,
        max_tokens=256,
        tools=[WEATHER_TOOL],
        messages=[
            question,
            {"role": "assistant", "content": first.content},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "22°C, sunny"}],
            },
        ],
    )

    assert first.stop_reason == "tool_use"
    assert (tool_use.name, tool_use.input) == ("get_weather", {"city": "Paris"})
    assert second.content[0].text == "It is 22°C in Paris."  # type: ignore[union-attr]
    [call] = items_of_type(sent(upstream, 1), "function_call")
    [output] = items_of_type(sent(upstream, 1), "function_call_output")
    assert call["call_id"] == output["call_id"] == "call_RoundTrip123"
    assert (call["name"], json.loads(call["arguments"])) == ("get_weather", {"city": "Paris"})
    assert "22°C, sunny" in json.dumps(output["output"], ensure_ascii=False)
    assert sent(upstream, 1)["input"].index(call) < sent(upstream, 1)["input"].index(output)


def test_tool_result_error_flag_keeps_its_meaning(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    upstream.enqueue(answer(text_response_events("Sorry.")))

    client.messages.create(
        model=MODEL,
        max_tokens=50,
        tools=[WEATHER_TOOL],
        messages=[
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_x1", "name": "get_weather", "input": {}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_x1",
                        "content": "city missing",
                        "is_error": True,
                    }
                ],
            },
        ],
    )

    [output] = items_of_type(sent(upstream), "function_call_output")
    text = json.dumps(output["output"])
    assert "city missing" in text
    assert "error" in text.lower()


def test_long_tool_names_are_shortened_upstream_and_restored_for_the_client(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    long_name = "mcp__a_rather_long_server_name_for_testing__and_an_even_longer_tool_name_that_goes_on"
    tool = {"name": long_name, "input_schema": {"type": "object", "properties": {}}}

    def call_the_short_name(request: Any) -> Any:
        short = request.json()["tools"][0]["name"]
        return answer(function_call_events(short, {}, call_id="call_long1"))(request)

    upstream.enqueue(call_the_short_name)

    message = client.messages.create(model=MODEL, max_tokens=50, tools=[tool], messages=USER_HI)

    assert len(sent(upstream)["tools"][0]["name"]) <= 64
    assert [block.name for block in message.content if block.type == "tool_use"] == [long_name]


def test_invalid_json_in_upstream_tool_arguments_reaches_the_client_as_raw_text(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    """No crash: the tool gets an input it will reject, so the model can try again."""
    upstream.enqueue(
        answer(function_call_events("get_weather", '{"city": "Par', call_id="call_bad", text="Let me see."))
    )

    message = client.messages.create(model=MODEL, max_tokens=50, tools=[WEATHER_TOOL], messages=USER_HI)

    assert message.stop_reason == "tool_use"
    assert message.content[0].text == "Let me see."  # type: ignore[union-attr]
    assert message.content[1].input == {INVALID_ARGUMENTS_KEY: '{"city": "Par'}  # type: ignore[union-attr]


# Thinking --------------------------------------------------------------------------------------------


def test_reasoning_answer_matches_the_golden_message(
    client: anthropic.Anthropic, upstream: FakeUpstream, gateway: Gateway
) -> None:
    upstream.enqueue(golden("reasoning_then_text"))

    message = client.messages.create(
        model=MODEL, max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 2048}, messages=USER_HI
    ).model_dump()

    expected = fixture_message("reasoning_then_text")
    signature = message["content"][0].pop("signature")
    golden_ref = _fixture_signature_ref(expected["content"][0].pop("signature"))
    assert message == expected
    assert open_signature(signature, _secret(gateway)) == golden_ref


def test_thinking_across_two_turns_sends_the_reasoning_item_back(
    client: anthropic.Anthropic, upstream: FakeUpstream, gateway: Gateway
) -> None:
    encrypted = "gAAAAABo-encrypted+reasoning/with=padding=="
    upstream.enqueue(
        answer(
            response_events(
                reasoning_item_events(
                    ["Need the weather tool."], encrypted_content=encrypted, item_id="rs_turn1"
                ),
                function_call_item_events(
                    "get_weather", {"city": "Oslo"}, call_id="call_think1", output_index=1
                ),
                usage=usage_object(40, 90, reasoning_tokens=64),
            )
        ),
        answer(text_response_events("Cold.")),
    )
    question = {"role": "user", "content": "Weather in Oslo?"}
    thinking = {"type": "enabled", "budget_tokens": 2048}

    first = client.messages.create(
        model=MODEL, max_tokens=4096, thinking=thinking, tools=[WEATHER_TOOL], messages=[question]
    )
    second = client.messages.create(
        model=MODEL,
        max_tokens=4096,
        thinking=thinking,
        tools=[WEATHER_TOOL],
        messages=[
            question,
            {"role": "assistant", "content": first.content},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": first.content[1].id, "content": "-5°C"}],
            },  # type: ignore[union-attr]
        ],
    )

    block = first.content[0]
    assert block.type == "thinking"
    assert block.thinking == "Need the weather tool."
    assert open_signature(block.signature, _secret(gateway)) == ("rs_turn1", encrypted)
    turn1 = sent(upstream, 0)
    assert turn1["reasoning"]["effort"]
    assert "reasoning.encrypted_content" in turn1["include"]
    turn2 = sent(upstream, 1)
    [reasoning] = items_of_type(turn2, "reasoning")
    assert reasoning["encrypted_content"] == encrypted
    assert reasoning.get("id") in (None, "rs_turn1")  # with store: false an id is optional (and risky)
    assert turn2["input"].index(reasoning) < turn2["input"].index(items_of_type(turn2, "function_call")[0])
    assert second.content[0].text == "Cold."  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "signature",
    ["EqQBCkgIARABGAIiQL4r0realClaudeSignatureFromAnotherBackend", "oairs1.eyJ2IjoxfQ.forgedmac"],
    ids=["foreign", "forged"],
)
def test_thinking_block_the_gateway_did_not_sign_is_dropped(
    client: anthropic.Anthropic, upstream: FakeUpstream, signature: str
) -> None:
    upstream.enqueue(answer(text_response_events("Fine.")))

    message = client.messages.create(
        model=MODEL,
        max_tokens=4096,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[
            {"role": "user", "content": "Hi"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Earlier thoughts.", "signature": signature},
                    {"type": "text", "text": "Hello."},
                ],
            },
            {"role": "user", "content": "How are you?"},
        ],
    )

    assert message.content[0].text == "Fine."  # type: ignore[union-attr]
    assert items_of_type(sent(upstream), "reasoning") == []
    assert signature not in upstream.requests[0].body.decode()


# Stop conditions -------------------------------------------------------------------------------------


def test_max_tokens_is_passed_verbatim_and_reported_as_the_stop_reason(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    upstream.enqueue(answer(incomplete_response_events("The answer is cut")))

    message = client.messages.create(model=MODEL, max_tokens=20, messages=USER_HI)

    assert sent(upstream)["max_output_tokens"] == 20
    assert message.stop_reason == "max_tokens"
    assert message.content[0].text == "The answer is cut"  # type: ignore[union-attr]


def test_stop_sequence_cuts_the_text_and_is_reported(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    upstream.enqueue(answer(text_response_events("one two END three four")))

    message = client.messages.create(
        model=MODEL, max_tokens=50, stop_sequences=["END", "never"], messages=USER_HI
    )

    assert message.content[0].text == "one two "  # type: ignore[union-attr]
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "END")
    assert "stop" not in sent(upstream)


def test_refusal_is_reported_as_the_stop_reason(client: anthropic.Anthropic, upstream: FakeUpstream) -> None:
    upstream.enqueue(answer(refusal_response_events("I can't help with that.")))

    message = client.messages.create(model=MODEL, max_tokens=50, messages=USER_HI)

    assert message.stop_reason == "refusal"
    assert message.content[0].text == "I can't help with that."  # type: ignore[union-attr]


# Models and token counting ---------------------------------------------------------------------------


def test_models_list_names_the_served_models(client: anthropic.Anthropic) -> None:
    page = client.models.list()

    ids = [model.id for model in page.data]
    assert {"claude-sonnet-4-6", "claude-haiku-4-5", "claude-opus-4-5"} <= set(ids)
    assert all(model.type == "model" and model.display_name for model in page.data)


def test_models_retrieve_returns_one_model(client: anthropic.Anthropic) -> None:
    model = client.models.retrieve("claude-sonnet-4-6")

    assert (model.id, model.type) == ("claude-sonnet-4-6", "model")


def test_count_tokens_uses_the_upstream_counter(client: anthropic.Anthropic, upstream: FakeUpstream) -> None:
    upstream.enqueue(
        json_response({"object": "response.input_tokens", "input_tokens": 1234}), path=INPUT_TOKENS_PATH
    )

    count = client.messages.count_tokens(
        model=MODEL,
        system="Be brief.",
        tools=[WEATHER_TOOL],
        messages=[{"role": "user", "content": "Count me"}],
    )

    assert count.input_tokens == 1234
    [request] = upstream.requests
    assert request.path == INPUT_TOKENS_PATH
    assert request.json()["model"] == UPSTREAM_MODEL
    assert "Count me" in request.body.decode()


def test_count_tokens_falls_back_to_a_local_estimate(
    own_cache_gateway: Gateway, client_for: Any, upstream: FakeUpstream
) -> None:
    """Runs on a gateway with a cache of its own: it then remembers the upstream has no counter, and must
    not teach the other gateways (which share Redis when the suite runs on it)."""
    upstream.set_default(error(404), path=INPUT_TOKENS_PATH)
    sdk = client_for(own_cache_gateway)

    short = sdk.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "Hi"}])
    long = sdk.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "word " * 2000}])

    assert 0 < short.input_tokens < long.input_tokens
    assert 1000 < long.input_tokens < 10_000


# ---------------------------------------------------------------------------------------------------


def _secret(gateway: Gateway) -> str:
    """The gateway signs with SECRET_KEY, generated into its data directory (no GATEWAY_SIGNING_KEY set)."""
    return (gateway.data_dir / "secret_key").read_text().strip()


def _fixture_signature_ref(signature: str) -> tuple[str, str]:
    """The fixtures' signatures are ``oairs1.<payload>`` without a MAC (the gateway adds its own)."""
    payload = signature.removeprefix("oairs1.")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data["id"], data["encrypted_content"]
