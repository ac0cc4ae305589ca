"""TypedDicts for what crosses module boundaries: the Responses payload we build, the Message we answer.

Shapes follow the SDKs' generated types (openai-python ``types/responses/*_param.py``, anthropic-sdk-python
``types/message.py`` and friends); only the fields the gateway writes are listed. Aliases only, no logic.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, Required, TypeAlias, TypedDict

# ---------------------------------------------------------------------------------------------------------------
# OpenAI Responses API: request payload (POST /responses) and its input items.


class InputTextPart(TypedDict):
    type: Literal["input_text"]
    text: str


class InputImagePart(TypedDict):
    type: Literal["input_image"]
    image_url: str  # https URL or ``data:<mime>;base64,<data>``
    detail: Literal["auto", "low", "high"]


class InputFilePart(TypedDict, total=False):
    type: Required[Literal["input_file"]]
    file_data: str  # ``data:application/pdf;base64,<data>``
    file_url: str
    filename: str


InputPart: TypeAlias = InputTextPart | InputImagePart | InputFilePart


class OutputTextPart(TypedDict):
    type: Literal["output_text"]
    text: str
    annotations: list[Any]


class MessageItem(TypedDict):
    type: Literal["message"]
    role: Literal["user", "assistant", "developer"]
    content: list[InputPart] | list[OutputTextPart]


class FunctionCallItem(TypedDict):
    type: Literal["function_call"]
    call_id: str
    name: str
    arguments: str  # JSON text


class FunctionCallOutputItem(TypedDict):
    type: Literal["function_call_output"]
    call_id: str
    output: str | list[InputPart]


class SummaryTextPart(TypedDict):
    type: Literal["summary_text"]
    text: str


class ReasoningItem(TypedDict):
    # No ``id``: with ``store: false`` an id makes the upstream look the item up server-side (see request.py).
    type: Literal["reasoning"]
    summary: list[SummaryTextPart]
    encrypted_content: str


InputItem: TypeAlias = MessageItem | FunctionCallItem | FunctionCallOutputItem | ReasoningItem


class FunctionTool(TypedDict):
    type: Literal["function"]
    name: str
    description: NotRequired[str]
    parameters: dict[str, Any]
    strict: bool


class WebSearchFilters(TypedDict):
    allowed_domains: list[str]


class UserLocation(TypedDict, total=False):
    type: Required[Literal["approximate"]]
    city: str
    region: str
    country: str
    timezone: str


class WebSearchTool(TypedDict, total=False):
    """openai-python ``types/responses/web_search_tool_param.py``."""

    type: Required[Literal["web_search"]]
    filters: WebSearchFilters
    user_location: UserLocation


Tool: TypeAlias = FunctionTool | WebSearchTool


class FunctionToolChoice(TypedDict):
    type: Literal["function"]
    name: str


class AllowedToolsChoice(TypedDict):
    """openai-python ``types/responses/tool_choice_allowed_param.py`` (how to require a built-in tool)."""

    type: Literal["allowed_tools"]
    mode: Literal["auto", "required"]
    tools: list[dict[str, str]]


ToolChoice: TypeAlias = Literal["auto", "required", "none"] | FunctionToolChoice | AllowedToolsChoice


class ReasoningParam(TypedDict, total=False):
    effort: str
    summary: Literal["auto", "concise", "detailed"]


class JSONSchemaFormat(TypedDict):
    type: Literal["json_schema"]
    name: str
    schema: dict[str, Any]
    strict: bool


class TextConfig(TypedDict):
    format: JSONSchemaFormat


class ResponsesPayload(TypedDict, total=False):
    """The body of ``POST /responses``; the transport adds ``stream``."""

    model: Required[str]
    instructions: str
    input: Required[list[InputItem]]
    tools: list[Tool]
    tool_choice: ToolChoice
    parallel_tool_calls: bool
    max_tool_calls: int
    max_output_tokens: int
    temperature: float
    top_p: float
    reasoning: ReasoningParam
    include: list[str]
    text: TextConfig
    prompt_cache_key: str
    safety_identifier: str
    store: bool
    stream: bool


# ---------------------------------------------------------------------------------------------------------------
# Anthropic Messages API: the Message object the gateway answers with (protocol.md A.4).


class WebSearchCitation(TypedDict):
    """anthropic-sdk-python ``types/citations_web_search_result_location.py``."""

    type: Literal["web_search_result_location"]
    url: str
    title: str | None
    encrypted_index: str
    cited_text: str


class TextBlock(TypedDict):
    type: Literal["text"]
    text: str
    citations: NotRequired[list[WebSearchCitation]]


class ThinkingBlock(TypedDict):
    type: Literal["thinking"]
    thinking: str
    signature: str


class RedactedThinkingBlock(TypedDict):
    type: Literal["redacted_thinking"]
    data: str


class ToolUseBlock(TypedDict):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]


class ServerToolUseBlock(TypedDict):
    """anthropic-sdk-python ``types/server_tool_use_block.py`` (the gateway only runs ``web_search``)."""

    type: Literal["server_tool_use"]
    id: str
    name: Literal["web_search"]
    input: dict[str, Any]


class WebSearchResult(TypedDict):
    """anthropic-sdk-python ``types/web_search_result_block.py``."""

    type: Literal["web_search_result"]
    url: str
    title: str
    encrypted_content: str
    page_age: str | None


class WebSearchError(TypedDict):
    """anthropic-sdk-python ``types/web_search_tool_result_error_object.py``."""

    type: Literal["web_search_tool_result_error"]
    error_code: Literal["unavailable", "max_uses_exceeded", "too_many_requests", "query_too_long"]


class WebSearchToolResultBlock(TypedDict):
    """anthropic-sdk-python ``types/web_search_tool_result_block.py``."""

    type: Literal["web_search_tool_result"]
    tool_use_id: str
    content: list[WebSearchResult] | WebSearchError


ContentBlock: TypeAlias = (
    TextBlock
    | ThinkingBlock
    | RedactedThinkingBlock
    | ToolUseBlock
    | ServerToolUseBlock
    | WebSearchToolResultBlock
)

StopReason: TypeAlias = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal"]


class ServerToolUsage(TypedDict):
    """anthropic-sdk-python ``types/server_tool_usage.py`` (both counts required there)."""

    web_search_requests: int
    web_fetch_requests: int


class Usage(TypedDict):
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    server_tool_use: NotRequired[ServerToolUsage]


class Message(TypedDict):
    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    model: str
    content: list[ContentBlock]
    stop_reason: StopReason | None
    stop_sequence: str | None
    usage: Usage
