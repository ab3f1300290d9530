"""Structured output: a schema as JSON Schema, and a model's reply repaired and validated.

Servers that honour ``response_format`` return bare JSON; the others (and small local models)
wrap it in prose, code fences or ``<think>`` blocks, leave trailing commas, or answer a list where
an object was asked for. ``parse_reply`` undoes those habits, then validates with pydantic (or,
for a plain JSON-schema dict, checks the top-level type, the required keys and their basic
types). What still fails raises ``ReplyInvalid`` with a short message meant to be quoted back to
the model so it can correct itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from memoryspace.errors import LLMOutputError
from memoryspace.llm.base import Completion, Schema, Usage

_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


_MAX_ECHO = 4000  # characters of a bad reply quoted back to the model when asking for a repair

Exchange = Callable[[list[dict[str, str]]], tuple[str, Usage, str, str | None, int]]
"""Sends a conversation; returns text, usage, model, finish reason and the requests it took."""


class ReplyInvalid(ValueError):
    """The reply is not valid JSON for the schema; the message says why, briefly."""


def complete_with_repairs(
    exchange: Exchange,
    conversation: list[dict[str, str]],
    schema: Schema | None,
    *,
    max_repairs: int,
    on_repair: Callable[[], None] = lambda: None,
) -> Completion:
    """Run ``exchange`` until its reply validates against ``schema``, quoting each validation
    error back to the model, at most ``max_repairs`` times. Without a schema: one exchange.

    Raises:
        LLMOutputError: the last reply still did not validate.
        LLMError: (and whatever else ``exchange`` raises) as raised.
    """
    if schema is None:
        text, usage, model, finish, sent = exchange(conversation)
        return Completion(text, None, usage, model, finish, sent)
    total, requests, problem = Usage(), 0, ""
    for attempt in range(max_repairs + 1):
        text, usage, model, finish, sent = exchange(conversation)
        total, requests = total + usage, requests + sent
        try:
            parsed = parse_reply(text, schema)
        except ReplyInvalid as exc:
            problem = str(exc)
        else:
            return Completion(text, parsed, total, model, finish, requests)
        if attempt < max_repairs:
            on_repair()
            conversation = [
                *conversation,
                {"role": "assistant", "content": text[:_MAX_ECHO]},
                {
                    "role": "user",
                    "content": f"That reply could not be used: {problem}. "
                    "Reply again with only the corrected JSON object.",
                },
            ]
    raise LLMOutputError(
        f"no valid {schema_name(schema)} JSON in {max_repairs + 1} replies: {problem}"
    )


def schema_name(schema: Schema) -> str:
    """A name for ``response_format`` (letters, digits, ``_`` and ``-`` only)."""
    raw = schema.__name__ if isinstance(schema, type) else str(schema.get("title", "reply"))
    return re.sub(r"[^A-Za-z0-9_-]", "_", raw)[:64] or "reply"


def as_json_schema(schema: Schema) -> dict[str, Any]:
    """The JSON Schema of a pydantic model class, or the dict itself."""
    if isinstance(schema, type):
        return schema.model_json_schema()
    return schema


def schema_instructions(schema: Schema) -> str:
    """The system text that asks for JSON when ``response_format`` is not available."""
    text = json.dumps(as_json_schema(schema), separators=(",", ":"))
    return (
        "Reply with one JSON object only, with no prose and no code fences, "
        f"that validates against this JSON Schema:\n{text}"
    )


def extract_json(text: str) -> str:
    """The JSON value inside a reply: without ``<think>`` blocks and code fences, the outermost
    ``{...}`` (or ``[...]``) span. Returns the stripped text when there is no bracket at all."""
    text = _THINK.sub("", text).strip()
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1).strip()
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        return text
    start = min(starts)
    end = _matching_close(text, start)
    return text[start : end + 1] if end is not None else text[start:]


def _matching_close(text: str, start: int) -> int | None:
    """Index of the bracket closing ``text[start]``, skipping brackets inside strings."""
    depth = 0
    in_string = escaped = False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return index
    return None


def load_json(text: str) -> Any:
    """The first JSON value that can be read from a reply (see ``extract_json``), forgiving
    trailing commas; when prose before it holds brackets too, later candidates are tried.

    Raises:
        ReplyInvalid: no JSON value can be read.
    """
    first = extract_json(text)
    if not first:
        raise ReplyInvalid("the reply is empty; it must be a JSON object")
    problem: json.JSONDecodeError | None = None
    for candidate in [first, *_other_spans(text, first)]:
        for attempt in (candidate, _TRAILING_COMMA.sub(r"\1", candidate)):
            try:
                return json.loads(attempt)
            except json.JSONDecodeError as exc:
                problem = problem or exc
    assert problem is not None
    raise ReplyInvalid(f"the reply is not valid JSON ({problem.msg} at {problem.pos})")


def _other_spans(text: str, skip: str, limit: int = 8) -> list[str]:
    """Balanced ``{...}`` / ``[...]`` spans of ``text`` other than ``skip``, first ``limit``."""
    spans = []
    for match in re.finditer(r"[{\[]", text):
        end = _matching_close(text, match.start())
        span = text[match.start() : end + 1] if end is not None else ""
        if span and span != skip:
            spans.append(span)
            if len(spans) == limit:
                break
    return spans


def parse_reply(text: str, schema: Schema) -> Any:
    """Read and validate a reply: a model instance for a model class, the value for a dict.

    Raises:
        ReplyInvalid: not JSON, or JSON that does not match the schema.
    """
    value = load_json(text)
    if isinstance(schema, type):
        value = _wrap_bare_list(value, schema)
        try:
            return schema.model_validate(value)
        except ValidationError as exc:
            raise ReplyInvalid(_describe(exc)) from None
    _check_plain_schema(value, schema)
    return value


def _wrap_bare_list(value: Any, model: type[BaseModel]) -> Any:
    """``[...]`` for a model with one field: a model answering the list it was asked to wrap."""
    fields = list(model.model_fields)
    if isinstance(value, list) and len(fields) == 1:
        return {fields[0]: value}
    return value


def _describe(exc: ValidationError) -> str:
    """A pydantic error in a few lines: where and what, without echoing long inputs."""
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        problems.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(problems)
    suffix = f" (and {more} more)" if more > 0 else ""
    return "; ".join(problems) + suffix


def _check_plain_schema(value: Any, schema: dict[str, Any]) -> None:
    """The checks a JSON-schema dict gets without a validator: type, required keys, key types."""
    expected = schema.get("type")
    if isinstance(expected, str) and not _is_type(value, expected):
        raise ReplyInvalid(f"(top level): expected a JSON {expected}")
    if not isinstance(value, dict):
        return
    missing = [key for key in schema.get("required", ()) if key not in value]
    if missing:
        raise ReplyInvalid(f"missing required field(s): {', '.join(missing)}")
    for key, spec in (schema.get("properties") or {}).items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        if key in value and isinstance(kind, str) and not _is_type(value[key], kind):
            raise ReplyInvalid(f"{key}: expected a JSON {kind}")


def _is_type(value: Any, kind: str) -> bool:
    types = _JSON_TYPES.get(kind)
    if types is None:
        return True
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False
    return isinstance(value, types)
