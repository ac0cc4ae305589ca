"""Client keys: created once by a management command, stored hashed, accepted from either header."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from streaming.conf import gateway_settings
from streaming.control.auth import authenticate, extract_client_key
from streaming.control.client_keys import hash_client_key
from streaming.control.registry import registry
from streaming.errors import AuthenticationError, RateLimitError
from streaming.models import ClientKey


def create_key(name: str = "alice") -> str:
    out = StringIO()
    call_command("createclientkey", name, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    registry.reset()


@pytest.mark.django_db
def test_createclientkey_prints_the_key_alone_on_the_last_line_and_stores_only_its_hash() -> None:
    key = create_key()
    row = ClientKey.objects.get(name="alice")
    assert key.startswith("gwk_") and len(key) > 40
    assert row.key_hash == hash_client_key(key, gateway_settings.SIGNING_KEY)
    assert key not in {row.key_hash, row.prefix}
    assert key.startswith(row.prefix)


@pytest.mark.django_db
def test_each_key_is_different() -> None:
    assert create_key("a") != create_key("b")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-api-key": "k1"}, "k1"),
        ({"authorization": "Bearer k2"}, "k2"),
        ({"authorization": "bearer  k3 "}, "k3"),
        ({"x-api-key": "k1", "authorization": "Bearer k2"}, "k1"),
    ],
)
def test_key_is_read_from_x_api_key_or_bearer(headers: dict[str, str], expected: str) -> None:
    assert extract_client_key(headers) == expected


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Missing API key"),
        ({"authorization": "Basic abc"}, "Bearer scheme"),
        ({"authorization": "Bearer "}, "Missing API key"),
        ({"x-api-key": "x" * 1000}, "invalid x-api-key"),
    ],
)
def test_missing_or_malformed_credentials_are_authentication_errors(
    headers: dict[str, str], message: str
) -> None:
    with pytest.raises(AuthenticationError, match=message):
        extract_client_key(headers)


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_a_created_key_authenticates_and_a_wrong_one_does_not() -> None:
    from asgiref.sync import sync_to_async

    key = await sync_to_async(create_key)()
    assert (await authenticate({"x-api-key": key})).name == "alice"
    with pytest.raises(AuthenticationError):
        await authenticate({"x-api-key": key + "x"})


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_an_inactive_key_is_rejected() -> None:
    from asgiref.sync import sync_to_async

    key = await sync_to_async(create_key)()
    await ClientKey.objects.filter(name="alice").aupdate(is_active=False)
    with pytest.raises(AuthenticationError):
        await authenticate({"x-api-key": key})


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_an_expired_key_is_refused_on_its_next_request() -> None:
    from asgiref.sync import sync_to_async

    key = await sync_to_async(create_key)()
    assert await authenticate({"x-api-key": key})
    row = await ClientKey.objects.aget(name="alice")
    row.expires_at = timezone.now() - timedelta(seconds=1)
    await row.asave()

    with pytest.raises(AuthenticationError):
        await authenticate({"x-api-key": key})


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_a_key_deactivated_in_the_admin_stops_working_at_once_in_this_process() -> None:
    from asgiref.sync import sync_to_async

    key = await sync_to_async(create_key)()
    assert await authenticate({"x-api-key": key})
    row = await ClientKey.objects.aget(name="alice")
    row.is_active = False
    await row.asave()  # post_save bumps the configuration version

    with pytest.raises(AuthenticationError):
        await authenticate({"x-api-key": key})


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_many_requests_with_a_cold_key_make_one_lookup(database_loads: Counter[str]) -> None:
    from asgiref.sync import sync_to_async

    key = await sync_to_async(create_key)()
    await registry.snapshot()  # the configuration is loaded; only the key is cold

    identities = await asyncio.gather(*(authenticate({"x-api-key": key}) for _ in range(200)))

    assert {identity.name for identity in identities} == {"alice"}
    assert database_loads["keys"] == 1


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_a_wrong_key_is_looked_up_once_then_remembered_as_unknown(database_loads: Counter[str]) -> None:
    await registry.snapshot()

    for _ in range(50):
        with pytest.raises(AuthenticationError):
            await authenticate({"x-api-key": "gwk_not-a-real-key"})

    assert database_loads["keys"] == 1


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_an_address_failing_too_often_gets_429_without_any_lookup(
    settings: Any, database_loads: Counter[str]
) -> None:
    settings.GATEWAY_AUTH_FAILURES_PER_MINUTE = 3
    await registry.snapshot()
    errors: list[type[Exception]] = []

    for n in range(10):
        try:
            await authenticate({"x-api-key": f"gwk_wrong-{n}"}, "203.0.113.9")
        except (AuthenticationError, RateLimitError) as exc:
            errors.append(type(exc))
    with pytest.raises(AuthenticationError):  # another address is not affected
        await authenticate({"x-api-key": "gwk_wrong-elsewhere"}, "203.0.113.10")

    assert errors == [AuthenticationError] * 3 + [RateLimitError] * 7
    assert database_loads["keys"] == 4
