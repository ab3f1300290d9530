"""Language models for memory tasks, optional: every task also runs offline, with no model.

``OfflineProcessors`` (the default) does keywords, summaries, dialogue continuity, facts, persona
and importance deterministically; ``LLMProcessors`` asks an ``LLM`` (``OpenAICompatibleLLM`` for
OpenAI, vLLM, Ollama, llama.cpp server, LM Studio) and falls back to the offline processors when a
call fails. ``llm_from_env()`` reads ``MEMORYSPACE_LLM_URL`` / ``_MODEL`` / ``_API_KEY`` and
returns ``None`` (offline) when no URL is set. ``ScriptedLLM`` is the honest fake for tests.
"""

from memoryspace.errors import LLMError, LLMOutputError
from memoryspace.llm.base import LLM, Completion, LLMStats, Usage
from memoryspace.llm.fake import ScriptedLLM
from memoryspace.llm.llm_processors import LLMProcessors
from memoryspace.llm.offline import OfflineProcessors
from memoryspace.llm.openai import OpenAICompatibleLLM, llm_from_env
from memoryspace.llm.processors import Fact, FactKind, Persona, PersonaItem, Processors

__all__ = [
    "LLM",
    "Completion",
    "Fact",
    "FactKind",
    "LLMError",
    "LLMOutputError",
    "LLMProcessors",
    "LLMStats",
    "OfflineProcessors",
    "OpenAICompatibleLLM",
    "Persona",
    "PersonaItem",
    "Processors",
    "ScriptedLLM",
    "Usage",
    "llm_from_env",
]
