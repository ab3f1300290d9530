"""Maintenance jobs: planners (garbage collection, and later reflection) describe what they
want changed as an ``EditPlan``; ``apply_plan`` applies it in one logged transaction,
re-validating every record it touches, so a plan made from an earlier read never overwrites a
newer change. Undo any job with ``restore(None, to_lsn=<the LSN before it>)``."""

from memoryspace.maintenance.plan import (
    Applied,
    Delete,
    Edit,
    EditGroup,
    EditPlan,
    Insert,
    Patch,
    apply_plan,
)

__all__ = ["Applied", "Delete", "Edit", "EditGroup", "EditPlan", "Insert", "Patch", "apply_plan"]
