"""What translation needs to know beyond the body: the target model (from routing) and, for the
response side, facts of the request it answers (built by ``translate.request``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class TargetModel:
    """The upstream model a client model name is routed to, and what that model accepts."""

    client_model: str
    upstream_model: str
    # Reasoning models reject non-default temperature/top_p and accept ``reasoning``; None: unknown (no
    # profile), so ``reasoning`` is sent only when the client asks for it, and temperature is forwarded.
    reasoning: bool | None = False
    # The upstream model's output cap; max_tokens above it is clamped (documented), never silently otherwise.
    max_output_tokens: int | None = None
    # Reasoning effort sent when the client did not ask for thinking (None: no ``reasoning`` parameter).
    default_reasoning_effort: str | None = None
    # The efforts the upstream model accepts (None: unknown, pass the client's through); others are
    # moved to the nearest accepted one so ``/effort max`` in Claude Code does not become a 400.
    reasoning_efforts: tuple[str, ...] | None = None
    # Parameters the upstream model is known to refuse (learned from its 400s): left out of the payload.
    unsupported: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Request facts the response translators use; plain data, safe to share across tasks."""

    client_model: str
    upstream_model: str
    # Thinking blocks are returned only when the client asked for thinking.
    thinking: bool = False
    # ``omitted``: thinking blocks carry a signature and empty text (Anthropic's ``display: "omitted"``).
    thinking_display: Literal["summarized", "omitted"] = "summarized"
    stop_sequences: tuple[str, ...] = ()
    # Upstream tool name -> client tool name, for names the gateway had to shorten.
    tool_names: dict[str, str] = field(default_factory=dict)
    # Secret for minting thinking signatures (translate.signature).
    signing_key: str = ""
    # The request declared Anthropic's web search: upstream searches become server tool blocks, url
    # citations become text citations, and usage counts the searches (translate.web_search).
    web_search: bool = False
