"""Embeddings from an OpenAI-compatible ``/embeddings`` endpoint over httpx.

Works with OpenAI and with servers that speak the same API (vLLM, Ollama, LiteLLM, ...). Failures
that may pass (429, 5xx, timeouts, dropped connections) are retried with exponential backoff,
honouring ``Retry-After``; what will not pass is raised at once as the matching MemorySpace error.
Every response is checked (count, order, dimension, finite values) before it is trusted.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

import numpy as np

from memoryspace.embed.base import Vectors
from memoryspace.errors import BackendUnavailable, InvalidInput, Unauthorized
from memoryspace.http import RetryPolicy, api_message, send_with_retries


class OpenAIEmbedder:
    """Embeds texts with a remote model through ``POST {base_url}/embeddings``.

    ``dimension`` is learned from the first response when not given (reading the property
    before any ``embed`` sends one short probe request). Inputs are sent ``batch_size`` at a time;
    results are re-ordered by their ``index`` and L2-normalised. ``sleep`` is the function used to
    wait between retries, injectable so tests need not wait.

    Raises:
        InvalidInput: an argument is out of range (at construction).
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str = "https://api.openai.com/v1",
        api_key: str | None = None,
        dimension: int | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        batch_size: int = 128,
        backoff: float = 0.5,
        max_backoff: float = 20.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import httpx  # here, not at the top: it costs ~90 ms at `import memoryspace`

        if not isinstance(model, str) or not model:
            raise InvalidInput("model must be a non-empty string, e.g. 'text-embedding-3-small'")
        if dimension is not None and (isinstance(dimension, bool) or dimension < 1):
            raise InvalidInput(f"dimension must be a positive int or None, got {dimension!r}")
        if batch_size < 1 or max_retries < 0 or timeout <= 0 or backoff < 0:
            raise InvalidInput(
                "batch_size must be >= 1, max_retries >= 0, timeout > 0 and backoff >= 0"
            )
        self._model = model
        self._dimension = dimension
        self._batch_size = batch_size
        self._retry = RetryPolicy(
            max_retries=max_retries, backoff=backoff, max_backoff=max_backoff, sleep=sleep
        )
        self._dimension_lock = threading.Lock()
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._url = base_url.rstrip("/") + "/embeddings"
        self._client = httpx.Client(headers=headers, timeout=timeout)
        self._closed = False

    @property
    def model_id(self) -> str:
        """``openai:{model}``."""
        return f"openai:{self._model}"

    @property
    def dimension(self) -> int:
        """Length of every vector; asks the server once if it was not given nor learned yet.

        Raises:
            BackendUnavailable, Unauthorized: as for ``embed`` when a probe is needed.
        """
        if self._dimension is None:
            self.embed(["dimension probe"])
        assert self._dimension is not None  # set by the first successful response
        return self._dimension

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Return one L2-normalised float32 row per text.

        Raises:
            InvalidInput: a text is not a string, the server rejects the input (400/413/422), or
                its reply has the wrong count, indices or dimension, or non-finite/zero vectors.
            Unauthorized: the server answers 401 or 403 (check ``api_key`` / OPENAI_API_KEY).
            BackendUnavailable: the server cannot be reached or keeps failing after the retries,
                or the embedder is closed.
        """
        if isinstance(texts, str):
            raise InvalidInput("embed() takes a sequence of strings; wrap a single text in a list")
        for row, text in enumerate(texts):
            if not isinstance(text, str):
                raise InvalidInput(f"texts[{row}] is {type(text).__name__}, not str")
        if self._closed:
            raise BackendUnavailable("this OpenAIEmbedder is closed; create a new one")
        batches = [
            self._embed_batch(list(texts[start : start + self._batch_size]))
            for start in range(0, len(texts), self._batch_size)
        ]
        if not batches:
            return np.zeros((0, self._dimension or 0), dtype=np.float32)
        return np.concatenate(batches, axis=0)

    def close(self) -> None:
        """Close the HTTP connections; later ``embed`` calls raise ``BackendUnavailable``."""
        self._closed = True
        self._client.close()

    def __enter__(self) -> OpenAIEmbedder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _embed_batch(self, texts: list[str]) -> Vectors:
        payload = self._post({"model": self._model, "input": texts})
        return self._parse(payload, len(texts))

    def _post(self, body: dict[str, Any]) -> Any:
        """POST with retries (see ``memoryspace.http``); the decoded JSON of the 2xx reply.

        Raises:
            Unauthorized: the key was refused. InvalidInput: the input or reply is bad.
            BackendUnavailable: the server failed or could not be reached, even after retries.
        """
        response = send_with_retries(
            lambda: self._client.post(self._url, json=body), target=self._url, policy=self._retry
        )
        status = response.status_code
        if status < 300:
            try:
                return response.json()
            except ValueError as exc:
                raise InvalidInput(f"{self._url} replied with invalid JSON") from exc
        message = api_message(response)
        if status in (401, 403):
            raise Unauthorized(
                f"{self._url} refused the API key ({status}: {message}); "
                "pass api_key= or set OPENAI_API_KEY"
            )
        if status in (400, 413, 422):
            raise InvalidInput(f"{self._url} rejected the input ({status}): {message}")
        raise BackendUnavailable(
            f"{self._url} answered {status} ({message}); check base_url and model"
        )

    def _parse(self, payload: Any, expected: int) -> Vectors:
        """Check the reply and turn it into an (expected, dimension) array of unit rows."""
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list) or len(data) != expected:
            got = len(data) if isinstance(data, list) else "no"
            raise InvalidInput(f"{self._url} returned {got} embeddings for {expected} inputs")
        try:
            ordered = sorted(data, key=lambda item: int(item["index"]))
            indices = [int(item["index"]) for item in ordered]
            matrix = np.array([item["embedding"] for item in ordered], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"{self._url} returned malformed embeddings: {exc!r}") from exc
        if indices != list(range(expected)):
            raise InvalidInput(f"{self._url} returned indices {indices}, not 0..{expected - 1}")
        if matrix.ndim != 2 or matrix.shape[1] == 0:
            raise InvalidInput(f"{self._url} returned embeddings of uneven or zero length")
        if not np.isfinite(matrix).all():
            raise InvalidInput(f"{self._url} returned NaN or infinite values")
        with self._dimension_lock:
            if self._dimension is None:
                self._dimension = int(matrix.shape[1])
        if matrix.shape[1] != self._dimension:
            raise InvalidInput(
                f"{self._url} returned {matrix.shape[1]}-dimensional vectors, expected "
                f"{self._dimension}; pass the model's real dimension"
            )
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        if (norms == 0).any():
            raise InvalidInput(f"{self._url} returned an all-zero vector")
        unit: Vectors = (matrix / norms).astype(np.float32)
        return unit
