"""The layering the house style promises, checked on the source: a pure core, and no step reaching back up.

One request flows api -> control -> upstream call -> transport, and translate is used by all of them;
a module may import from its own layer and the layers below it, never from a layer above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "streaming"
IO_IMPORTS = ("httpx", "httpx2", "django.http", "django.db", "asgiref")

# Pure: dicts and bytes in, dicts and bytes out; no HTTP, no database, no thread hops.
PURE = [
    *sorted(str(p.relative_to(APP)) for p in (APP / "translate").glob("*.py")),
    "errors.py",
    "error_map.py",
    "json_codec.py",
    "redaction.py",
    "transport/sse_decoder.py",
    "transport/errors.py",
]

# What each layer must not import (the layers above it).
FORBIDDEN = {
    "translate": ("streaming.api", "streaming.control", "streaming.transport", "streaming.upstream"),
    "transport": ("streaming.api", "streaming.control", "streaming.translate", "streaming.upstream"),
    "control": ("streaming.api", "streaming.upstream"),
}


def imports_of(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.append(node.module or "")
    return names


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_no_io(module: str) -> None:
    assert not [name for name in imports_of(APP / module) if name.startswith(IO_IMPORTS)]


@pytest.mark.parametrize(
    "module", sorted(str(p.relative_to(APP)) for layer in FORBIDDEN for p in (APP / layer).rglob("*.py"))
)
def test_no_layer_imports_a_layer_above_it(module: str) -> None:
    forbidden = FORBIDDEN[module.split("/")[0]]

    assert not [name for name in imports_of(APP / module) if name.startswith(forbidden)]
