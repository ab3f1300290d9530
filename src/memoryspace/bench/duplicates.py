"""A synthetic duplicate-heavy stream: the share of stored duplicates before and after reflection.

    memoryspace bench duplicates --facts 200 --repeats 4 --out results/

``facts`` distinct facts (a person likes a thing, lives in a city, is an age, works as a job;
seeded) are each stated ``repeats`` times in paraphrases (other wordings, case, punctuation,
fillers), shuffled into one stream and added as ``fact`` memories of one user with the default
settings (so exact repeats are already folded by ``dedupe="exact"``). For each near-duplicate
threshold a fresh space is reflected once. *Duplicate share*: the live memories that only repeat
facts an earlier live memory already states, over the live memories; a *wrong merge* is a merged
memory whose sources state different facts (e.g. "Anna likes jazz" and "Anna likes chess").
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any

from memoryspace.bench.locomo import Progress, warm_embeddings
from memoryspace.embed.base import Embedder
from memoryspace.errors import InvalidInput
from memoryspace.reflect import ReflectOptions
from memoryspace.space import MemorySpace

NAMES = (
    *("Anna", "Berit", "Carlos", "Dmitri", "Elif", "Farah", "Goran", "Hana", "Ivo", "Jonas"),
    *("Kaia", "Lars", "Mira", "Nils", "Olga", "Priya", "Quinn", "Rosa", "Sven", "Tariq"),
    *("Ulla", "Vera", "Wen", "Xavier", "Yusuf", "Zofia"),
)
THINGS = ("green tea", "jazz", "sourdough bread", "chess", "hiking", "sushi", "cello music")
CITIES = ("Bergen", "Lisbon", "Kyoto", "Quito", "Tromsø", "Porto", "Krakow", "Oslo")
JOBS = ("nurse", "pilot", "teacher", "carpenter", "chemist", "librarian", "baker", "architect")
SINGLE_VALUED = frozenset({"lives", "age", "job"})
TEMPLATES: dict[str, tuple[str, ...]] = {
    "likes": (
        "{n} likes {x}.",
        "{n} really likes {x}.",
        "{n} likes {x} a lot",
        "{N} LIKES {X}.",
        "Note: {n} likes {x}!",
    ),
    "lives": (
        "{n} lives in {x}.",
        "{n} lives in {x} now.",
        "{n} currently lives in {x}",
        "{N} LIVES IN {X}",
        "Fact: {n} lives in {x}.",
    ),
    "age": (
        "{n} is {x} years old.",
        "{n} is {x} years old now.",
        "{n} is currently {x} years old",
        "{N} IS {X} YEARS OLD",
        "Fact: {n} is {x} years old!",
    ),
    "job": (
        "{n} works as a {x}.",
        "{n} works as a {x} now.",
        "{n} currently works as a {x}",
        "{N} WORKS AS A {X}",
        "Fact: {n} works as a {x}!",
    ),
}
THRESHOLDS = (0.85, 0.9, 0.92, 0.95)


def stream(facts: int, repeats: int, seed: int = 0) -> list[tuple[int, str]]:
    """``(fact number, text)`` in a seeded shuffled order: ``facts`` distinct facts, each
    stated ``repeats`` times in different wordings. A person has one home, age and job (so no
    fact supersedes another) but may like several things: "Anna likes jazz" and "Anna likes
    chess" are near each other and must not merge."""
    rng = random.Random(seed)
    chosen: dict[tuple[str, str, str], None] = {}
    taken: set[tuple[str, str]] = set()
    if facts > len(NAMES) * (len(SINGLE_VALUED) + len(THINGS)):
        raise InvalidInput(f"at most {len(NAMES) * 10} distinct facts; ask for fewer")
    while len(chosen) < facts:
        kind = rng.choice(sorted(TEMPLATES))
        name = rng.choice(NAMES)
        value = {
            "likes": lambda: rng.choice(THINGS),
            "lives": lambda: rng.choice(CITIES),
            "age": lambda: str(rng.randint(20, 70)),
            "job": lambda: rng.choice(JOBS),
        }[kind]()
        if kind in SINGLE_VALUED and (kind, name) in taken:
            continue
        taken.add((kind, name))
        chosen.setdefault((kind, name, value))
    items = []
    for number, (kind, name, value) in enumerate(chosen):
        templates = list(TEMPLATES[kind])
        rng.shuffle(templates)
        for n in range(repeats):
            text = templates[n % len(templates)]
            items.append((number, text.format(n=name, x=value, N=name.upper(), X=value.upper())))
    rng.shuffle(items)
    return items


def duplicate_share(space: MemorySpace, fact_of: dict[str, int]) -> tuple[int, float, int]:
    """``(live memories, duplicate share, wrong merges)`` of the space: a live memory is a
    duplicate when every fact it stands for (its own, or its merged sources') is already
    stood for by an earlier live memory."""
    live = list(space.scan(user="stream", include_closed=False))
    seen: set[int] = set()
    duplicates = wrong = 0
    for memory in live:
        sources = memory.meta.get("merged_from")
        ids = [str(i) for i in sources] if isinstance(sources, list) else [memory.id]
        facts = {fact_of[i] for i in ids if i in fact_of}
        wrong += len(facts) > 1
        duplicates += facts <= seen
        seen.update(facts)
    share = duplicates / len(live) if live else 0.0
    return len(live), share, wrong


def run(
    *,
    embedder: Embedder,
    facts: int = 200,
    repeats: int = 4,
    thresholds: Sequence[float] = THRESHOLDS,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Ingest the stream once per threshold, reflect, and count; the result document."""
    items = stream(facts, repeats, seed)
    warm_embeddings(embedder, [text for _, text in items])
    rows = []
    for done, threshold in enumerate(thresholds, 1):
        with MemorySpace.open(":memory:", embedder=embedder) as space:
            added = space.add_many(
                [{"content": text, "user": "stream", "kind": "fact"} for _, text in items]
            )
            fact_of = {m.id: number for m, (number, _) in zip(added, items, strict=True)}
            stored, before, _ = duplicate_share(space, fact_of)
            started = time.perf_counter()
            result = space.reflect(user="stream", options=ReflectOptions(near_duplicate=threshold))
            seconds = time.perf_counter() - started
            live, after, wrong = duplicate_share(space, fact_of)
        rows.append(
            {
                "threshold": threshold,
                "added": len(items),
                "stored": stored,
                "duplicates_before": round(before, 4),
                "live_after": live,
                "duplicates_after": round(after, 4),
                "merges": result.counts.get("merge", 0),
                "closed": result.counts.get("supersede", 0) + result.counts.get("contradict", 0),
                "wrong_merges": wrong,
                "reflect_s": round(seconds, 2),
            }
        )
        if progress:
            progress("duplicates", done, len(thresholds))
    return {
        "dataset": "synthetic duplicate stream",
        "facts": facts,
        "repeats": repeats,
        "seed": seed,
        "embedder": embedder.model_id,
        "rows": rows,
    }


def write_chart(doc: dict[str, Any], path: Any) -> None:
    """Duplicate share before and after reflection per threshold, as PNG."""
    from memoryspace.bench.locomo import write_bar_chart

    rows = doc["rows"]
    write_bar_chart(
        path,
        f"Stored duplicates ({doc['facts']} facts x {doc['repeats']}, {doc['embedder']})",
        [str(r["threshold"]) for r in rows],
        {
            "before reflect": [r["duplicates_before"] for r in rows],
            "after reflect": [r["duplicates_after"] for r in rows],
        },
        "share of stored memories that repeat a fact",
    )
