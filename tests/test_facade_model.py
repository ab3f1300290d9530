"""A stateful model test of the facade: two handles and a write-back writer share one file.

Hypothesis interleaves adds, edits, pins, deletes, garbage collections, checkpoints and
restores through handles ``a`` and ``b``, and importance edits through ``c``, a handle with a
write-back hot tier that flushes only when told. A plain dict models what the store holds;
``c``'s edits join it when ``c`` flushes, except for records deleted meanwhile (the store wins).
After every step the store must equal the model, and the other handle's search must find every
live record by its own word (so its vector and text indexes followed the log).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from memoryspace import HashingEmbedder, MemorySpace, Settings
from memoryspace.errors import Conflict, NotFound
from memoryspace.gc import ActionPolicy
from memoryspace.models import Filter

IDS = [f"r{n}" for n in range(3)]
Record = dict[str, Any]
ARCHIVE_ALL = ActionPolicy(by_kind={}, default="archive")
THRESHOLD = 0.6  # mark-sweep collects unpinned, unreachable records below this importance

ids = st.sampled_from(IDS)
handles = st.sampled_from(["a", "b"])


class FacadeModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="ms-model-"))
        path = self.folder / "model.db"
        self.spaces = {
            "a": MemorySpace.open(path, embedder=HashingEmbedder()),
            "b": MemorySpace.open(path, embedder=HashingEmbedder()),
        }
        write_back = Settings(hot_tier_records=64, hot_tier_write_policy="write_back")
        self.c = MemorySpace.open(path, embedder=HashingEmbedder(), settings=write_back)
        self.records: dict[str, Record] = {}
        self.pending: dict[str, float] = {}  # c's dirty importance edits
        self.resident: set[str] = set()  # records c holds in its tier
        self.checkpoints: dict[str, dict[str, Record]] = {}
        self.serial = 0

    def teardown(self) -> None:
        for space in [*self.spaces.values(), self.c]:
            space.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _word(self) -> str:
        self.serial += 1
        return f"word{self.serial}x"

    @initialize()
    def some_records(self) -> None:
        for id in IDS:
            self.add("a", id)

    @rule(handle=handles, id=ids)
    def add(self, handle: str, id: str) -> None:
        word = self._word()
        if id in self.records:
            with pytest.raises(Conflict):
                self.spaces[handle].add(f"note {word}", id=id)
            return
        self.spaces[handle].add(f"note {word}", id=id)
        self.records[id] = {
            "content": f"note {word}",
            "tags": (),
            "importance": 0.5,
            "pinned": False,
            "archived": False,
        }

    @rule(handle=handles, id=ids, content=st.booleans(), tags=st.booleans())
    def edit(self, handle: str, id: str, content: bool, tags: bool) -> None:
        fields: dict[str, Any] = {}
        if content:
            fields["content"] = f"edited {self._word()}"
        if tags:
            fields["tags"] = [f"t{self.serial}"]
        if id not in self.records:
            with pytest.raises(NotFound):
                self.spaces[handle].update(id, **fields)
            return
        self.spaces[handle].update(id, **fields)
        self.records[id].update({k: tuple(v) if k == "tags" else v for k, v in fields.items()})

    @rule(handle=handles, id=ids, pinned=st.booleans())
    def pin(self, handle: str, id: str, pinned: bool) -> None:
        space = self.spaces[handle]
        if id not in self.records:
            with pytest.raises(NotFound):
                space.pin(id) if pinned else space.unpin(id)
            return
        space.pin(id) if pinned else space.unpin(id)
        self.records[id]["pinned"] = pinned

    @rule(handle=handles, id=ids)
    def delete(self, handle: str, id: str) -> None:
        if id not in self.records:
            with pytest.raises(NotFound):
                self.spaces[handle].delete(id)
            return
        self.spaces[handle].delete(id)
        del self.records[id]

    @rule(id=ids, importance=st.sampled_from([0.1, 0.4, 0.9]))
    def write_back_edit(self, id: str, importance: float) -> None:
        if id not in self.records and id not in self.resident:
            with pytest.raises(NotFound):
                self.c.update(id, importance=importance)
            return
        self.c.update(id, importance=importance)
        self.pending[id] = importance
        self.resident.add(id)

    @rule()
    def flush(self) -> None:
        self.c.flush()
        for id, importance in self.pending.items():
            if id in self.records:  # a record deleted elsewhere stays deleted
                self.records[id]["importance"] = importance
            else:
                self.resident.discard(id)
        self.pending.clear()

    @rule(handle=handles)
    def collect(self, handle: str) -> None:
        space = self.spaces[handle]
        event = space.gc(
            "mark_sweep", cold_after=0, importance_threshold=THRESHOLD, policy=ARCHIVE_ALL
        )
        archived = {
            c.id for c in space.changes(event.lsn_before) if (c.actor or "").startswith("gc:")
        }
        for id in archived:
            record = self.records[id]
            assert (
                not record["pinned"] and record["importance"] < THRESHOLD and not record["archived"]
            )
            record["archived"] = True

    @rule(handle=handles, name=st.sampled_from(["cp0", "cp1"]))
    def checkpoint(self, handle: str, name: str) -> None:
        self.spaces[handle].checkpoint(name, overwrite=True)
        self.checkpoints[name] = {id: dict(r) for id, r in self.records.items()}

    @rule(handle=handles, name=st.sampled_from(["cp0", "cp1"]))
    def restore(self, handle: str, name: str) -> None:
        if name not in self.checkpoints:
            with pytest.raises(NotFound):
                self.spaces[handle].restore(name)
            return
        self.spaces[handle].restore(name)
        self.records = {id: dict(r) for id, r in self.checkpoints[name].items()}

    @invariant()
    def the_store_holds_the_model(self) -> None:
        stored = {
            m.id: {
                "content": m.content,
                "tags": m.tags,
                "importance": m.importance,
                "pinned": m.pinned,
                "archived": m.archived,
            }
            for m in self.spaces["a"].store.scan(Filter(include_archived=True))
        }
        assert stored == self.records

    @precondition(lambda self: any(not r["archived"] for r in self.records.values()))
    @invariant()
    def the_other_handle_finds_every_live_record(self) -> None:
        for id, record in self.records.items():
            if record["archived"]:
                continue
            word = record["content"].split()[-1]
            hits = self.spaces["b"].search(word, k=1, touch=False)
            assert hits and hits[0].memory.id == id, (id, word)


FacadeModel.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
test_the_facade_follows_its_model = FacadeModel.TestCase
