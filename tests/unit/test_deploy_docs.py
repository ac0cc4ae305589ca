"""docs/deploy.md shows the deployment files exactly as they are in deploy/ (the tests run those files)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "path", ["deploy/nginx/anthropic-gateway.conf", "deploy/systemd/anthropic-gateway.service"]
)
def test_the_deploy_guide_shows_each_file_verbatim(path: str) -> None:
    assert (ROOT / path).read_text() in (ROOT / "docs" / "deploy.md").read_text()
