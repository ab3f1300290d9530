"""Long-term personal memory (LPM): the user's profile, knowledge base and traits, and the agent's.

* knowledge base: one ``fact`` memory per distinct fact the user stated (``"Emily likes
  painting"``), deduplicated by its normalised text; a repeat raises ``meta["count"]``;
* profile: one pinned ``persona`` memory per user (and agent) whose content is the aggregated
  ``Persona`` (attributes, preferences, relations, plans, events, traits) and whose ``meta`` keeps
  ``user_traits`` and ``agent_traits``.

Some facts hold one value at a time (``SLOTS``: job, employer, home, partner, name, age). In each
slot only the most recently stated fact is current; the others stay in the store, closed with
``valid_to`` (the time the newer one was said) and ``meta["superseded_by"]``, and are left out of
the persona and of ``facts_for``. So "I now work as a school nurse" replaces "pediatric nurse",
and saying the old value again makes it current again.

Facts come from ``Processors.extract_facts_many`` over the user's side of the pages, in one batch
(one LLM call per ``batch_size`` pages with ``LLMProcessors``); the agent's traits come from the
offline patterns on the agent's side, which costs no call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from memoryspace.llm import facts as patterns
from memoryspace.llm.processors import Fact, FactKind, Persona, Processors
from memoryspace.models import Memory, SearchHit
from memoryspace.structures import MemoryInterface

_MAX_FACT_CHARS = 300  # a "fact" longer than this is a model's prose, not a fact

# Relations that hold one value at a time, by the slot they fill (see the module docstring).
SLOTS = {
    "works as": "job",
    "works at": "employer",
    "lives in": "home",
    "moved to": "home",
    "is married to": "partner",
    "is named": "name",
    "is aged": "age",
}


def fact_key(statement: str) -> str:
    """The dedupe key of a fact: case-folded, punctuation dropped, spaces collapsed."""
    return " ".join(re.sub(r"[^\w\s]", " ", statement.casefold()).split())


class LongTermMemory:
    """The LPM of one user and agent inside a space, rebuilt from the store on construction."""

    def __init__(
        self,
        space: MemoryInterface,
        *,
        user: str,
        agent: str | None,
        user_label: str,
        agent_label: str,
        processors: Processors,
    ) -> None:
        self._space = space
        self._user = user
        self._agent = agent
        self._user_label = user_label
        self._agent_label = agent_label
        self._processors = processors
        self._facts: dict[str, Memory] = {}
        self._profile: Memory | None = None
        scope = self._scope()
        for memory in space.scan(kind="fact", meta={"lpm_fact": True}, **scope):
            self._facts[str(memory.meta.get("key"))] = memory
        profiles = list(space.scan(kind="persona", meta={"profile": True}, **scope))
        self._profile = profiles[-1] if profiles else None

    def _scope(self) -> dict[str, Any]:
        return {"user": self._user, "agent": self._agent}

    @property
    def profile_record(self) -> Memory | None:
        """The pinned persona memory, once anything was learned."""
        return self._profile

    @property
    def fact_records(self) -> list[Memory]:
        """Every fact of the knowledge base, in the order first stated."""
        return list(self._facts.values())

    def absorb(self, pages: Sequence[Memory]) -> int:
        """Learn from ``pages``: store new facts, count repeats, refresh the profile.

        Returns how many new facts were stored. Facts about anyone but the user are not stored.
        """
        users = [(str(p.meta.get("user_text") or ""), self._user_label) for p in pages]
        found = self._processors.extract_facts_many(users) if any(t for t, _ in users) else []
        new: list[dict[str, Any]] = []
        adding: dict[str, dict[str, Any]] = {}
        subject = self._user_label.casefold()
        for page, facts in zip(pages, found, strict=False):
            for fact in facts:
                if fact.subject.casefold() != subject or not _plausible(fact):
                    continue
                key = fact_key(fact.statement)
                if key in adding:
                    adding[key]["meta"]["count"] += 1
                elif key in self._facts:
                    old = self._facts[key]
                    count = int(old.meta.get("count", 1)) + 1
                    said = max(_stated_at(old), page.created_at)
                    meta = {**old.meta, "count": count, "stated_at": said}
                    self._facts[key] = self._space.update(old.id, meta=meta)
                else:
                    adding[key] = self._fact_item(fact, key, page)
                    new.append(adding[key])
        if new:
            for memory in self._space.add_many(new, dedupe=False):  # keyed by fact_key above
                self._facts[str(memory.meta["key"])] = memory
        self._keep_newest_per_slot()
        agent_traits = [
            fact.object
            for page in pages
            for fact in patterns.extract_facts(
                str(page.meta.get("agent_text") or ""), self._agent_label
            )
            if fact.relation == "is" and fact.subject == self._agent_label
        ]
        self._refresh_profile(agent_traits)
        return len(new)

    def _fact_item(self, fact: Fact, key: str, page: Memory) -> dict[str, Any]:
        return {
            "content": fact.statement,
            "kind": "fact",
            "timestamp": page.created_at,
            "links": [page.id],
            "meta": {
                "lpm_fact": True,
                "key": key,
                "count": 1,
                "subject": fact.subject,
                "relation": fact.relation,
                "object": fact.object,
                "fact_kind": str(fact.kind),
                "text": fact.text,
                "stated_at": page.created_at,
            },
            **self._scope(),
        }

    def _keep_newest_per_slot(self) -> None:
        """In each slot, make the latest stated fact current and close the others."""
        by_slot: dict[str, list[Memory]] = {}
        for memory in self._facts.values():
            slot = SLOTS.get(str(memory.meta.get("relation")))
            if slot is not None:
                by_slot.setdefault(slot, []).append(memory)
        for group in by_slot.values():
            newest = max(enumerate(group), key=lambda item: (_stated_at(item[1]), item[0]))[1]
            for memory in group:
                key = str(memory.meta["key"])
                if memory is newest and memory.valid_to is not None:
                    meta = {k: v for k, v in memory.meta.items() if k != "superseded_by"}
                    self._facts[key] = self._space.update(memory.id, valid_to=None, meta=meta)
                elif memory is not newest and memory.meta.get("superseded_by") != newest.id:
                    self._facts[key] = self._space.update(
                        memory.id,
                        valid_to=max(_stated_at(newest), memory.created_at),
                        meta={**memory.meta, "superseded_by": newest.id},
                    )

    def current_facts(self) -> list[Memory]:
        """The facts that still hold (none superseded by a newer value of its slot)."""
        return [m for m in self._facts.values() if "superseded_by" not in m.meta]

    def persona(self) -> Persona:
        """The user's profile aggregated from the current facts (repeats counted)."""
        facts: list[Fact] = []
        for memory in self.current_facts():
            meta = memory.meta
            fact = Fact(
                str(meta["subject"]),
                str(meta["relation"]),
                str(meta["object"]),
                FactKind(str(meta.get("fact_kind", FactKind.ATTRIBUTE))),
                str(meta.get("text", "")),
            )
            facts.extend([fact] * int(meta.get("count", 1)))
        traits = [f.object for f in facts if f.relation == "is"]
        return Persona.from_facts(self._user_label, facts, traits=traits)

    def user_traits(self) -> list[str]:
        """The user's traits, most-stated first."""
        return [trait for trait, _ in self.persona().traits]

    def agent_traits(self) -> list[str]:
        """What the agent said it is, first said first."""
        if self._profile is None:
            return []
        return [str(t) for t in self._profile.meta.get("agent_traits") or ()]

    def _refresh_profile(self, agent_traits: Sequence[str]) -> None:
        persona = self.persona()
        agent = list(dict.fromkeys([*self.agent_traits(), *agent_traits]))
        if not self._facts and not agent:
            return
        content = persona.describe()
        if agent:
            content += f"\n{self._agent_label} traits: " + ", ".join(agent)
        meta = {
            "profile": True,
            "user_traits": [trait for trait, _ in persona.traits],
            "agent_traits": agent,
            "facts": len(self._facts),
        }
        if self._profile is None:
            self._profile = self._space.add(
                content, dedupe=False, kind="persona", pinned=True, meta=meta, **self._scope()
            )
        elif self._profile.content != content or self._profile.meta != meta:
            self._profile = self._space.update(self._profile.id, content=content, meta=meta)

    def facts_for(self, query: str, k: int) -> list[Memory]:
        """The ``k`` current knowledge-base facts that best match ``query``."""
        return [hit.memory for hit in self.fact_hits(query, k)]

    def fact_hits(self, query: str, k: int) -> list[SearchHit]:
        """The ``k`` current facts that best match ``query``, as search hits (best first)."""
        if not self._facts or not query.strip():
            return []
        closed = len(self._facts) - len(self.current_facts())
        hits = self._space.search(
            query,
            k=k + closed,
            min_score=0.0,
            kind="fact",
            meta={"lpm_fact": True},
            **self._scope(),
        )
        return [hit for hit in hits if "superseded_by" not in hit.memory.meta][:k]


def _plausible(fact: Fact) -> bool:
    parts = (fact.subject, fact.relation, fact.object)
    return all(part.strip() for part in parts) and len(fact.statement) <= _MAX_FACT_CHARS


def _stated_at(memory: Memory) -> float:
    """When the fact was last said (facts stored before ``stated_at`` existed: when stored)."""
    return float(memory.meta.get("stated_at", memory.created_at))
