"""What the API takes, as pydantic models: every request to the facade, typed and bounded.

The models check types (strictly: a string is never read as a number) and sizes; the facade
then checks meaning (a known kind, a time in range, ...) and raises ``InvalidInput``. Each
model's ``kwargs()`` is what the facade method takes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from memoryspace import validate

# Bounds of one request; the facade's own limits (Settings.max_content_chars, ...) still apply.
MAX_CONTENT_CHARS = 100_000
MAX_QUERY_CHARS = 10_000
MAX_K = 1_000
MAX_BATCH = 1_000
MAX_LIST = 10_000

Name = Annotated[str, Field(min_length=1, max_length=validate.MAX_NAME_CHARS)]
Time = Annotated[float, Field(ge=validate.MIN_TIME, le=validate.MAX_TIME)]
Lsn = Annotated[int, Field(ge=0, le=validate.MAX_LSN)]
Content = Annotated[str, Field(min_length=1, max_length=MAX_CONTENT_CHARS)]
Query = Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS)]
K = Annotated[int, Field(ge=1, le=MAX_K)]
Score = Annotated[float, Field(ge=0.0, le=1.0)]
MetaValue = str | int | float | bool | None


class Request(BaseModel):
    """Base of the request models: strict types, unknown fields refused, no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    def kwargs(self) -> dict[str, Any]:
        """The fields that were given, as the facade's keyword arguments."""
        return self.model_dump(exclude_unset=True)


class LinkIn(Request):
    id: Name
    type: str | None = None
    strong: bool | None = None


class FilterIn(Request):
    """Which memories a request may see (see ``models.Filter``); empty fields do not restrict."""

    user: Name | None = None
    agent: Name | None = None
    session: Name | None = None
    kind: str | list[str] | None = None
    tags: list[Name] | None = Field(default=None, max_length=100)
    since: Time | None = None
    until: Time | None = None
    valid_at: Time | None = None
    meta: dict[str, MetaValue] | None = Field(default=None, max_length=32)
    pinned: bool | None = None
    include_expired: bool = False
    include_archived: bool = False

    def filters(self) -> dict[str, Any]:
        """The filter keyword arguments that were given (``None`` values dropped)."""
        return {k: v for k, v in self.model_dump(exclude_unset=True).items() if v is not None}


class AddIn(Request):
    """One memory to store (``MemorySpace.add``'s fields)."""

    content: Content
    user: Name | None = None
    agent: Name | None = None
    session: Name | None = None
    kind: str = "turn"
    meta: dict[str, Any] | None = None
    tags: list[Name] | None = Field(default=None, max_length=1_000)
    links: list[Name | LinkIn] | None = Field(default=None, max_length=MAX_LIST)
    pinned: bool = False
    ttl: Annotated[float, Field(gt=0, le=validate.MAX_TIME)] | None = None
    timestamp: Time | None = None
    importance: Score | None = None
    id: Name | None = None
    valid_from: Time | None = None
    valid_to: Time | None = None
    vector: list[float] | None = Field(default=None, max_length=4_096)

    def item(self) -> dict[str, Any]:
        """The ``add_many`` item: the given fields, ``None`` values dropped."""
        out = {k: v for k, v in self.model_dump(exclude_unset=True).items() if v is not None}
        if "links" in out:
            out["links"] = [
                link if isinstance(link, str) else {k: v for k, v in link.items() if v is not None}
                for link in out["links"]
            ]
        return out


class AddManyIn(Request):
    """Several memories stored in one transaction, all or nothing."""

    items: list[AddIn] = Field(min_length=1, max_length=MAX_BATCH)
    dedupe: bool | None = None


class UpdateIn(Request):
    """Fields to change; only those named change. ``if_version`` makes it conditional."""

    content: Content | None = None
    kind: str | None = None
    meta: dict[str, Any] | None = None
    tags: list[Name] | None = Field(default=None, max_length=1_000)
    links: list[Name | LinkIn] | None = Field(default=None, max_length=MAX_LIST)
    importance: Score | None = None
    pinned: bool | None = None
    valid_from: Time | None = None
    valid_to: Time | None = None
    ttl: Annotated[float, Field(gt=0, le=validate.MAX_TIME)] | None = None
    user: Name | None = None
    agent: Name | None = None
    session: Name | None = None
    if_version: Lsn | None = None

    def fields(self) -> dict[str, Any]:
        """The fields to change (``if_version`` apart)."""
        out = self.model_dump(exclude_unset=True)
        out.pop("if_version", None)
        if out.get("links") is not None:
            out["links"] = [
                link if isinstance(link, str) else {k: v for k, v in link.items() if v is not None}
                for link in out["links"]
            ]
        return out


class SearchIn(FilterIn):
    """A hybrid search: the ``k`` best hits scoring at least ``min_score``."""

    query: Query
    k: K = 10
    min_score: Score | None = None

    def arguments(self) -> dict[str, Any]:
        return {"query": self.query, "k": self.k, "min_score": self.min_score, **self.filters()}

    def filters(self) -> dict[str, Any]:
        out = super().filters()
        for name in ("query", "k", "min_score"):
            out.pop(name, None)
        return out


class ContextIn(SearchIn):
    """A prompt-ready context within ``budget`` tokens."""

    k: K = 20
    budget: Annotated[int, Field(ge=1, le=1_000_000)] = 2_000
    format: Literal["text", "messages"] = "text"

    def filters(self) -> dict[str, Any]:
        out = super().filters()
        for name in ("budget", "format"):
            out.pop(name, None)
        return out


class ForgetIn(FilterIn):
    """Delete the top ``k`` hits of ``query`` (above ``min_score``), or what the filter selects
    (``all=True`` for a filter that does not narrow); ``dry_run`` only previews."""

    query: Query | None = None
    k: K = 1
    min_score: Score | None = None
    all: bool = False
    dry_run: bool = False

    def filters(self) -> dict[str, Any]:
        out = super().filters()
        for name in ("query", "k", "min_score", "all", "dry_run"):
            out.pop(name, None)
        return out


class DeleteIn(Request):
    ids: list[Name] = Field(min_length=1, max_length=MAX_LIST)


class CheckpointIn(Request):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
    overwrite: bool = False


class RestoreIn(Request):
    """A checkpoint's name, or ``to_lsn`` to replay the log up to."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")] | None = None
    to_lsn: Lsn | None = None


class GCIn(Request):
    """One garbage collection (see ``gc_options`` for how the options map)."""

    collector: Literal["generational", "mark_sweep", "ttl", "bounded"] = "generational"
    dry_run: bool = False
    major: bool = False
    idle_days: Annotated[float, Field(gt=0, le=1e6)] | None = None
    max_records: Annotated[int, Field(ge=0, le=validate.MAX_ROWS)] | None = None


class TurnIn(Request):
    """One exchange of a conversation."""

    user_text: Content
    agent_text: Annotated[str, Field(max_length=MAX_CONTENT_CHARS)] = ""
    timestamp: Time | None = None


class ConversationQueryIn(Request):
    """A query to a conversation's memory (``budget`` for a prompt)."""

    query: Query
    budget: Annotated[int, Field(ge=1, le=1_000_000)] = 2_000


class ReadIn(Request):
    """A text read through a fixed-size memory (``MemorySpace.read``), offline; ``store``
    saves the final memory as records of kind ``store_kind`` in the scope."""

    text: Annotated[str, Field(min_length=1, max_length=1_000_000)]
    question: Query | None = None
    chunk_tokens: Annotated[int, Field(ge=16, le=100_000)] = 2_048
    memory_tokens: Annotated[int, Field(ge=16, le=100_000)] = 1_024
    store: bool = False
    store_kind: Literal["working", "summary"] = "working"
    user: Name | None = None
    agent: Name | None = None
    session: Name | None = None

    def scope(self) -> dict[str, str | None]:
        return {"user": self.user, "agent": self.agent, "session": self.session}
