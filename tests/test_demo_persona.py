"""``memoryspace demo persona`` on a tiny MemoryBank-shaped file: offline persona extraction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memoryspace.cli.app import app
from memoryspace.demo.persona import learn_personas, load_memorybank
from memoryspace.errors import InvalidInput

runner = CliRunner()

BANK = {
    "Emily": {
        "name": "Emily",
        "history": {
            "2023-04-27": [
                {"query": "I really enjoy painting and playing piano.", "response": "Lovely!"},
                {"query": "I work as a nurse in Oslo.", "response": "I am your AI companion."},
            ],
            "2023-04-28": [
                {"query": "I love painting landscapes.", "response": "What colours do you use?"},
                {"query": "My sister is called Anna.", "response": "Say hi to Anna."},
            ],
        },
        "meta_information": {"personality": "gentle, shy", "hobbies": "painting"},
    },
    "Frank": {
        "name": "Frank",
        "history": {
            "2023-05-01": [{"query": "I like hiking and running.", "response": "Great."}],
        },
        "meta_information": {"personality": "daring", "hobbies": "hiking"},
    },
}


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    path = tmp_path / "memory_bank.json"
    path.write_text(json.dumps(BANK), encoding="utf-8")
    return path


def test_each_user_gets_their_own_persona(bank: Path) -> None:
    learned = {
        item.name: item for item in learn_personas(load_memorybank(bank), embedder="hashing")
    }
    emily = learned["Emily"].persona.describe()
    assert "painting" in emily and "nurse" in emily and "hiking" not in emily
    assert "hiking" in learned["Frank"].persona.describe()
    assert learned["Emily"].pages == 4 and learned["Emily"].facts >= 3


def test_cli_prints_each_user_and_json(bank: Path) -> None:
    result = runner.invoke(app, ["demo", "persona", "--data", str(bank)])
    assert result.exit_code == 0, (result.stdout, result.exception)
    assert "== Emily" in result.stdout and "== Frank" in result.stdout
    assert "data set hobbies: painting" in result.stdout
    result = runner.invoke(app, ["demo", "persona", "--data", str(bank), "--json"])
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["name"] for line in lines] == ["Emily", "Frank"]


def test_bad_data_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"Emily": {"name": "Emily"}}), encoding="utf-8")
    with pytest.raises(InvalidInput, match="history"):
        load_memorybank(path)
