"""The ``mem0`` benchmark mode: the real ``mem0ai`` package in raw mode, offline.

    memoryspace bench locomo --data locomo.json --modes mem0

How it is set up, and why:

* ``Memory.add(..., infer=False)``: each turn is stored verbatim, one memory per message, and no
  LLM is called (the configured OpenAI LLM gets a dummy key and is never used).
* The embedder is ours (the same cached all-MiniLM-L6-v2 the other modes use), put in place of
  mem0's after construction through a small adapter with mem0's ``embed``/``embed_batch``.
* The vector store is Qdrant in local in-memory mode (``QdrantClient(":memory:")``), one
  collection (one ``Memory``) per scope, still searched with the ``user_id`` filter: local
  Qdrant checks payload filters in Python point by point, which over all 3.4k LoCoMo turns
  took ~0.3 s a query. The history database is SQLite in memory, ``MEM0_DIR`` is a temporary
  folder and telemetry is off (``MEM0_TELEMETRY=False``), so nothing leaves the process.
* ``search(..., threshold=0.0)`` so every mode returns the same number of candidates. Without
  spaCy and fastembed (whose models are downloaded at run time) mem0 scores by semantic
  similarity alone: its BM25 and entity boosts are off, as mem0 logs.
* mem0's OSS ``add`` refuses timestamps, so turns carry no dates.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from memoryspace.bench.modes import Record, RetrievalMode, record_ref
from memoryspace.embed.base import Embedder
from memoryspace.errors import ModeUnavailable

_INSTALL_HINT = "install the bench extra: pip install 'memoryspace[bench]'"


class _EmbedderForMem0:
    """Our ``Embedder`` behind mem0's embedding interface (``embed`` / ``embed_batch``)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed(
        self, text: str, memory_action: Literal["add", "search", "update"] | None = None
    ) -> list[float]:
        return [float(x) for x in self.embedder.embed([text])[0]]

    def embed_batch(self, texts: Sequence[str], memory_action: str = "add") -> list[list[float]]:
        return [[float(x) for x in row] for row in self.embedder.embed(list(texts))]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """mem0 may print; stdout belongs to the benchmark's table or JSON."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.simplefilter("ignore")
        yield


def _import_mem0(folder: str) -> Any:
    os.environ["MEM0_TELEMETRY"] = "False"  # read when mem0 is imported
    os.environ.setdefault("MEM0_DIR", folder)  # mem0 creates this folder on import
    try:
        with _quiet():
            return importlib.import_module("mem0")
    except ImportError as exc:
        raise ModeUnavailable(f"mem0ai is not installed ({exc}); {_INSTALL_HINT}") from None


class Mem0Mode(RetrievalMode):
    """mem0's ``Memory`` with ``infer=False``, our embedder and an in-memory Qdrant.

    Raises:
        ModeUnavailable: mem0ai or qdrant-client is missing, or mem0 fails to start offline.
    """

    name = "mem0"
    external = True

    def __init__(self, ref_key: str, embedder: Embedder) -> None:
        super().__init__(ref_key)
        self._embedder = embedder
        self._folder = tempfile.TemporaryDirectory(prefix="memoryspace-mem0-")
        self._mem0 = _import_mem0(self._folder.name)
        for noisy in ("mem0", "qdrant_client"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
        self._memories: dict[str, Any] = {}
        try:
            self._memory_for("")  # fail now, not halfway through a benchmark
        except ModeUnavailable:
            self._folder.cleanup()
            raise

    def _memory_for(self, scope: str) -> Any:
        """The mem0 ``Memory`` of one scope (one in-memory Qdrant collection each)."""
        memory = self._memories.get(scope)
        if memory is not None:
            return memory
        dimension = self._embedder.dimension
        try:
            qdrant = importlib.import_module("qdrant_client").QdrantClient(location=":memory:")
            config = {
                "vector_store": {
                    "provider": "qdrant",
                    "config": {
                        "client": qdrant,
                        "collection_name": "bench",
                        "embedding_model_dims": dimension,
                    },
                },
                "embedder": {
                    "provider": "openai",
                    "config": {"api_key": "sk-offline-never-used", "embedding_dims": dimension},
                },
                "llm": {"provider": "openai", "config": {"api_key": "sk-offline-never-used"}},
                "history_db_path": ":memory:",
            }
            with _quiet():
                memory = self._mem0.Memory.from_config(config)
        except Exception as exc:  # any failure to start is reported, never hidden
            raise ModeUnavailable(
                f"mem0 did not start offline: {type(exc).__name__}: {exc}"
            ) from None
        memory.embedding_model = _EmbedderForMem0(self._embedder)
        self._memories[scope] = memory
        return memory

    def ingest(self, records: Sequence[Record]) -> None:
        with _quiet():
            for record in records:
                message = {"role": "user", "content": str(record["content"])}
                scope = str(record["user"])
                self._memory_for(scope).add(
                    [message],
                    user_id=scope,
                    infer=False,
                    metadata={"ref": record_ref(record, self.ref_key)},
                )

    def rank(self, question: str, k: int, *, scope: str) -> list[str]:
        with _quiet():
            found = self._memory_for(scope).search(
                question, top_k=k, filters={"user_id": scope}, threshold=0.0
            )
        return [str(item["metadata"]["ref"]) for item in found["results"]]

    def close(self) -> None:
        for memory in self._memories.values():
            with contextlib.suppress(Exception):
                memory.vector_store.client.close()
        self._memories.clear()
        self._folder.cleanup()
