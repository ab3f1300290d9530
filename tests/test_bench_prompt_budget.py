"""``memoryspace bench prompt-budget`` end to end on a tiny hand-written LoCoMo file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from memoryspace.cli.app import app

runner = CliRunner()
HOBBIES = ["chess", "pottery", "rowing", "baking", "salsa", "birding", "knitting", "surfing"]


def _turn(dia_id: str, speaker: str, text: str) -> dict[str, Any]:
    return {"speaker": speaker, "dia_id": dia_id, "text": text}


def conversation() -> dict[str, Any]:
    turns = [_turn("D1:1", "Ana", "I adopted a golden retriever named Biscuit last spring.")]
    turns.append(_turn("D1:2", "Ben", "Cute! What does Biscuit like to eat?"))
    for n, hobby in enumerate(HOBBIES, start=3):
        speaker = "Ana" if n % 2 else "Ben"
        turns.append(_turn(f"D1:{n}", speaker, f"I love {hobby}, I spend every weekend on it."))
    return {
        "sample_id": "conv-a",
        "conversation": {
            "speaker_a": "Ana",
            "speaker_b": "Ben",
            "session_1_date_time": "9:00 am on 1 May, 2023",
            "session_1": turns,
        },
        "qa": [
            {
                "question": "What is the name of Ana's golden retriever?",
                "answer": "Biscuit",
                "category": 4,
                "evidence": ["D1:1"],
            },
            {
                "question": "Who loves rowing every weekend?",
                "answer": "rowing",
                "category": 4,
                "evidence": ["D1:5"],
            },
            {"question": "Would Ana enjoy camping?", "category": 3, "evidence": ["D"]},
        ],
    }


@pytest.fixture
def locomo_file(tmp_path: Path) -> Path:
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([conversation()]), encoding="utf-8")
    return path


def test_json_rows_csv_and_chart(locomo_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["bench", "prompt-budget", "--data", str(locomo_file), "--embedder", "hashing"]
    result = runner.invoke(app, [*args, "--budgets", "60,3000", "--json", "--out", str(out)])
    assert result.exit_code == 0, (result.stdout, result.exception)
    doc = json.loads(result.stdout)
    assert doc["questions"] == 2  # the question without resolvable evidence is skipped
    rows = {(row["budget"], row["method"]): row for row in doc["rows"]}
    assert set(rows) == {(b, m) for b in (60, 3000) for m in ("conversation", "context")}
    for method in ("conversation", "context"):  # everything fits in 3,000 tokens
        assert rows[(3000, method)]["evidence_any"] == 1.0
        assert rows[(3000, method)]["evidence_all"] == 1.0
    for budget in (60, 3000):
        assert rows[(budget, "conversation")]["profile_tokens"] <= budget * 0.25
        assert rows[(budget, "context")]["profile_tokens"] is None
    lines = (out / "prompt_budget.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "budget,method,evidence_any,evidence_all,profile_tokens" and len(lines) == 5
    assert (out / "prompt_budget.png").read_bytes().startswith(b"\x89PNG")


def test_a_table_for_humans(locomo_file: Path) -> None:
    args = ["bench", "prompt-budget", "--data", str(locomo_file), "--embedder", "hashing"]
    result = runner.invoke(app, [*args, "--budgets", "100"])
    assert result.exit_code == 0, result.exception
    assert "LoCoMo evidence in the prompt (2 questions" in result.stdout
    assert "conversation" in result.stdout and "context" in result.stdout
