"""``streaming.loop_local.LoopLocal``: one async resource per event loop, closed when that loop ends."""

from __future__ import annotations

import asyncio
import gc

from streaming.loop_local import LoopLocal


class Resource:
    def __init__(self) -> None:
        self.closed = False

    async def aclose(self) -> None:
        await asyncio.sleep(0)  # a real close awaits its connections
        self.closed = True


def test_each_loop_gets_its_own_resource_and_closes_it_when_it_ends() -> None:
    local = LoopLocal(Resource, Resource.aclose)

    async def twice() -> tuple[Resource, Resource]:
        return local.get(), local.get()

    first, again = asyncio.run(twice())
    second, _ = asyncio.run(twice())

    assert first is again
    assert second is not first
    assert first.closed and second.closed


def test_a_resource_is_still_closed_when_its_loop_local_was_dropped_before_the_loop_ended() -> None:
    """As when the counters are made again for new CACHES: the old clients' connections must not be left
    to the garbage collector (an "unclosed StreamWriter" warning in a later test)."""

    async def use_and_drop() -> Resource:
        local = LoopLocal(Resource, Resource.aclose)
        made = local.get()
        del local
        gc.collect()
        return made

    assert asyncio.run(use_and_drop()).closed


def test_aclose_closes_the_running_loops_resource_now() -> None:
    local = LoopLocal(Resource, Resource.aclose)

    async def close_early() -> tuple[Resource, bool, Resource]:
        made = local.get()
        await local.aclose()
        return made, made.closed, local.get()

    made, closed_at_once, next_one = asyncio.run(close_early())

    assert closed_at_once
    assert next_one is not made
