"""Claude Code (``@anthropic-ai/claude-code``, its native binary) completes tasks through the gateway.

Claude Code runs non-interactively (``-p``) with its base URL at a recording proxy in front of the
gateway, non-essential traffic off and an empty temporary HOME. In the first run the fake upstream
answers turn 1 with a call to Claude Code's own ``Read`` tool (name and argument taken from the tools
Claude Code sent) and turn 2 with the final text. In the second, its model calls ``WebSearch``: Claude
Code then asks the gateway for Anthropic's server-side web search (issue 11), and the fake upstream plays
OpenAI's web search for it. The proxy's records are what docs/clients.md describes.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import (
    Gateway,
    ProxiedRequest,
    RecordingProxy,
    answer,
    items_of_type,
    node_clients,
)
from tests.fakes.upstream import (
    Behaviour,
    FakeUpstream,
    RecordedRequest,
    function_call_events,
    text_response_events,
    url_citation,
    web_search_response_events,
)

pytestmark = [pytest.mark.e2e, pytest.mark.node]

SECRET = "7-4-1-9 ORANGE"
FINAL_TEXT = f"The launch code in notes.txt is {SECRET}."
PROMPT = "What is the launch code in notes.txt? Read the file, then answer in one sentence."
RUN_TIMEOUT = 180


@dataclass
class ClaudeRun:
    returncode: int
    stdout: str
    stderr: str
    output: dict[str, Any]
    proxied: list[ProxiedRequest]
    upstream: list[RecordedRequest]
    notes: Path


def claude_binary(node_dir: Path) -> Path:
    """The native binary from the per-platform optional dependency (``bin/claude.exe`` is a copy of it
    once the package's postinstall ran; the platform package has it either way)."""
    for candidate in sorted((node_dir / "node_modules" / "@anthropic-ai").glob("claude-code-*/claude")):
        if os.access(candidate, os.X_OK):
            return candidate
    return node_dir / "node_modules" / ".bin" / "claude"


def claude_env(home: Path, base_url: str, api_key: str) -> dict[str, str]:
    """Nothing from the runner's environment but PATH and locale: no stray ANTHROPIC_* or proxies."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "TMPDIR": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": api_key,
        # Turn off everything that would talk to anything but ANTHROPIC_BASE_URL.
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        # Fail fast instead of retrying with backoff if the gateway errs.
        "CLAUDE_CODE_MAX_RETRIES": "0",
        "API_TIMEOUT_MS": "60000",
    }


def read_tool_call(request: RecordedRequest, notes: Path) -> Any:
    """Turn 1: call Claude Code's ``Read`` tool, as it declared it, on the notes file."""
    [read] = [tool for tool in request.json()["tools"] if tool["name"] == "Read"]
    assert "file_path" in read["parameters"]["properties"], read
    return answer(function_call_events("Read", {"file_path": str(notes)}, call_id="call_ccRead1"))(request)


def run_claude(
    gateway: Gateway,
    fake_upstream: FakeUpstream,
    tmp_path_factory: pytest.TempPathFactory,
    notes: Path,
    prompt: str,
    *flags: str,
    env: dict[str, str] | None = None,
) -> ClaudeRun:
    """Run ``claude -p prompt`` once in the directory of ``notes``, the fake upstream already scripted."""
    node_dir = node_clients()
    home = tmp_path_factory.mktemp("claude-home")
    workdir = notes.parent
    fake_upstream.set_default(answer(text_response_events("(unexpected extra request)")))
    command = [
        str(claude_binary(node_dir)),
        "-p",
        prompt,
        "--output-format",
        "json",
        "--max-turns",
        "4",
        *flags,
    ]
    with RecordingProxy(gateway.base_url) as proxy:
        result = subprocess.run(
            command,
            cwd=workdir,
            env={**claude_env(home, proxy.url, gateway.client_key), **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        proxied = list(proxy.requests)
    upstream = list(fake_upstream.requests)
    fake_upstream.reset()
    try:
        output = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        output = {}
    run = ClaudeRun(result.returncode, result.stdout, result.stderr, output, proxied, upstream, notes)
    assert result.returncode == 0 and output, _explain(run)
    return run


def notes_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh working directory for Claude Code, holding notes.txt with the secret."""
    notes = tmp_path_factory.mktemp("claude-cwd") / "notes.txt"
    notes.write_text(f"The launch code is {SECRET}.\nDo not share it.\n")
    return notes


@pytest.fixture(scope="module")
def claude_run(
    gateway: Gateway, fake_upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> ClaudeRun:
    notes = notes_file(tmp_path_factory)
    fake_upstream.reset()
    fake_upstream.enqueue(
        lambda request: read_tool_call(request, notes),
        answer(text_response_events(FINAL_TEXT)),
    )
    return run_claude(gateway, fake_upstream, tmp_path_factory, notes, PROMPT)


def _explain(run: ClaudeRun) -> str:
    lines = [f"exit {run.returncode}", f"stdout: {run.stdout[-4000:]}", f"stderr: {run.stderr[-4000:]}"]
    lines += [
        f"client -> gateway: {r.method} {r.target} -> {r.status} {r.failure or ''}" for r in run.proxied
    ]
    lines += [f"gateway -> upstream: {r.method} {r.path} {r.body[:300]!r}" for r in run.upstream]
    return "\n".join(lines)


# The task completes ----------------------------------------------------------------------------------


def test_claude_code_finishes_with_the_upstreams_final_text(claude_run: ClaudeRun) -> None:
    assert claude_run.output["is_error"] is False, _explain(claude_run)
    assert claude_run.output["subtype"] == "success"
    assert claude_run.output["result"] == FINAL_TEXT
    assert claude_run.output["num_turns"] == 2


def test_turn_two_carries_the_file_content_as_the_function_call_output(claude_run: ClaudeRun) -> None:
    assert len(claude_run.upstream) == 2, _explain(claude_run)
    turn2 = claude_run.upstream[1].json()
    [call] = items_of_type(turn2, "function_call")
    [output] = items_of_type(turn2, "function_call_output")

    assert call["call_id"] == output["call_id"] == "call_ccRead1"
    assert (call["name"], json.loads(call["arguments"])) == ("Read", {"file_path": str(claude_run.notes)})
    assert SECRET in json.dumps(output["output"], ensure_ascii=False)


# What Claude Code sends (docs/clients.md) ------------------------------------------------------------


def test_every_call_is_one_streamed_post_to_messages_with_the_beta_query(claude_run: ClaudeRun) -> None:
    assert [(r.method, r.target) for r in claude_run.proxied] == [("POST", "/v1/messages?beta=true")] * 2
    assert all(r.json()["stream"] is True for r in claude_run.proxied)
    assert all(r.status == 200 for r in claude_run.proxied)
    assert all(r.response_headers["content-type"].startswith("text/event-stream") for r in claude_run.proxied)


def test_claude_code_authenticates_with_x_api_key(claude_run: ClaudeRun, gateway: Gateway) -> None:
    for request in claude_run.proxied:
        assert request.headers["x-api-key"] == gateway.client_key
        assert "authorization" not in request.headers
        assert request.headers["anthropic-version"] == "2023-06-01"


def test_claude_code_sends_betas_the_gateway_ignores(claude_run: ClaudeRun) -> None:
    betas = {beta.strip() for beta in claude_run.proxied[0].headers["anthropic-beta"].split(",")}

    assert "claude-code-20250219" in betas


def test_claude_code_body_features_reach_the_upstream_translated(claude_run: ClaudeRun) -> None:
    """Adaptive thinking + effort, a system message inside messages, 2020-12 schemas, a deferred tool."""
    sent = claude_run.proxied[0].json()
    upstream = claude_run.upstream[0].json()

    assert (sent["thinking"]["type"], sent["max_tokens"]) == ("adaptive", 128000)
    assert upstream["model"] == "gpt-5"
    assert upstream["max_output_tokens"] <= sent["max_tokens"]
    assert upstream["store"] is False
    assert upstream["reasoning"]["effort"] == sent["output_config"]["effort"]
    assert upstream["prompt_cache_key"]
    assert [m["role"] for m in sent["messages"]][-1] == "system"
    assert items_of_type(upstream, "message")[-1]["role"] in ("system", "developer")
    assert {tool["name"] for tool in upstream["tools"]} == {tool["name"] for tool in sent["tools"]}
    assert not any(tool.get("strict") for tool in upstream["tools"])
    assert _keys(upstream).isdisjoint(
        {"context_management", "output_config", "thinking", "metadata", "cache_control", "defer_loading"}
    )


def _keys(payload: dict[str, Any]) -> set[str]:
    """The keys of the payload, its tools and its input items and their parts (not inside tool schemas)."""
    keys = set(payload)
    keys.update(key for tool in payload["tools"] for key in tool)
    for item in payload["input"]:
        keys.update(item)
        if isinstance(item.get("content"), list):
            keys.update(key for part in item["content"] for key in part)
    return keys


# WebSearch: Claude Code asks for Anthropic's server-side web search (issue 11) ------------------------

SEARCH_PROMPT = "What is new about async in Django? Search the web, then answer in one sentence."
SEARCH_QUERY = "django async"
DOCS = "https://docs.djangoproject.com/en/5.2/topics/async/"
RELEASE = "https://docs.djangoproject.com/en/5.2/releases/5.2/"
DOCS_TITLE = "Asynchronous support | Django documentation"
LINK = "([docs.djangoproject.com](https://docs.djangoproject.com/en/5.2/topics/async/?utm_source=openai))"
SUMMARY = f"Django supports async views and an async ORM interface {LINK}."
SEARCH_FINAL = "Django keeps extending async support: async views, and async ORM methods such as aget()."


def search_turns(request: RecordedRequest) -> Behaviour:
    """Whatever Claude Code asks, in whatever order: the web search itself, its main model's turns."""
    payload = request.json()
    if any(tool.get("type") == "web_search" for tool in payload.get("tools", [])):
        citation = url_citation(SUMMARY, LINK, DOCS + "?utm_source=openai", DOCS_TITLE)
        events = web_search_response_events(
            SEARCH_QUERY, [DOCS, RELEASE], SUMMARY, [citation], search_id="ws_cc1"
        )
        return answer(events)(request)
    if items_of_type(payload, "function_call_output"):
        return answer(text_response_events(SEARCH_FINAL))(request)
    [search] = [tool for tool in payload["tools"] if tool["name"] == "WebSearch"]
    assert "query" in search["parameters"]["properties"], search
    return answer(function_call_events("WebSearch", {"query": SEARCH_QUERY}, call_id="call_ccSearch1"))(
        request
    )


@pytest.fixture(scope="module")
def claude_search(
    gateway: Gateway, fake_upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> ClaudeRun:
    fake_upstream.reset()
    fake_upstream.enqueue(search_turns, search_turns, search_turns)
    return run_claude(
        gateway,
        fake_upstream,
        tmp_path_factory,
        notes_file(tmp_path_factory),
        SEARCH_PROMPT,
        "--allowedTools",
        "WebSearch",
        env={"ENABLE_TOOL_SEARCH": "false"},
    )


def test_claude_codes_web_search_completes_with_the_models_final_answer(claude_search: ClaudeRun) -> None:
    assert claude_search.output["is_error"] is False, _explain(claude_search)
    assert claude_search.output["result"] == SEARCH_FINAL
    assert [r.status for r in claude_search.proxied] == [200, 200, 200], _explain(claude_search)


def test_claude_code_asks_the_gateway_for_anthropics_web_search_and_it_runs_upstream(
    claude_search: ClaudeRun,
) -> None:
    [search] = [
        r
        for r in claude_search.proxied
        if any("web_search" in str(t.get("type")) for t in r.json().get("tools", []))
    ]
    [upstream] = [r for r in claude_search.upstream if r.json()["tools"] == [{"type": "web_search"}]]

    assert [tool["type"] for tool in search.json()["tools"]] == ["web_search_20250305"]
    assert upstream.json()["include"] == ["web_search_call.action.sources"]
    assert upstream.json()["max_tool_calls"] == search.json()["tools"][0]["max_uses"]


def test_the_search_results_reach_claude_codes_model_as_the_web_search_tool_result(
    claude_search: ClaudeRun,
) -> None:
    final_turn = claude_search.upstream[-1].json()
    [call] = items_of_type(final_turn, "function_call")
    [output] = items_of_type(final_turn, "function_call_output")
    result = json.dumps(output["output"], ensure_ascii=False)

    assert (call["name"], call["call_id"], output["call_id"]) == (
        "WebSearch",
        "call_ccSearch1",
        "call_ccSearch1",
    )
    assert SEARCH_QUERY in result
    assert DOCS in result and RELEASE in result
    assert "Django supports async views and an async ORM interface" in result
