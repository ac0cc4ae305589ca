"""Freed heap pages go back to the operating system where the C library can return them."""

from __future__ import annotations

import pytest

from streaming.api import memory


def test_glibc_malloc_trim_is_found_on_this_machine() -> None:
    assert memory._load_trim() is not None


def test_release_now_trims_the_whole_heap(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(memory, "_trim", lambda pad: calls.append(pad) or 1)

    memory.release_now()

    assert calls == [0]


def test_without_malloc_trim_release_now_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_trim", None)

    memory.release_now()
