"""Hybrid search: dense vectors and BM25 full text, fused by reciprocal rank fusion."""

from __future__ import annotations

from dataclasses import dataclass

from memoryspace.embed.base import Embedder
from memoryspace.models import Filter, Memory, ScoreParts, SearchHit
from memoryspace.retrieval.fusion import reciprocal_rank_fusion
from memoryspace.retrieval.synced import SyncedIndex
from memoryspace.retrieval.terms import query_terms
from memoryspace.store.base import Store


@dataclass(frozen=True, slots=True)
class RetrievalConfig:
    candidates: int = 100
    rrf_k: float = 60.0
    dense_weight: float = 1.0
    sparse_weight: float = 1.0


class HybridRetriever:
    """Ranks memories for a query by dense similarity and BM25 together."""

    def __init__(
        self, store: Store, index: SyncedIndex, embedder: Embedder, config: RetrievalConfig
    ) -> None:
        self._store = store
        self._index = index
        self._embedder = embedder
        self._config = config

    def dense(self, query: str, n: int, flt: Filter, now: float) -> list[tuple[int, float]]:
        vector = self._embedder.embed([query])[0]
        allowed = None if _only_expiry(flt) else self._store.filter_keys(flt, now=now)
        keys, scores = self._index.search(vector, n, allowed=allowed)
        return [(int(k), float(s)) for k, s in zip(keys, scores, strict=True)]

    def sparse(self, query: str, n: int, flt: Filter, now: float) -> list[tuple[int, float]]:
        return self._store.text_search(query_terms(query), n, flt, now=now)

    def search(
        self, query: str, k: int, flt: Filter, now: float
    ) -> tuple[list[SearchHit], list[int]]:
        """The ``k`` best hits, each explaining its dense, sparse and fused scores, and their
        store keys."""
        n = max(self._config.candidates, k)
        # Dense search does not see expiry (it would cost a filter per query); expired
        # memories are dropped below, so ask for a few more.
        dense = self.dense(query, n + 8, flt, now)
        sparse = self.sparse(query, n, flt, now)
        fused = reciprocal_rank_fusion(
            [dense, sparse],
            [self._config.dense_weight, self._config.sparse_weight],
            k=self._config.rrf_k,
        )
        hits: list[SearchHit] = []
        keys: list[int] = []
        start = 0
        while len(hits) < k and start < len(fused):
            window = fused[start : start + k + 8]
            start += len(window)
            memories = self._store.get_by_keys([key for key, _, _ in window])
            for key, score, (d, s) in window:
                memory = memories.get(key)
                if memory is None or _expired(memory, now, flt):
                    continue
                parts = ScoreParts(
                    fused=score,
                    dense=None if d is None else d.score,
                    dense_rank=None if d is None else d.rank,
                    sparse=None if s is None else s.score,
                    sparse_rank=None if s is None else s.rank,
                )
                hits.append(SearchHit(memory=memory, score=score, parts=parts))
                keys.append(key)
                if len(hits) == k:
                    break
        return hits, keys


def _only_expiry(flt: Filter) -> bool:
    return flt.is_empty or flt == Filter(include_expired=True)


def _expired(memory: Memory, now: float, flt: Filter) -> bool:
    return not flt.include_expired and memory.expires_at is not None and memory.expires_at <= now
