"""One setting turns the model on: with ``MEMORYSPACE_LLM_URL`` set, a space's conversations ask
a real chat-completions server on 127.0.0.1, and every call shows in ``stats()``."""

from __future__ import annotations

from pathlib import Path

import pytest

from chat_server import batch_reply, serve_chat
from memoryspace import InvalidInput, MemorySpace
from memoryspace.llm import LLMProcessors, OfflineProcessors

ENV = ("MEMORYSPACE_LLM_URL", "MEMORYSPACE_LLM_MODEL", "MEMORYSPACE_LLM_API_KEY")


@pytest.fixture(autouse=True)
def no_llm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def test_without_the_variable_conversations_are_offline(tmp_path: Path) -> None:
    with MemorySpace.open(tmp_path / "m.db", embedder="hashing") as ms:
        conversation = ms.conversation(user="Maren")
        conversation.add_turn("I adore salsa.", "Nice.")
        assert isinstance(conversation.processors, OfflineProcessors)
        assert "llm" not in ms.stats()


def test_the_variable_turns_the_model_on_and_stats_count_its_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    turns = 24
    with serve_chat() as api:
        api.respond = batch_reply
        monkeypatch.setenv("MEMORYSPACE_LLM_URL", api.url)
        monkeypatch.setenv("MEMORYSPACE_LLM_MODEL", "test-model")
        with MemorySpace.open(tmp_path / "m.db", embedder="hashing") as ms:
            conversation = ms.conversation(user="Maren")
            assert isinstance(conversation.processors, LLMProcessors)
            assert ms.conversation(user="Ola").processors is conversation.processors
            for n in range(turns):
                conversation.add_turn(f"Turn {n}: I adore salsa on Fridays.", "Nice.")
            conversation.persona()
            stats = ms.stats()["llm"]
            facts = [m.content for m in ms.scan(kind="fact")]
        assert stats["calls"] == len(api.requests) > 0
        assert stats["calls"] / turns <= 0.25
        assert stats["failures"] == 0 and stats["fallbacks"] == {}
        assert any("salsa" in fact for fact in facts)
        assert {body["model"] for body in api.bodies()} == {"test-model"}


def test_a_url_without_a_model_is_refused_with_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMORYSPACE_LLM_URL", "http://127.0.0.1:9/v1")
    with MemorySpace.open(tmp_path / "m.db", embedder="hashing") as ms:
        with pytest.raises(InvalidInput, match="MEMORYSPACE_LLM_MODEL"):
            ms.conversation(user="Maren")
        ms.add("the space itself still works")
        assert ms.count() == 1
