"""The installable app's metadata (pyproject.toml) against what the app imports and what the project pins.

The wheel declares ranges, requirements.txt pins the project: every pin must lie in its range (else
``pip install .`` and ``bin/serve`` would run different code), and every third-party module the app
imports, eagerly or lazily, must come from a declared dependency or extra.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
DEPENDENCIES = [Requirement(line) for line in PROJECT["dependencies"]]
EXTRAS = {
    extra: [Requirement(line) for line in lines] for extra, lines in PROJECT["optional-dependencies"].items()
}


def pinned() -> dict[str, str]:
    """requirements.txt as ``{distribution: version}``."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            (specifier,) = requirement.specifier
            pins[canonicalize_name(requirement.name)] = specifier.version
    return pins


def imported_distributions() -> set[str]:
    """Distributions providing the third-party top-level modules any module of ``streaming/`` imports."""
    modules: set[str] = set()
    for path in (ROOT / "streaming").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    third_party = modules - set(sys.stdlib_module_names) - {"__future__", "streaming"}
    providers = packages_distributions()
    return {canonicalize_name(providers[module][0]) for module in third_party}


ALL_DECLARED = [*DEPENDENCIES, *(req for reqs in EXTRAS.values() for req in reqs)]


@pytest.mark.parametrize("requirement", ALL_DECLARED, ids=str)
def test_each_declared_dependency_is_pinned_in_requirements_txt_within_its_range(
    requirement: Requirement,
) -> None:
    version = pinned().get(canonicalize_name(requirement.name))
    assert version is not None, f"{requirement.name} is not pinned in requirements.txt"
    assert requirement.specifier.contains(version), f"{requirement.name}=={version} is outside {requirement}"


def test_every_third_party_module_the_app_imports_is_declared() -> None:
    declared = {canonicalize_name(requirement.name) for requirement in ALL_DECLARED}
    assert imported_distributions() <= declared


def test_what_only_the_project_uses_is_not_a_dependency_of_the_app() -> None:
    project_only = {"whitenoise", "dj-database-url", "uvicorn"}
    assert project_only.isdisjoint(canonicalize_name(requirement.name) for requirement in ALL_DECLARED)


def test_the_optional_parts_are_extras() -> None:
    assert {extra: sorted(canonicalize_name(r.name) for r in reqs) for extra, reqs in EXTRAS.items()} == {
        "redis": ["redis"],
        "postgres": ["psycopg"],
        "metrics": ["prometheus-client"],
    }


def test_the_redis_extra_brings_the_c_reply_parser() -> None:
    (redis,) = EXTRAS["redis"]
    assert redis.extras == {"hiredis"}
