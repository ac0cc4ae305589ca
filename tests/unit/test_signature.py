"""Thinking signatures: sealed by the gateway, opened only by it, optionally bound to one upstream model."""

from __future__ import annotations

import base64

import pytest

from streaming.translate.signature import PREFIX, ReasoningRef, mint_signature, open_signature

KEY = "k"


def test_a_signature_opens_to_the_reasoning_item_it_sealed() -> None:
    signature = mint_signature("rs_1", "enc", KEY)
    assert signature.startswith(PREFIX)
    assert open_signature(signature, KEY) == ReasoningRef("rs_1", "enc")


def test_minting_is_deterministic_so_the_upstream_prompt_cache_stays_byte_stable() -> None:
    assert mint_signature("rs_1", "enc", KEY, model="gpt-5") == mint_signature(
        "rs_1", "enc", KEY, model="gpt-5"
    )


@pytest.mark.parametrize(
    "signature",
    [
        mint_signature("rs_1", "enc", "another-key"),
        mint_signature("rs_1", "enc", KEY)[:-1] + "A",
        mint_signature("rs_1", "enc", KEY).replace(".", "x", 1),
        "EqQBCkYIBxgCKkB-a-real-claude-signature",
        "",
        None,
        42,
    ],
)
def test_signatures_the_gateway_did_not_mint_do_not_open(signature: object) -> None:
    assert open_signature(signature, KEY) is None


def test_a_model_bound_signature_opens_only_for_that_model() -> None:
    signature = mint_signature("rs_1", "enc", KEY, model="gpt-5")
    assert open_signature(signature, KEY, model="gpt-5") == ("rs_1", "enc")
    assert open_signature(signature, KEY, model="gpt-5-mini") is None
    assert open_signature(signature, KEY) == ("rs_1", "enc")


def test_an_unbound_signature_opens_for_any_model() -> None:
    assert open_signature(mint_signature("rs_1", "enc", KEY), KEY, model="gpt-5") == ("rs_1", "enc")


@pytest.mark.parametrize(
    "signature",
    ["oairs1.abc.é", "oairs1.é.abc", "oairs1.abc.\udc80", mint_signature("rs_1", "enc", KEY) + "é"],
)
def test_non_ascii_signatures_do_not_open_and_do_not_raise(signature: str) -> None:
    assert open_signature(signature, KEY) is None


def test_encrypted_content_with_a_lone_surrogate_still_mints_a_signature_that_opens() -> None:
    signature = mint_signature("rs_1", "enc\ud800junk", KEY, model="gpt-5")

    assert open_signature(signature, KEY, model="gpt-5") == ("rs_1", "enc\ud800junk")


def test_ordinary_non_ascii_content_is_sealed_as_utf8_as_before() -> None:
    # Byte stability for signatures already in clients' histories: only unencodable input is escaped.
    payload = mint_signature("rs_1", "é", KEY).split(".")[1]

    assert base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)) == (
        '{"v":1,"id":"rs_1","encrypted_content":"é"}'.encode()
    )
