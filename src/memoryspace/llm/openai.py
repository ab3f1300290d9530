"""Chat completions from any OpenAI-compatible server over httpx.

OpenAI, vLLM, Ollama, llama.cpp server and LM Studio all serve ``POST /v1/chat/completions``.
Structured output asks for ``response_format={"type": "json_schema", ...}`` first; a server that
rejects it (400 naming ``response_format``) is remembered, and from then on the schema goes into
a system message and the reply is repaired and validated here, with the validation error quoted
back to the model up to ``max_repairs`` times. Transient failures (timeouts, 429, 5xx) are retried
with backoff honouring ``Retry-After``. Every failure raises a typed error whose message is for
logs: callers fall back to the offline processors and never store it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from memoryspace.errors import InvalidInput, LLMError, MemorySpaceError, Unauthorized
from memoryspace.http import RetryPolicy, api_message, send_with_retries
from memoryspace.llm.base import (
    LLM,
    Completion,
    LLMStats,
    Message,
    Schema,
    StatsCounter,
    Usage,
    normalize_messages,
)
from memoryspace.llm.jsonout import (
    as_json_schema,
    complete_with_repairs,
    schema_instructions,
    schema_name,
)

if TYPE_CHECKING:  # httpx is imported on first use, as in memoryspace.embed.openai
    import httpx

log = logging.getLogger("memoryspace.llm")

ENV_URL = "MEMORYSPACE_LLM_URL"
ENV_MODEL = "MEMORYSPACE_LLM_MODEL"
ENV_API_KEY = "MEMORYSPACE_LLM_API_KEY"


class _FormatRejected(Exception):
    """The server refused ``response_format``: fall back to instructions + repair."""


def chat_url(base_url: str) -> str:
    """``{base}/v1/chat/completions`` from a base URL with or without ``/v1`` or the route."""
    base = base_url.strip().rstrip("/").removesuffix("/chat/completions")
    if not urlsplit(base).path:
        base += "/v1"
    return base + "/chat/completions"


class OpenAICompatibleLLM:
    """An ``LLM`` backed by ``POST {base_url}/chat/completions``.

    ``api_key`` defaults to ``OPENAI_API_KEY`` (local servers need none). At most ``concurrency``
    requests are in flight at once across threads. ``json_schema=False`` never sends
    ``response_format`` (for servers that mishandle it); otherwise it is tried and dropped if the
    server rejects it. ``sleep`` waits between retries and is
    injectable so tests need not wait.

    Raises:
        InvalidInput: an argument is out of range (at construction).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        concurrency: int = 4,
        max_repairs: int = 2,
        json_schema: bool | None = None,
        backoff: float = 0.5,
        max_backoff: float = 20.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not isinstance(model, str) or not model:
            raise InvalidInput("model must be a non-empty string, e.g. 'gpt-4o-mini' or 'llama3.2'")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise InvalidInput(f"base_url must be an http(s) URL, got {base_url!r}")
        if timeout <= 0 or concurrency < 1 or max_repairs < 0:
            raise InvalidInput("timeout must be > 0, concurrency >= 1 and max_repairs >= 0")
        self._model = model
        self._url = chat_url(base_url)
        self._policy = RetryPolicy(max_retries, backoff, max_backoff, sleep)
        self._max_repairs = max_repairs
        self._schema_support = json_schema
        self._slots = threading.BoundedSemaphore(concurrency)
        self._stats = StatsCounter()
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        import httpx

        self._client = httpx.Client(headers=headers, timeout=timeout)
        self._closed = False

    @property
    def model_id(self) -> str:
        """``openai:{model}``."""
        return f"openai:{self._model}"

    @property
    def url(self) -> str:
        """The chat-completions endpoint requests go to."""
        return self._url

    @property
    def supports_json_schema(self) -> bool | None:
        """Whether the server honours ``response_format`` JSON schemas; ``None`` = not known yet."""
        return self._schema_support

    def usage(self) -> Usage:
        """Tokens reported by the server over every request so far."""
        return self._stats.usage()

    def stats(self) -> LLMStats:
        """Calls, failures, requests, retries, repairs and tokens so far."""
        return self._stats.snapshot()

    def complete(
        self,
        messages: Sequence[Message] | str,
        *,
        schema: Schema | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = None,
    ) -> Completion:
        """Answer the conversation; with ``schema``, validate the reply into ``parsed``.

        Raises:
            InvalidInput: malformed messages, temperature outside 0..2 or max_tokens < 1.
            Unauthorized: the server answers 401 or 403 (check the API key).
            LLMOutputError: the reply never validated against ``schema``, repairs included.
            LLMError: the server cannot be reached, timed out, rejected the request, answered
                nonsense or kept failing after the retries; or this client is closed.
        """
        conversation = normalize_messages(messages)
        if not 0.0 <= temperature <= 2.0:
            raise InvalidInput(f"temperature must be within 0..2, got {temperature}")
        if max_tokens is not None and max_tokens < 1:
            raise InvalidInput(f"max_tokens must be >= 1 or None, got {max_tokens}")
        if self._closed:
            raise LLMError("this OpenAICompatibleLLM is closed; create a new one")
        self._stats.add(calls=1)
        try:
            return self._complete(conversation, schema, temperature, max_tokens)
        except MemorySpaceError:
            self._stats.add(failures=1)
            raise

    def close(self) -> None:
        """Close the HTTP connections; later calls raise ``LLMError``."""
        self._closed = True
        self._client.close()

    def __enter__(self) -> OpenAICompatibleLLM:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _complete(
        self,
        conversation: list[dict[str, str]],
        schema: Schema | None,
        temperature: float,
        max_tokens: int | None,
    ) -> Completion:
        body: dict[str, Any] = {"model": self._model, "temperature": temperature}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens

        def exchange(messages: list[dict[str, str]]) -> tuple[str, Usage, str, str | None, int]:
            payload, sent = self._chat(body, messages, schema)
            text, usage, model, finish = _read_choice(payload, self._url)
            self._stats.add_usage(usage)
            return text, usage, model, finish, sent

        return complete_with_repairs(
            exchange,
            conversation,
            schema,
            max_repairs=self._max_repairs,
            on_repair=lambda: self._stats.add(repairs=1),
        )

    def _chat(
        self, body: dict[str, Any], conversation: list[dict[str, str]], schema: Schema | None
    ) -> tuple[dict[str, Any], int]:
        """One exchange: with ``response_format`` while the server may support it, else with the
        schema in a system message. Returns the payload and how many requests it took."""
        if schema is None:
            return self._post({**body, "messages": conversation}), 1
        rejected = 0
        if self._schema_support is not False:
            response_format = {
                "type": "json_schema",
                "json_schema": {
                    "name": schema_name(schema),
                    "schema": as_json_schema(schema),
                    "strict": False,
                },
            }
            try:
                payload = self._post({**body, "messages": conversation}, response_format)
            except _FormatRejected:
                log.info("%s rejects response_format; repairing JSON replies instead", self._url)
                self._schema_support, rejected = False, 1
            else:
                self._schema_support = True
                return payload, 1
        instructed = [{"role": "system", "content": schema_instructions(schema)}, *conversation]
        return self._post({**body, "messages": instructed}), rejected + 1

    def _post(
        self, body: dict[str, Any], response_format: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """POST with retries; the decoded JSON of the 2xx reply."""
        if response_format is not None:
            body = {**body, "response_format": response_format}

        def send() -> httpx.Response:
            self._stats.add(requests=1)
            with self._slots:
                return self._client.post(self._url, json=body)

        response = send_with_retries(
            send,
            target=self._url,
            policy=self._policy,
            error=LLMError,
            on_retry=lambda problem: self._stats.add(retries=1),
        )
        status = response.status_code
        if status < 300:
            try:
                payload = response.json()
            except ValueError as exc:
                raise LLMError(f"{self._url} replied with invalid JSON") from exc
            if not isinstance(payload, dict):
                raise LLMError(f"{self._url} replied with a JSON {type(payload).__name__}")
            return payload
        message = api_message(response)
        if status in (401, 403):
            raise Unauthorized(
                f"{self._url} refused the API key ({status}: {message}); pass api_key= or "
                f"set {ENV_API_KEY} / OPENAI_API_KEY"
            )
        lowered = message.lower()
        if (
            response_format is not None
            and status in (400, 422)
            and ("response_format" in lowered or "json_schema" in lowered)
        ):
            raise _FormatRejected(message)
        if status in (400, 413, 422):
            raise LLMError(f"{self._url} rejected the request ({status}): {message}")
        raise LLMError(f"{self._url} answered {status} ({message}); check base_url and model")


def _read_choice(payload: dict[str, Any], url: str) -> tuple[str, Usage, str, str | None]:
    """Text, usage, model and finish reason of the first choice.

    Raises:
        LLMError: the payload has no choice with a message.
    """
    choices = payload.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    message = first.get("message") if isinstance(first, dict) else None
    if not isinstance(message, dict):
        raise LLMError(f"{url} replied without choices[0].message")
    content = message.get("content")
    if isinstance(content, list):  # content parts, as some servers send
        content = "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    text = content if isinstance(content, str) else ""
    raw = payload.get("usage")
    usage = Usage()
    if isinstance(raw, dict):
        usage = Usage(_count(raw.get("prompt_tokens")), _count(raw.get("completion_tokens")))
    finish = first.get("finish_reason") if isinstance(first, dict) else None
    return text, usage, str(payload.get("model", "")), finish if isinstance(finish, str) else None


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def llm_from_env(environ: Mapping[str, str] | None = None, **options: Any) -> LLM | None:
    """The configured LLM, or ``None`` to work offline (the default).

    ``MEMORYSPACE_LLM_URL`` turns it on; ``MEMORYSPACE_LLM_MODEL`` names the model;
    ``MEMORYSPACE_LLM_API_KEY`` (else ``OPENAI_API_KEY``) is the key. ``options`` go to
    ``OpenAICompatibleLLM``.

    Raises:
        InvalidInput: the URL is set but the model is not, or a value is malformed.
    """
    env = os.environ if environ is None else environ
    url = env.get(ENV_URL, "").strip()
    if not url:
        return None
    model = env.get(ENV_MODEL, "").strip()
    if not model:
        raise InvalidInput(f"{ENV_URL} is set but {ENV_MODEL} is not; name the model to use")
    key = env.get(ENV_API_KEY) or env.get("OPENAI_API_KEY") or ""
    return OpenAICompatibleLLM(url, model, api_key=key, **options)
