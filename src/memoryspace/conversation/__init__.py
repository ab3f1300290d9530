"""MemoryOS-style conversation memory: short-term pages, mid-term segments, long-term persona.

``MemorySpace.conversation(user=..., agent=...)`` returns a ``Conversation``; every level is made
of ordinary records of the space (pages are ``turn`` memories, segments ``summary`` memories, the
knowledge base ``fact`` memories and the profile a pinned ``persona`` memory), so history,
checkpoints, search and GC work on it unchanged.
"""

from memoryspace.conversation.conversation import Conversation
from memoryspace.conversation.profile import LongTermMemory
from memoryspace.conversation.segments import HeatWeights, Segment, fscore, heat, jaccard
from memoryspace.conversation.settings import ConversationSettings, Retrieval

__all__ = [
    "Conversation",
    "ConversationSettings",
    "HeatWeights",
    "LongTermMemory",
    "Retrieval",
    "Segment",
    "fscore",
    "heat",
    "jaccard",
]
