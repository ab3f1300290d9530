"""Edit plans: applied in one transaction, re-validated group by group, undoable."""

from __future__ import annotations

from pathlib import Path

import pytest

from memoryspace import HashingEmbedder, MemorySpace
from memoryspace.errors import Conflict
from memoryspace.maintenance import Delete, EditGroup, EditPlan, Insert, Patch, apply_plan
from memoryspace.models import Link, LinkType, Memory


def test_a_plan_applies_its_groups_and_skips_those_whose_records_moved(tmp_path: Path) -> None:
    with MemorySpace.open(tmp_path / "p.db", embedder=HashingEmbedder()) as ms:
        a, b, c = (
            ms.add(text, id=id) for id, text in [("a", "alpha"), ("b", "bravo"), ("c", "charlie")]
        )
        merged = Memory(
            id="ab",
            content="alpha and bravo",
            kind="summary",
            links=(Link.to("a", LinkType.DERIVED_FROM), Link.to("b", LinkType.DERIVED_FROM)),
        )  # type: ignore[arg-type]
        plan = EditPlan(
            (
                EditGroup(
                    "merge",
                    (Insert(merged), Patch(a, {"valid_to": 5.0}), Patch(b, {"valid_to": 5.0})),
                    "same fact",
                ),
                EditGroup("delete", (Delete(c),), "stale"),
                EditGroup("close", (Patch(a, {"importance": 0.1}),), "a is changed by the merge"),
            )
        )
        ms.update("c", tags=["touched after planning"])
        lsn = ms.lsn
        applied = apply_plan(ms.store, plan, actor="test", embed=ms.embedder.embed)
        assert [g.action for g in applied.applied] == ["merge"]
        assert [g.action for g in applied.skipped] == ["delete", "close"]
        assert ms.get("c").tags == ("touched after planning",)
        assert ms.get("a").valid_to == 5.0 and ms.get("a").importance == 0.5
        assert ms.search("alpha and bravo", k=1)[0].memory.id == "ab"  # the insert was embedded
        assert {c.actor for c in ms.changes(lsn)} == {"test"}
        ms.restore(None, to_lsn=lsn)
        assert ms.get("a").valid_to is None and ms.count() == 3
        assert plan.describe()[0] == {
            "action": "merge",
            "reason": "same fact",
            "ids": ["a", "b"],
            "new": ["ab"],
        }


def test_a_failing_plan_changes_nothing(tmp_path: Path) -> None:
    with MemorySpace.open(tmp_path / "p.db", embedder=HashingEmbedder()) as ms:
        a = ms.add("alpha", id="a")
        clash = Memory(id="a", content="a second a")
        plan = EditPlan(
            (
                EditGroup("archive", (Patch(a, {"archived": True}),)),
                EditGroup("add", (Insert(clash),)),
            )
        )
        lsn = ms.lsn
        with pytest.raises(Conflict, match="exists"):
            apply_plan(ms.store, plan, actor="test", embed=ms.embedder.embed)
        assert ms.lsn == lsn and not ms.get("a").archived
