"""docs/openapi.yaml is a valid OpenAPI 3.1 document that describes this gateway: its URLs, its errors, what
real clients send and what the gateway answers (the live fuzzing is tests/e2e/test_e2e_openapi_contract.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from openapi_spec_validator import validate

from streaming import errors, urls

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT: dict[str, Any] = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
FIXTURES = ROOT / "tests" / "fixtures"
CLAUDE_CODE_REQUEST = FIXTURES / "clients" / "claude_code_websearch.json"
MESSAGE_CASES = sorted(FIXTURES.glob("*.message.json"))
STREAM_CASES = sorted(FIXTURES.glob("*.anthropic.sse"))
# Prometheus's scrape page: its own token and text format, for the operator's monitoring, not API clients.
OPERATOR_ONLY = {"/metrics"}


def schema_errors(name: str, instance: object) -> list[str]:
    """What is wrong with ``instance`` against ``components.schemas[name]`` (JSON Schema 2020-12)."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": DOCUMENT["components"]}
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


def sse_events(text: str) -> list[tuple[str, Any]]:
    frames = [frame for frame in text.split("\n\n") if frame.strip()]
    lines = [dict(line.split(": ", 1) for line in frame.splitlines()) for frame in frames]
    return [(fields["event"], json.loads(fields["data"])) for fields in lines]


def test_the_document_is_valid_openapi_3_1() -> None:
    assert DOCUMENT["openapi"].startswith("3.1.")
    validate(DOCUMENT)


def test_it_documents_every_url_the_app_serves_and_no_other() -> None:
    served = {"/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(p.pattern)) for p in urls.urlpatterns}

    assert set(DOCUMENT["paths"]) == served - OPERATOR_ONLY


def test_every_client_error_type_is_in_the_envelope_schema() -> None:
    documented = DOCUMENT["components"]["schemas"]["ErrorResponse"]["properties"]["error"]["properties"][
        "type"
    ]

    assert {cls.error_type for cls in _error_classes()} == set(documented["enum"])


def test_every_status_the_message_endpoints_can_answer_is_documented() -> None:
    statuses = {str(cls.status) for cls in _error_classes()}
    for path in ("/v1/messages", "/v1/messages/stream", "/v1/messages/count_tokens"):
        assert statuses <= set(DOCUMENT["paths"][path]["post"]["responses"]), path


def test_a_request_claude_code_sent_matches_the_request_schema() -> None:
    body = json.loads(CLAUDE_CODE_REQUEST.read_text())["body"]

    assert schema_errors("MessageCreateRequest", body) == []


@pytest.mark.parametrize("path", MESSAGE_CASES, ids=lambda p: p.name)
def test_golden_messages_match_the_message_schema(path: Path) -> None:
    assert schema_errors("Message", json.loads(path.read_text())) == []


@pytest.mark.parametrize("path", STREAM_CASES, ids=lambda p: p.name)
def test_golden_stream_events_match_the_event_schema(path: Path) -> None:
    """Golden error frames lack the request id the gateway adds; the fuzzer checks live ones in full."""
    events = [(name, data) for name, data in sse_events(path.read_text()) if name != "error"]
    problems = [
        (name, problem)
        for name, data in events
        for problem in schema_errors("EventStream", {"event": name, "data": json.dumps(data)})
        + schema_errors("StreamEventData", data)
    ]

    assert problems == []


def asking(*blocks: dict[str, Any], max_tokens: int = 1) -> dict[str, Any]:
    """A message request whose one user message holds ``blocks``."""
    return {"model": "m", "max_tokens": max_tokens, "messages": [{"role": "user", "content": list(blocks)}]}


def image(source: dict[str, Any]) -> dict[str, Any]:
    return {"type": "image", "source": source}


@pytest.mark.parametrize(
    ("name", "instance"),
    [
        ("MessageCreateRequest", asking({"type": "text", "text": "hi"}, max_tokens=2**31)),
        ("MessageCreateRequest", asking(image({"type": "url", "url": "file:///etc/passwd"}))),
        (
            "MessageCreateRequest",
            asking(image({"type": "base64", "media_type": "image/png", "data": "a-b_"})),
        ),
        ("ErrorResponse", {"type": "error", "error": {"type": "api_error", "message": "x"}}),
    ],
    ids=["max-tokens-ceiling", "file-url", "url-safe-base64", "envelope-without-request-id"],
)
def test_the_schemas_refuse_what_the_gateway_refuses(name: str, instance: object) -> None:
    assert schema_errors(name, instance) != []


def _error_classes() -> list[type[errors.GatewayError]]:
    found: list[type[errors.GatewayError]] = [errors.GatewayError]
    for cls in found:
        found.extend(cls.__subclasses__())
    return found
