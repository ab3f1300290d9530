"""MemorySpace's embedding cache as an AgentScope ``EmbeddingCacheBase``.

AgentScope's ``FileEmbeddingCache`` keeps one sha256-named ``.npy`` file per request, bounded
by a file count and a size, oldest first out. ``MemorySpaceEmbeddingCache`` keeps the same
promise in MemorySpace's cache file (one SQLite file in WAL mode, safe across threads and
processes): bounded by ``max_entries`` and ``max_bytes``, least recently used first out.

A request from AgentScope's OpenAI-compatible embedding models (an identifier such as
``{"input": [texts], "model": "text-embedding-3-small", "encoding_format": "float"}``) is
stored text by text under the model id MemorySpace's own ``OpenAIEmbedder`` uses
(``openai:<model>``; other request options are appended to it). So a text embedded by either
side is a cache hit for the other, and a batch hits when every text in it is cached. Any other
identifier is stored whole under ``agentscope:identifier``. Vectors are stored as float32.

Sharing needs the two sides to send the same request: MemorySpace's ``OpenAIEmbedder`` sends no
``dimensions``, so build AgentScope's ``OpenAIEmbeddingModel`` with ``pass_dimensions=False``
(a request with ``dimensions`` is cached under its own key). MemorySpace keeps unit vectors;
OpenAI's embeddings are unit vectors already.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
from agentscope.embedding import EmbeddingCacheBase

from memoryspace.embed.cache import EmbeddingCache, default_cache_path
from memoryspace.errors import InvalidInput

_REQUEST_KEYS = {"input", "model", "encoding_format"}
_WHOLE = "agentscope:identifier"


class MemorySpaceEmbeddingCache(EmbeddingCacheBase):
    """An AgentScope embedding cache that shares its entries with MemorySpace's.

    ``cache`` is an open ``EmbeddingCache`` to share (e.g. the one behind a space's
    ``CachedEmbedder``); otherwise one is opened at ``path`` (default: MemorySpace's cache
    file) with the bounds given. ``model_prefix`` is prepended to the request's model name.

    Raises:
        InvalidInput: both ``cache`` and ``path`` are given, or a bound is not positive.
        BackendUnavailable: the cache file cannot be opened.
    """

    def __init__(
        self,
        cache: EmbeddingCache | None = None,
        *,
        path: str | Path | None = None,
        max_entries: int = 200_000,
        max_bytes: int = 512 * 1024 * 1024,
        model_prefix: str = "openai:",
    ) -> None:
        if cache is not None and path is not None:
            raise InvalidInput("pass an open cache or a path to open, not both")
        if cache is None:
            target = default_cache_path() if path is None else path
            cache = EmbeddingCache(target, max_entries=max_entries, max_bytes=max_bytes)
        self.cache = cache
        self.model_prefix = model_prefix

    def _split(self, identifier: Any) -> tuple[str, list[str]] | None:
        """(model id, texts) for an embedding request, None for any other identifier."""
        if not isinstance(identifier, dict):
            return None
        texts, model = identifier.get("input"), identifier.get("model")
        if not isinstance(model, str) or not isinstance(texts, list) or not texts:
            return None
        if not all(isinstance(text, str) for text in texts):
            return None
        options = {k: v for k, v in identifier.items() if k not in _REQUEST_KEYS}
        if identifier.get("encoding_format", "float") != "float":
            options["encoding_format"] = identifier["encoding_format"]
        model_id = self.model_prefix + model
        if options:
            model_id += "?" + json.dumps(options, sort_keys=True, ensure_ascii=False)
        return model_id, texts

    async def store(
        self,
        embeddings: list[Any],
        identifier: Any,
        overwrite: bool = False,
        **kwargs: Any,
    ) -> None:
        """Store the vectors of a request (kept as they are unless ``overwrite``).

        Raises:
            InvalidInput: the vectors are not one row of numbers per text.
        """
        await asyncio.to_thread(self._store, embeddings, identifier, overwrite)

    def _store(self, embeddings: list[Any], identifier: Any, overwrite: bool) -> None:
        try:
            array = np.asarray(embeddings, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"embeddings must be rows of numbers: {exc}") from exc
        if array.ndim != 2:
            raise InvalidInput(f"embeddings must be a list of vectors, got shape {array.shape}")
        split = self._split(identifier)
        if split is None:
            text = _whole_key(identifier)
            if overwrite or self.cache.get_many(_WHOLE, [text])[0] is None:
                flat = np.concatenate([[array.shape[0], array.shape[1]], array.ravel()])
                self.cache.put_many(_WHOLE, [text], flat[np.newaxis, :])
            return
        model_id, texts = split
        if array.shape[0] != len(texts):
            raise InvalidInput(f"{len(texts)} texts but {array.shape[0]} vectors")
        if not overwrite:
            cached = self.cache.get_many(model_id, texts)
            keep = [row for row, vector in enumerate(cached) if vector is None]
            texts, array = [texts[row] for row in keep], array[keep]
        if texts:
            self.cache.put_many(model_id, texts, array)

    async def retrieve(self, identifier: Any) -> list[Any] | None:
        """The request's vectors as lists of floats, or None unless every one is cached."""
        return await asyncio.to_thread(self._retrieve, identifier)

    def _retrieve(self, identifier: Any) -> list[Any] | None:
        split = self._split(identifier)
        if split is None:
            (flat,) = self.cache.get_many(_WHOLE, [_whole_key(identifier)])
            if flat is None:
                return None
            rows, width = int(flat[0]), int(flat[1])
            rows_out: list[Any] = flat[2:].reshape(rows, width).tolist()
            return rows_out
        model_id, texts = split
        vectors = self.cache.get_many(model_id, texts)
        if any(vector is None for vector in vectors):
            return None
        return [vector.tolist() for vector in vectors if vector is not None]

    async def remove(self, identifier: Any) -> None:
        """Forget a request's vectors.

        Raises:
            FileNotFoundError: nothing was cached for it (as ``FileEmbeddingCache`` raises).
        """
        split = self._split(identifier)
        if split is None:
            model_id, texts = _WHOLE, [_whole_key(identifier)]
        else:
            model_id, texts = split
        if not await asyncio.to_thread(self.cache.delete_many, model_id, texts):
            raise FileNotFoundError(f"no cached embeddings for {identifier!r}")

    async def clear(self) -> None:
        """Empty the cache file: every model's vectors, MemorySpace's included."""
        await asyncio.to_thread(self.cache.clear)


def _whole_key(identifier: Any) -> str:
    try:
        return json.dumps(identifier, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"an embedding cache identifier must be JSON: {exc}") from exc
