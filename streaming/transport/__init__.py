"""The upstream side: calls to the OpenAI Responses API, the SSE decoder and the upstream error tree.

Import from here (``from streaming.transport import stream_openai_events``), not from the submodules.
"""

from __future__ import annotations

from .client import aclose_clients, get_client, timeouts
from .errors import (
    KEPT_HEADERS,
    OpenAIUpstreamError,
    UnencodablePayload,
    UpstreamConnectError,
    UpstreamNotConfigured,
    UpstreamPoolFull,
    UpstreamStreamError,
    UpstreamTimeoutError,
    safe_error_payload,
    upstream_error_from_response,
)
from .headers import CORRELATION_HEADER, build_upstream_headers
from .openai import (
    INPUT_TOKENS_FIELDS,
    count_openai_input_tokens,
    create_openai_response,
    openai_event_batches,
    require_openai_api_key,
    stream_openai_events,
    transport_error,
)
from .sse import DONE, SSEDecoder, SSEEvent

__all__ = [
    "CORRELATION_HEADER",
    "DONE",
    "INPUT_TOKENS_FIELDS",
    "KEPT_HEADERS",
    "OpenAIUpstreamError",
    "SSEDecoder",
    "SSEEvent",
    "UnencodablePayload",
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
    "openai_event_batches",
    "require_openai_api_key",
    "safe_error_payload",
    "stream_openai_events",
    "timeouts",
    "transport_error",
    "upstream_error_from_response",
]
