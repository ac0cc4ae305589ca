"""Anthropic Messages request -> OpenAI Responses payload (protocol.md C.1), pure: dicts in, dicts out.

The payload is built only from fields this mapping knows; nothing unknown is ever copied upstream.

Field by field (documented choices):

- ``model`` -> ``target.upstream_model`` (``streaming.control.routing``); the context keeps the client's name.
- ``system`` (string or text blocks joined with a blank line) -> ``instructions``; ``messages`` -> ``input``
  (``translate.content``).
- ``max_tokens`` -> ``max_output_tokens`` verbatim, except: clamped to ``target.max_output_tokens`` (the
  upstream model's output cap) and raised to 16, the Responses API's minimum (it answers 400
  ``integer_below_min_value`` below that). Validation refuses anything above ``fields.MAX_INTEGER``
  (2**31 - 1), so an uncapped model is never sent a number its server cannot parse.
- ``temperature`` / ``top_p`` forwarded, but dropped for reasoning models (they reject non-default values).
  ``top_k`` is dropped: the Responses API has no such parameter (nor ``stop``/``seed``).
- ``stop_sequences`` stay in the gateway (``context.stop_sequences``): the upstream cannot stop on a string.
- ``metadata.user_id`` -> ``prompt_cache_key`` (keyed hash of the whole id, so one session's turns share a
  cache bucket) and ``safety_identifier`` (keyed hash of the account/device id when the user id is Claude
  Code's JSON, else of the whole id). Both are 64 hex characters (the upstream's limit) and never raw PII.
- ``tools`` / ``tool_choice`` (``translate.tools``): custom and Anthropic-defined client tools (bash, text
  editor, memory, computer) -> non-strict ``function`` tools; web search -> the ``web_search`` tool, its
  ``max_uses`` -> ``max_tool_calls``, and ``include`` asks for ``web_search_call.action.sources``; other
  server tools are a 400. ``tool_choice`` auto/any/tool/none -> ``"auto"``/``"required"``/
  ``{"type": "function"}`` (or ``allowed_tools`` requiring ``web_search``)/``"none"``;
  ``disable_parallel_tool_use: true`` -> ``parallel_tool_calls: false`` (absent: omitted).
- Thinking -> ``reasoning`` (reasoning-model routes only; other models reject it):
  ``enabled`` with budget b -> effort ``low`` (b < 4096), ``medium`` (b < 16384) or ``high``;
  ``adaptive`` / ``between_tools`` -> ``medium``; ``output_config.effort`` (low..max, same names upstream)
  wins over both and also applies without thinking. With thinking on: ``summary: "auto"`` (unless
  ``display: "omitted"``) and ``include: ["reasoning.encrypted_content"]`` (``store: false`` needs it to
  carry reasoning across turns inside thinking signatures; without thinking no blocks carry it, so it is
  not fetched). Thinking off and no effort -> ``target.default_reasoning_effort`` or no ``reasoning``.
- ``output_config.format`` (json_schema) -> ``text.format`` (non-strict: OpenAI's strict mode rejects
  schemas Anthropic accepts).
- ``store: false`` always. ``context_management``, ``service_tier``, ``container``, ``inference_geo``,
  ``mcp_servers``, ``speed``, top-level ``cache_control``: accepted and dropped.

``count_only`` (``/v1/messages/count_tokens``) needs no ``max_tokens`` and keeps only the fields the
upstream's ``POST /responses/input_tokens`` accepts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any, NamedTuple, cast

from streaming.errors import InvalidRequestError
from streaming.translate import ids
from streaming.translate.context import RequestContext, TargetModel
from streaming.translate.messages import MessageConverter
from streaming.translate.tools import (
    client_tool_names,
    is_web_search,
    max_tool_calls,
    tool_choice,
    upstream_tools,
)
from streaming.translate.types import ReasoningParam, ResponsesPayload
from streaming.translate.validate import CheckedRequest, Thinking, check_request

logger = logging.getLogger("streaming")

MIN_OUTPUT_TOKENS = 16
ENCRYPTED_REASONING = "reasoning.encrypted_content"
WEB_SEARCH_SOURCES = "web_search_call.action.sources"
THINKING_ON = frozenset({"enabled", "adaptive", "between_tools"})
# What ``POST /responses/input_tokens`` accepts of what this translation builds (openai-python
# ``InputTokenCountParams`` also has conversation, previous_response_id and truncation, never built here).
COUNT_FIELDS = (
    "model",
    "instructions",
    "input",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning",
    "text",
)


class TranslatedRequest(NamedTuple):
    payload: ResponsesPayload
    context: RequestContext


def translate_request(
    body: object, target: TargetModel, *, signing_key: str, count_only: bool = False
) -> TranslatedRequest:
    """Validate ``body`` (400 naming the field path on any problem) and map it to a Responses payload."""
    req = check_request(body, count_only=count_only)
    converter = MessageConverter(
        signing_key=signing_key,
        keep_reasoning=target.reasoning is not False,
        upstream_model=target.upstream_model,
    )
    try:
        items = converter.convert(req.messages)
    except RecursionError:
        # A body nested almost as deep as the JSON parser allows can still overflow the stack here.
        raise InvalidRequestError("Request body is nested too deeply.") from None
    payload: ResponsesPayload = {"model": target.upstream_model, "input": items}
    if instructions := _instructions(req.system):
        payload["instructions"] = instructions
    if req.tools:
        payload["tools"] = upstream_tools(req.tools)
        if req.tool_choice is not None:
            payload["tool_choice"] = tool_choice(req.tool_choice, req.tools)
            if req.tool_choice.get("disable_parallel_tool_use") is True:
                payload["parallel_tool_calls"] = False
        if (cap := max_tool_calls(req.tools)) is not None:
            payload["max_tool_calls"] = cap
    if req.max_tokens is not None:
        cap = target.max_output_tokens
        payload["max_output_tokens"] = max(MIN_OUTPUT_TOKENS, min(req.max_tokens, cap or req.max_tokens))
    if target.reasoning is not True:
        if req.temperature is not None:
            payload["temperature"] = req.temperature
        if req.top_p is not None:
            payload["top_p"] = req.top_p
    if isinstance(body, dict) and body.get("top_k") is not None:
        logger.debug("top_k dropped: the Responses API has no equivalent")
    thinking = req.thinking.type in THINKING_ON
    include: list[str] = []
    # A model with no profile (reasoning None) gets reasoning only when the client asked for it.
    asked = target.reasoning is True or thinking or req.effort is not None
    if (
        target.reasoning is not False
        and asked
        and (reasoning := reasoning_param(req.thinking, req.effort, target))
    ):
        payload["reasoning"] = reasoning
        if thinking:
            include.append(ENCRYPTED_REASONING)
    web_search = any(is_web_search(tool) for tool in req.tools)
    if web_search:
        include.append(WEB_SEARCH_SOURCES)
    if include:
        payload["include"] = include
    if req.output_format is not None:
        payload["text"] = {
            "format": {"type": "json_schema", "name": "output", "schema": req.output_format, "strict": False}
        }
    if req.user_id:
        payload["prompt_cache_key"] = _keyed_hash(signing_key, "prompt-cache", req.user_id)
        payload["safety_identifier"] = _keyed_hash(signing_key, "safety", _user_identity(req.user_id))
    payload["store"] = False
    for param in target.unsupported:
        payload = without_parameter(payload, param)
    if count_only:
        payload = _count_payload(payload)
    context = _context(req, target, converter, signing_key, thinking=thinking, web_search=web_search)
    return TranslatedRequest(payload, context)


def _instructions(system: str | list[dict[str, Any]] | None) -> str:
    if system is None or isinstance(system, str):
        return system or ""
    return "\n\n".join(block["text"] for block in system if block["text"])


def budget_effort(budget_tokens: int) -> str:
    """Anthropic thinking budget -> OpenAI effort bucket (an equivalence by convention, not by spec)."""
    if budget_tokens < 4096:
        return "low"
    return "medium" if budget_tokens < 16384 else "high"


# Effort levels from least to most; Anthropic's (low..max) and OpenAI's (none..xhigh) names share one scale.
EFFORT_SCALE = ("none", "minimal", "low", "medium", "high", "xhigh", "max")


def supported_effort(effort: str, supported: tuple[str, ...] | None) -> str:
    """``effort`` if the model accepts it, else the nearest accepted level below it (or its lowest).

    With no list for the model, only Anthropic's ``max`` (which OpenAI does not have) moves, to ``xhigh``.
    """
    if supported is None:
        return "xhigh" if effort == "max" else effort
    if effort in supported or effort not in EFFORT_SCALE:
        return effort
    rank = EFFORT_SCALE.index(effort)
    ranked = sorted((EFFORT_SCALE.index(level), level) for level in supported if level in EFFORT_SCALE)
    below = [level for position, level in ranked if position < rank]
    if below:
        return below[-1]
    return ranked[0][1] if ranked else effort


def reasoning_param(thinking: Thinking, effort: str | None, target: TargetModel) -> ReasoningParam | None:
    if thinking.type in THINKING_ON:
        if effort is None:
            budget = thinking.budget_tokens
            effort = budget_effort(budget) if budget is not None else "medium"
        chosen = supported_effort(effort, target.reasoning_efforts)
        # ``display: "omitted"`` shows no thinking text, so no summary is asked for: nothing generated for
        # nothing, and no dependency on OpenAI's organisation verification for reasoning summaries.
        return {"effort": chosen} if thinking.display == "omitted" else {"effort": chosen, "summary": "auto"}
    effort = effort or target.default_reasoning_effort
    return {"effort": supported_effort(effort, target.reasoning_efforts)} if effort else None


def without_parameter(payload: ResponsesPayload, param: str) -> ResponsesPayload:
    """``payload`` without ``param`` (``temperature``, ``top_p``, ``reasoning``, ``reasoning.effort``,
    ``reasoning.summary``), for upstream models that refuse it; a reasoning parameter left empty goes, and
    with it the request for encrypted reasoning (other ``include`` entries, web search sources, stay).
    Returns a new payload; ``payload`` is not changed."""
    copied = cast(ResponsesPayload, dict(payload))
    field, _, sub = param.partition(".")
    if field in ("temperature", "top_p"):
        copied.pop(field, None)  # type: ignore[misc]
        return copied
    if field != "reasoning" or "reasoning" not in copied:
        return copied
    reasoning = cast(ReasoningParam, {k: v for k, v in copied["reasoning"].items() if sub and k != sub})
    if reasoning:
        copied["reasoning"] = reasoning
    else:
        del copied["reasoning"]
        include = [entry for entry in copied.get("include", ()) if entry != ENCRYPTED_REASONING]
        if include:
            copied["include"] = include
        else:
            copied.pop("include", None)
    return copied


def _keyed_hash(secret: str, purpose: str, value: str) -> str:
    """64 hex characters: fits the upstream's limit, stable per value, not reversible without the key."""
    return hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def _user_identity(user_id: str) -> str:
    """The stable user behind Claude Code's JSON ``user_id`` (account, else device); the raw id otherwise."""
    try:
        parsed = json.loads(user_id)
    except ValueError:
        return user_id
    if isinstance(parsed, dict):
        for key in ("account_uuid", "device_id"):
            if isinstance(parsed.get(key), str) and parsed[key]:
                return str(parsed[key])
    return user_id


def _count_payload(payload: ResponsesPayload) -> ResponsesPayload:
    """Only what the counting endpoint accepts; no reasoning summary (it changes no input token, and
    organisations not verified for summaries are refused it)."""
    counted = cast(ResponsesPayload, {key: value for key, value in payload.items() if key in COUNT_FIELDS})
    if "reasoning" in counted:
        counted["reasoning"] = cast(
            ReasoningParam, {k: v for k, v in counted["reasoning"].items() if k != "summary"}
        )
    return counted


def _context(
    req: CheckedRequest,
    target: TargetModel,
    converter: MessageConverter,
    signing_key: str,
    *,
    thinking: bool,
    web_search: bool,
) -> RequestContext:
    names = client_tool_names(req.tools) + converter.tool_use_names
    return RequestContext(
        client_model=req.model,
        upstream_model=target.upstream_model,
        thinking=thinking,
        thinking_display=req.thinking.display,
        stop_sequences=req.stop_sequences,
        tool_names=ids.tool_name_map(names),
        signing_key=signing_key,
        web_search=web_search,
    )
