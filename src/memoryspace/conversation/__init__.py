"""MemoryOS-style conversation memory: short-term pages, mid-term segments, long-term persona.

``MemorySpace.conversation(user=..., agent=...)`` returns a ``Conversation``; every level is made
of ordinary records of the space (pages are ``turn`` memories, segments ``summary`` memories, the
knowledge base ``fact`` memories and the profile a pinned ``persona`` memory), so history,
checkpoints, search and GC work on it unchanged. Where a page or segment is (short-term,
mid-term, archived) is typed state (``PageState``, ``SegmentState``; see ``state``). The package
uses a space only through ``memoryspace.structures.MemoryInterface``.
"""

from memoryspace.conversation.conversation import Conversation
from memoryspace.conversation.profile import LongTermMemory
from memoryspace.conversation.segments import HeatWeights, Segment, fscore, heat, jaccard
from memoryspace.conversation.settings import ConversationSettings, Retrieval
from memoryspace.conversation.state import LPMState, PageState, Place, SegmentState

__all__ = [
    "Conversation",
    "ConversationSettings",
    "HeatWeights",
    "LPMState",
    "LongTermMemory",
    "PageState",
    "Place",
    "Retrieval",
    "Segment",
    "SegmentState",
    "fscore",
    "heat",
    "jaccard",
]
