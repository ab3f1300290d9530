"""The ``memoryos`` benchmark mode: LoCoMo answered from ``Conversation.retrieve``.

    memoryspace bench locomo --data locomo10.json --modes memoryspace,memoryos --json

Each conversation (scope) is ingested as ``add_turn`` pairs: consecutive turns of the two
speakers in the same session make one page, the scope's first speaker playing "user" (a turn
with no partner is a page with one side); the page keeps the record's session. A page keeps both
turns' dia_ids in ``meta``; ``rank`` takes ``Retrieval.ranked_pages()`` (STM and the chosen
segments' best pages, best scored first) and expands each page into its turns in order.
``top_k`` is raised to ``ceil(k / 2)`` pages so the ranking can reach the depth asked. Retrieval
uses ``ConversationSettings``' defaults (a hybrid funnel); pass ``ConversationSettings.paper()``
for MemoryOS's own (top 5 segments by Fscore, pages by cosine). The processors are the space's
(``MemorySpace.processors()``): offline, so ``llm_calls_per_turn`` (LLM calls per added page) is
0, unless ``MEMORYSPACE_LLM_URL`` names a model, whose calls are then counted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from memoryspace.bench.modes import Record, RetrievalMode, record_ref
from memoryspace.conversation import Conversation, ConversationSettings
from memoryspace.conversation.pages import page_dia_ids
from memoryspace.embed.base import Embedder
from memoryspace.llm import LLMProcessors
from memoryspace.llm.processors import Processors
from memoryspace.space import MemorySpace


def _text(record: Record) -> tuple[str, str]:
    """``(speaker, text)`` of a LoCoMo record whose content is ``"speaker: text"``."""
    content = str(record["content"])
    speaker = str((record.get("meta") or {}).get("speaker") or "")
    if speaker and content.startswith(f"{speaker}: "):
        return speaker, content[len(speaker) + 2 :]
    return speaker, content


class MemoryOSMode(RetrievalMode):
    """MemoryOS's STM/MTM/LPM hierarchy over an in-memory space, one conversation per scope."""

    name = "memoryos"

    def __init__(
        self,
        ref_key: str,
        embedder: Embedder,
        *,
        settings: ConversationSettings | None = None,
        processors: Processors | None = None,
    ) -> None:
        super().__init__(ref_key)
        self.space = MemorySpace.open(":memory:", embedder=embedder)
        self.settings = settings or ConversationSettings()
        self.processors = processors if processors is not None else self.space.processors()
        self.conversations: dict[str, Conversation] = {}
        self.pages = 0

    def ingest(self, records: Sequence[Record]) -> None:
        by_scope: dict[str, list[Record]] = {}
        for record in records:
            by_scope.setdefault(str(record.get("user") or ""), []).append(record)
        for scope, group in by_scope.items():
            conversation = self.conversations.get(scope)
            user = _text(group[0])[0] or "user"
            if conversation is None:
                speakers = list(dict.fromkeys(_text(r)[0] for r in group))
                agent = next((s for s in speakers if s != user), "agent")
                settings = ConversationSettings(
                    **{
                        **{
                            f: getattr(self.settings, f) for f in self.settings.__dataclass_fields__
                        },
                        "user_label": user,
                        "agent_label": agent,
                    }
                )
                conversation = self.space.conversation(
                    user=scope, settings=settings, processors=self.processors
                )
                self.conversations[scope] = conversation
            self._add_pairs(conversation, group, user)

    def _add_pairs(self, conversation: Conversation, group: Sequence[Record], user: str) -> None:
        at = 0
        while at < len(group):
            record = group[at]
            speaker, text = _text(record)
            when = record.get("timestamp")
            stamp = None if when is None else float(when)
            ref = record_ref(record, self.ref_key)
            session = record.get("session")
            session = None if session is None else str(session)
            following = group[at + 1] if at + 1 < len(group) else None
            if (
                speaker == user
                and following is not None
                and _text(following)[0] != user
                and following.get("session") == record.get("session")
            ):
                reply = _text(following)[1]
                dia_ids = [ref, record_ref(following, self.ref_key)]
                conversation.add_turn(text, reply, stamp, dia_ids=dia_ids, session=session)
                at += 2
            else:
                if speaker == user:
                    conversation.add_turn(text, "", stamp, dia_ids=[ref], session=session)
                else:
                    conversation.add_turn("", text, stamp, dia_ids=[ref], session=session)
                at += 1
            self.pages += 1

    def rank(self, question: str, k: int, *, scope: str) -> list[str]:
        conversation = self.conversations.get(scope)
        if conversation is None:
            return []
        top_k = max(conversation.settings.top_k, math.ceil(k / 2))
        found = conversation.retrieve(question, top_k=top_k)
        refs = [ref for page in found.ranked_pages() for ref in page_dia_ids(page)]
        return list(dict.fromkeys(refs))[:k]

    @property
    def llm_calls_per_turn(self) -> float:
        """LLM calls made so far per page added (0 with the offline processors)."""
        if not isinstance(self.processors, LLMProcessors) or not self.pages:
            return 0.0
        return round(self.processors.llm.stats().calls / self.pages, 4)

    def close(self) -> None:
        self.space.close()
