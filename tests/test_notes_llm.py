"""Notes and reflection with a model: a real chat-completions server on 127.0.0.1 describes
notes and extracts claims; when it fails, the offline rules answer and the fallback is counted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chat_server import Step, prompt, serve_chat
from memoryspace import MemorySpace
from memoryspace.notes import LLMEnricher, OfflineEnricher
from memoryspace.reflect import LLMClaimExtractor, make_extractor

ENV = ("MEMORYSPACE_LLM_URL", "MEMORYSPACE_LLM_MODEL", "MEMORYSPACE_LLM_API_KEY")
START = 1_700_000_000.0


@pytest.fixture(autouse=True)
def no_llm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def answer(body: dict[str, Any]) -> str:
    """A model that tags notes 'travel' and reads 'Japan: <month>' as the trip's time."""
    task = prompt(body)
    if task.startswith("Give at most"):
        return json.dumps(
            {"keywords": ["japan", "flight"], "tags": ["Travel"], "context": "Travel plans."}
        )
    items = []
    for line in task.splitlines():
        if line.startswith("[") and "Japan:" in line:
            index = int(line[1 : line.index("]")])
            month = line.rsplit("Japan:", 1)[1].split()[0].strip(".").lower()
            claim = {"subject": "trip", "attribute": "time", "value": month, "negated": False}
            items.append({"index": index, "claims": [claim]})
    return json.dumps({"items": items})


class Clock:
    now = START

    def __call__(self) -> float:
        return self.now


def test_a_model_describes_notes_and_finds_superseded_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    with serve_chat() as api:
        api.respond = answer
        monkeypatch.setenv("MEMORYSPACE_LLM_URL", api.url)
        monkeypatch.setenv("MEMORYSPACE_LLM_MODEL", "test-model")
        with MemorySpace.open(tmp_path / "m.db", embedder="hashing", clock=clock) as ms:
            notes = ms.notes(user="maren")
            assert isinstance(notes.enricher, LLMEnricher)
            first = notes.add("Japan: April. Booked the flight.")
            clock.now += 600
            second = notes.add("Japan: October, the airline moved it.")
            assert first.tags == ("travel",) and first.meta["context"] == "Travel plans."
            assert first.meta["keywords"] == ["japan", "flight"]
            assert notes.enricher.calls == 2 and notes.enricher.fallbacks == 0
            result = ms.reflect(user="maren")
            assert result.counts == {"supersede": 1}
            assert ms.get(first.id).valid_to == second.created_at
        calls = len(api.requests)
    assert calls == 3  # two notes described, one batch of claims
    assert {body["model"] for body in api.bodies()} == {"test-model"}


def test_when_the_model_fails_the_offline_rules_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    with serve_chat() as api:
        api.respond = lambda body: "not json at all"
        monkeypatch.setenv("MEMORYSPACE_LLM_URL", api.url)
        monkeypatch.setenv("MEMORYSPACE_LLM_MODEL", "test-model")
        with MemorySpace.open(tmp_path / "m.db", embedder="hashing", clock=clock) as ms:
            notes = ms.notes(user="maren")
            note = notes.add("My Japan trip is in April.")
            offline = OfflineEnricher().describe("My Japan trip is in April.")
            assert note.meta["context"] == offline.context and note.tags == offline.tags
            assert isinstance(notes.enricher, LLMEnricher) and notes.enricher.fallbacks == 1
            clock.now += 600
            later = ms.add("The trip moved to October.", user="maren", kind="note")
            extractor = make_extractor(ms.processors())
            assert isinstance(extractor, LLMClaimExtractor)
            result = ms.reflect(user="maren")
            assert result.counts.get("supersede") == 1  # the rules found it
            assert ms.get(note.id).valid_to == later.created_at
    assert api.requests  # the model was asked first


def test_a_model_error_status_falls_back_too(tmp_path: Path) -> None:
    from memoryspace.llm import OpenAICompatibleLLM

    with serve_chat() as api:
        api.script = [Step("status", status=400, message="bad request")]
        llm = OpenAICompatibleLLM(api.url, model="test-model")
        extractor = LLMClaimExtractor(llm)
        claims = extractor.claims_many([("I moved to Berlin.", None)])
    assert extractor.fallbacks == 1 and claims[0][0].value == "berlin"
