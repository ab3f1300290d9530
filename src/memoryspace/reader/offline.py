"""``OfflinePolicy``: extractive, deterministic overwriting of the reader's memory, no model.

After each chunk the candidates are the sentences in memory plus the chunk's. With a question,
each candidate scores

    direct  = w_bm25 · BM25(question) + w_dense · cos(embedding, question)   (each scaled to 1)
    bridge  = over the names the candidate shares with *other* sentences in memory, the best
              product of that sentence's direct score and the name's rarity (IDF / max IDF)
    context = the best direct score of the sentences before it in its paragraph, decayed by
              ``context_decay`` per sentence ("He was born in 1950." after a relevant lead)
    score   = direct + w_bridge · bridge + w_context · context (+ ``incumbency`` if in memory)

so the bridge fact of a two-hop question survives: once "Film X was directed by John Smith" is
kept, "John Smith is an American director" shares its names and scores although it shares no word
with the question. Without a question the direct score is salience: the sentence's TF-IDF
centrality among the candidates. Candidates are then taken greedily by score minus
``redundancy`` times their highest cosine to a sentence already taken (maximal marginal
relevance), skipping near-duplicates and those that no longer fit the budget.

Every step works on one chunk plus the memory, a bounded number of sentences, so reading costs
the same per chunk at any input length.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from memoryspace.embed.base import Embedder
from memoryspace.embed.hashing import HashingEmbedder
from memoryspace.errors import InvalidInput
from memoryspace.llm.text import centrality
from memoryspace.reader.policy import Decision
from memoryspace.reader.scoring import bm25, entities, normalised, terms
from memoryspace.reader.stream import Chunk, Sentence

_DUPLICATE = 0.92  # cosine above which a candidate repeats one already taken


class OfflinePolicy:
    """The default policy (see the module docstring). ``embedder`` defaults to the hashing
    embedder; pass the space's to score with MiniLM. One instance can serve many reads, one at
    a time (it remembers the features of the sentences in memory).

    Raises:
        InvalidInput: a negative weight (at construction).
    """

    name = "offline"

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        bm25_weight: float = 1.0,
        dense_weight: float = 0.7,
        bridge_weight: float = 0.8,
        context_weight: float = 0.35,
        context_decay: float = 0.8,
        redundancy: float = 0.3,
        incumbency: float = 0.05,
    ) -> None:
        weights = (bm25_weight, dense_weight, bridge_weight, context_weight, redundancy)
        if min(weights) < 0 or not 0 <= context_decay <= 1 or incumbency < 0:
            raise InvalidInput("weights must be >= 0 and context_decay in [0, 1]")
        self.embedder = embedder if embedder is not None else HashingEmbedder()
        self.bm25_weight = bm25_weight
        self.dense_weight = dense_weight
        self.bridge_weight = bridge_weight
        self.context_weight = context_weight
        self.context_decay = context_decay
        self.redundancy = redundancy
        self.incumbency = incumbency
        # the memory's sentences: embedding, term bag and names, computed once
        self._features_of: dict[str, tuple[np.ndarray, Counter[str], frozenset[str]]] = {}
        self._question: tuple[str | None, np.ndarray | None] = (None, None)

    def overwrite(
        self, memory: Sequence[Sentence], chunk: Chunk, question: str | None, budget: int
    ) -> Decision:
        """The sentences to keep after ``chunk``, best first, within ``budget`` tokens."""
        held = {s.key for s in memory}
        self._features_of = {k: v for k, v in self._features_of.items() if k in held}
        seen = {" ".join(s.text.split()).lower() for s in memory}
        candidates = list(memory)
        for sentence in chunk.sentences:
            normal = " ".join(sentence.text.split()).lower()
            if normal not in seen:  # the same sentence read again adds nothing
                seen.add(normal)
                candidates.append(sentence)
        if not candidates:
            return Decision(())
        vectors, bags, names = self._features(candidates)
        if question:
            direct = self._relevance(question, bags, vectors)
        else:
            direct = normalised(centrality([s.text for s in candidates]))
        score = np.asarray(direct, dtype=np.float64)
        if question and self.bridge_weight:
            bridge = _bridge(candidates, names, direct, held)
            score += self.bridge_weight * np.asarray(bridge)
        if self.context_weight:
            score += self.context_weight * np.asarray(self._context(candidates, direct))
        score += self.incumbency * np.array([s.key in held for s in candidates], dtype=np.float64)
        chosen = self._select(candidates, score, vectors, budget)
        self._features_of = {candidates[i].key: (vectors[i], bags[i], names[i]) for i in chosen}
        return Decision(tuple(candidates[i] for i in chosen))

    def _features(
        self, candidates: Sequence[Sentence]
    ) -> tuple[np.ndarray, list[Counter[str]], list[frozenset[str]]]:
        """Embeddings, term bags and names of the candidates (the memory's are kept from the
        chunk that admitted them)."""
        known = dict(self._features_of)
        todo = [s for s in candidates if s.key not in known]
        if todo:
            fresh = self.embedder.embed([s.text for s in todo])
            for n, sentence in enumerate(todo):
                known[sentence.key] = (
                    fresh[n].copy(),
                    Counter(terms(sentence.text)),
                    entities(sentence.text),
                )
        rows = [known[s.key] for s in candidates]
        vectors = np.empty((len(rows), self.embedder.dimension), dtype=np.float32)
        for index, row in enumerate(rows):
            vectors[index] = row[0]
        return vectors, [row[1] for row in rows], [row[2] for row in rows]

    def _relevance(
        self, question: str, bags: Sequence[Counter[str]], vectors: np.ndarray
    ) -> list[float]:
        """Direct relevance to the question: BM25 and embedding cosine, each scaled to 1."""
        cached_question, cached_vector = self._question
        if cached_question != question or cached_vector is None:
            cached_vector = self.embedder.embed([question])[0]
            self._question = (question, cached_vector)
        query = {term: 1.0 for term in terms(question)}
        lexical = normalised(bm25(query, bags))
        dense = normalised(np.clip(vectors @ cached_vector, 0.0, None).tolist())
        total = self.bm25_weight + self.dense_weight or 1.0
        return [
            (self.bm25_weight * lex + self.dense_weight * den) / total
            for lex, den in zip(lexical, dense, strict=True)
        ]

    def _context(self, candidates: Sequence[Sentence], direct: Sequence[float]) -> list[float]:
        """The best direct score of the earlier sentences of each one's paragraph, decayed."""
        order = sorted(range(len(candidates)), key=lambda i: candidates[i].number)
        out = [0.0] * len(candidates)
        carried, paragraph, previous = 0.0, -1, -1
        for i in order:
            sentence = candidates[i]
            if sentence.paragraph != paragraph or sentence.number != previous + 1:
                carried = 0.0  # a new paragraph, or a gap: the sentence before is not here
            out[i] = carried
            carried = max(carried, direct[i]) * self.context_decay
            paragraph, previous = sentence.paragraph, sentence.number
        return out

    def _select(
        self, candidates: Sequence[Sentence], score: np.ndarray, vectors: np.ndarray, budget: int
    ) -> list[int]:
        """Maximal marginal relevance, packed into ``budget`` tokens (one more per sentence for
        the line break that separates it from the next)."""
        remaining = budget
        closest = np.zeros(len(candidates))
        open_ = np.ones(len(candidates), dtype=bool)
        sizes = np.array([s.tokens + 1 for s in candidates])
        chosen: list[int] = []
        while remaining > 0:
            open_ &= sizes <= remaining
            if not open_.any():
                break
            gain = np.where(open_, score - self.redundancy * closest, -np.inf)
            best = int(np.argmax(gain))
            open_[best] = False
            if closest[best] >= _DUPLICATE:
                continue
            chosen.append(best)
            remaining -= int(sizes[best])
            closest = np.maximum(closest, vectors @ vectors[best])
        return chosen


def _bridge(
    candidates: Sequence[Sentence],
    names: Sequence[frozenset[str]],
    direct: Sequence[float],
    held: set[str],
) -> list[float]:
    """How strongly each candidate continues what the memory holds: over the names it shares
    with *other* memory sentences, the best product of that sentence's direct relevance and the
    name's rarity among the candidates (its IDF over the largest IDF), so a name every
    candidate carries bridges nothing and a bridge is never stronger than its source."""
    sources: dict[str, list[tuple[float, int]]] = {}
    for i, sentence in enumerate(candidates):
        if sentence.key in held and direct[i] > 0:
            for name in names[i]:
                sources.setdefault(name, []).append((direct[i], i))
    if not sources:
        return [0.0] * len(candidates)
    n = len(candidates)
    frequency = Counter(name for found in names for name in found)
    top = math.log(1 + (n - 0.5) / 1.5)  # the IDF of a name only one candidate carries
    scores = []
    for i, found in enumerate(names):
        best = 0.0
        for name in found & sources.keys():
            weight = max((w for w, source in sources[name] if source != i), default=0.0)
            df = frequency[name]
            rarity = math.log(1 + (n - df + 0.5) / (df + 0.5)) / top
            best = max(best, weight * rarity)
        scores.append(best)
    return scores
