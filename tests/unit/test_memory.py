"""Freed heap pages go back to the operating system where the C library can return them."""

from __future__ import annotations

import asyncio

import pytest

from streaming.api import memory

pytestmark = pytest.mark.anyio


@pytest.fixture
def trims(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    monkeypatch.setattr(memory, "_trim", lambda pad: calls.append(pad) or 1)
    monkeypatch.setattr(memory, "DELAY_SECONDS", 0.01)
    monkeypatch.setattr(memory, "MIN_INTERVAL_SECONDS", 0.1)
    monkeypatch.setattr(memory, "_scheduled", None)
    monkeypatch.setattr(memory, "_last_trim", float("-inf"))
    return calls


def test_glibc_malloc_trim_is_found_on_this_machine() -> None:
    assert memory._load_trim() is not None


def test_release_now_trims_the_whole_heap(trims: list[int]) -> None:
    memory.release_now()

    assert trims == [0]


def test_without_malloc_trim_nothing_is_trimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_trim", None)

    memory.release_now()  # does nothing, and raises nothing


async def test_a_worker_still_idle_after_the_delay_trims_once(trims: list[int]) -> None:
    memory.release_soon(lambda: True)
    memory.release_soon(lambda: True)  # one trim pending at a time
    await asyncio.sleep(0.05)

    assert trims == [0]


async def test_a_worker_busy_again_by_then_does_not_trim(trims: list[int]) -> None:
    memory.release_soon(lambda: False)
    await asyncio.sleep(0.05)

    assert trims == []


async def test_trims_are_spaced_out_on_a_busy_worker(trims: list[int]) -> None:
    memory.release_soon(lambda: True)
    await asyncio.sleep(0.03)
    memory.release_soon(lambda: True)  # idle again at once: waits out the minimum interval
    await asyncio.sleep(0.03)
    trims_before_the_interval = len(trims)
    await asyncio.sleep(0.1)

    assert (trims_before_the_interval, len(trims)) == (1, 2)
