"""The README's first steps work as pasted: its ```sh blocks run in order against a live server.

Each block runs under `bash` with `set -euo pipefail` and every `curl` failing on an HTTP error,
so a call that answers 4xx/5xx or a JSON answer without the expected field stops the run. A block
that cannot run here (Docker) must say so in a `<!-- readme-test: skip (reason) -->` line right
above it. Every file or folder the README names must exist in the repository.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.contract import live

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.DOTALL | re.MULTILINE)
SKIP = re.compile(r"<!--\s*readme-test:\s*skip\s*\((.+)\)\s*-->\s*$")
# What `make run` serves on; the test's server gets a free port instead.
README_ADDRESSES = ("127.0.0.1:8000", "localhost:8000")
# Paths the README names that exist only once someone runs something.
GENERATED = {
    ".venv/bin/python": "made by `make run`",
    "./data": "the embedded default's data folder, made at first start",
    "test-artifacts/console/": "written by the browser tests",
    ".env": "copied from .env.example by the operator",
    "<data folder>/static": "a placeholder",
    "openapi.json": "written by the first steps",
}


@dataclass(frozen=True)
class Block:
    language: str
    code: str
    line: int
    skip_reason: str | None


def blocks(text: str) -> list[Block]:
    found = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = SKIP.search(before)
        found.append(Block(match.group(1), match.group(2), line, skip.group(1) if skip else None))
    return found


def shell_blocks() -> list[Block]:
    return [block for block in blocks(README.read_text()) if block.language in ("sh", "bash", "shell", "console")]


def test_every_shell_block_is_run_or_says_why_not():
    found = shell_blocks()
    assert len([block for block in found if block.skip_reason is None]) >= 3
    for block in found:
        assert block.language == "sh", f"README line {block.line}: use ```sh so the test runs it"
        if block.skip_reason is not None:
            assert len(block.skip_reason.strip()) > 10, f"README line {block.line}: say why it cannot run here"


def test_readme_names_only_files_that_exist():
    text = README.read_text()
    names = set()
    for token in re.findall(r"`([^`\s]+)`", text):
        if "://" in token or token.startswith(("/", "$", "-", "…")) or "{" in token or re.fullmatch(r"\d+/\w+", token):
            continue  # URLs, routes, variables, options and rates, not files
        if "/" in token or re.search(r"\.(md|py|sh|ya?ml|json|toml|txt|example|html|css|js)$", token):
            names.add(token)
    names |= {"Dockerfile", "Makefile", "docker-compose.yml", ".env.example", "requirements.txt"}
    missing = sorted(name for name in names if name not in GENERATED and not (ROOT / name).exists())
    assert not missing, f"README.md names files that are not in the repository: {missing}"
    assert "../" not in text, "README.md points outside the repository"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    started = live.start(tmp_path_factory.mktemp("readme") / "data")
    yield started
    live.stop(started)


def test_readme_first_steps_run_against_a_live_server(server, tmp_path):
    runnable = [block for block in shell_blocks() if block.skip_reason is None]
    script = "\n".join(f"# README.md line {block.line}\n{block.code}" for block in runnable)
    address = server.url.removeprefix("http://")
    for readme_address in README_ADDRESSES:
        script = script.replace(readme_address, address)
    # The README's shell command runs with whatever Python this suite uses (CI's venv is not .venv).
    script = script.replace(".venv/bin/python manage.py", f"{sys.executable} {ROOT / 'manage.py'}")
    results = tmp_path / "results.json"
    wrapped = (
        "set -euo pipefail\n"
        'curl() { command curl --fail-with-body --show-error "$@"; }\n'
        f"{script}\n"
        'python3 -c \'import json, sys; json.dump(dict(zip(["REF", "SK", "PK", "ID", "TOKEN"], sys.argv[1:])), '
        f'open("{results}", "w"))\' "$REF" "$SK" "$PK" "$ID" "$TOKEN"\n'
    )
    work = tmp_path / "work"
    work.mkdir()
    run = subprocess.run(["bash", "-c", wrapped], cwd=work, env=server.env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"stdout:\n{run.stdout[-4000:]}\nstderr:\n{run.stderr[-4000:]}\n{server.log_tail()}"

    found = json.loads(results.read_text())
    assert found["SK"].startswith("sk_") and found["PK"].startswith("pk_")
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30) as http:
        document = http.get(f"/collections/posts/documents/{found['ID']}", headers={"X-API-Key": found["PK"]})
        assert document.status_code == 200, document.text
        assert document.json()["score"] == 5 and document.json()["tags"] == ["a", "b"]
        mine = http.get("/manage/projects", headers={"Authorization": f"Bearer {found['TOKEN']}"}).json()["results"]
        assert sorted(project["name"] for project in mine) == ["My app", "My other app"]
        assert {project["ref"] for project in mine} >= {found["REF"]}
    # The find printed one document and its count; the OpenAPI document was saved.
    assert '"count":1' in run.stdout.replace(" ", "")
    openapi = json.loads((work / "openapi.json").read_text())
    assert openapi["openapi"].startswith("3.1") and any("/collections/posts" in path for path in openapi["paths"])
    assert "reader@example.com" in run.stdout
