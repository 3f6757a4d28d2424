import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.cli import cli

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def blog_entries() -> list[dict]:
    """The two entries published with the public blog post on Console logs (ids made up)."""
    return json.loads((FIXTURES / "blog_entries.json").read_text())


def write_page(path: Path, entries, **dump_options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries, **dump_options))
    return path


def make_entry(number: int, **overrides) -> dict:
    """A synthetic Console entry; different numbers give different entries."""
    entry = {
        "transport_type": "http",
        "model": "claude-3-5-haiku-20241022",
        "model_latency": 0.5 + number / 1000,
        "prompt": None,
        "prompt_length": 40,
        "prompt_token_count": 10 + number,
        "completion_length": 20,
        "completion_token_count": 5,
        "response": None,
        "tags": "{}",
        "error": "None",
        "request_start_time": f"2024-10-09 05:{number // 60 % 60:02d}:{number % 60:02d}.250000+00:00",
        "request": '{"max_tokens":256,"model":"claude-3-5-haiku-20241022","temperature":0.5}',
        "workspace_id": "default",
        "api_key_uuid": None,
    }
    entry.update(overrides)
    return entry


@pytest.fixture
def run_cli():
    """Invoke the CLI in-process; returns the click Result with stdout and stderr apart."""

    def invoke(*args, input=None):
        runner = CliRunner()
        return runner.invoke(cli, [str(arg) for arg in args], input=input, catch_exceptions=False)

    return invoke
