"""Driving the API views in-process: Django's AsyncClient with a client key, the upstream mocked by respx."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.test import AsyncClient, override_settings

from streaming.control.registry import registry

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BASE = "http://upstream.test/v1"
UPSTREAM_KEY = "sk-unit-test-upstream-key"
BODY = {"model": "claude-sonnet-4-6", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture
def _gateway_settings() -> Any:
    with override_settings(
        OPENAI_BASE_URL=BASE, OPENAI_API_KEY=UPSTREAM_KEY, GATEWAY_MODEL_MAP="claude-*=gpt-5"
    ):
        registry.reset()
        yield


async def create_client_key(name: str = "unit", *options: str) -> str:
    """``manage.py createclientkey NAME [options]``; the key it printed."""
    out = StringIO()
    await sync_to_async(call_command)("createclientkey", name, *options, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def keyed(key: str) -> AsyncClient:
    return KeyedClient({"x-api-key": key, "anthropic-version": "2023-06-01"})


@pytest.fixture
async def client_key() -> str:
    return await create_client_key()


class KeyedClient(AsyncClient):
    """An AsyncClient that sends the given headers on every request.

    (Django 5.2's ``AsyncClient(headers=...)`` turns default headers into WSGI names that ASGI requests drop.)
    """

    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__()
        self.always = headers

    def generic(self, *args: Any, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        return super().generic(*args, headers={**self.always, **(headers or {})}, **kwargs)


@pytest.fixture
def api(client_key: str) -> AsyncClient:
    return keyed(client_key)


async def post(api: AsyncClient, body: Any, path: str = "/v1/messages", **extra: Any) -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return await api.post(
        path, data=data, content_type=extra.pop("content_type", "application/json"), **extra
    )


def assert_envelope(response: Any, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["content-type"] == "application/json"
    body: dict[str, Any] = json.loads(response.content)
    assert body["type"] == "error"
    assert body["error"]["type"] == error_type
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["request_id"] == response["request-id"]
    assert UPSTREAM_KEY not in response.content.decode()
    return body


def fixture_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())
