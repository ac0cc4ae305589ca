"""The upstream side: calls to the OpenAI Responses API, the SSE decoder and the upstream error tree.

Every call takes the upstream as a value (``UpstreamConfig``). Import from here
(``from streaming.transport import stream_openai_events``), not from the submodules.
"""

from __future__ import annotations

from .client import aclose_clients, get_client
from .config import SETTINGS_UPSTREAM_NAME, Timeouts, UpstreamConfig, settings_upstream
from .errors import (
    OpenAIUpstreamError,
    UnencodablePayload,
    UpstreamConnectError,
    UpstreamNotConfigured,
    UpstreamPoolFull,
    UpstreamStreamError,
    UpstreamTimeoutError,
)
from .headers import CORRELATION_HEADER, build_upstream_headers
from .openai import (
    OpenAIStream,
    count_openai_input_tokens,
    create_openai_response,
    list_openai_models,
    open_openai_stream,
    openai_event_batches,
    stream_openai_events,
)
from .sse_decoder import SSEDecoder, SSEEvent

__all__ = [
    "CORRELATION_HEADER",
    "SETTINGS_UPSTREAM_NAME",
    "OpenAIStream",
    "OpenAIUpstreamError",
    "SSEDecoder",
    "SSEEvent",
    "Timeouts",
    "UnencodablePayload",
    "UpstreamConfig",
    "UpstreamConnectError",
    "UpstreamNotConfigured",
    "UpstreamPoolFull",
    "UpstreamStreamError",
    "UpstreamTimeoutError",
    "aclose_clients",
    "build_upstream_headers",
    "count_openai_input_tokens",
    "create_openai_response",
    "get_client",
    "list_openai_models",
    "open_openai_stream",
    "openai_event_batches",
    "settings_upstream",
    "stream_openai_events",
]
