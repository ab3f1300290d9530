"""The context window: retrieved memories laid out in a token budget like objects on a heap.

``ContextWindow`` places records into slots (first, best, next or prefix fit), frees them into
holes, measures fragmentation and compacts; ``assemble_context`` renders a window into prompt
text or chat messages; ``prefix_stability`` measures how much of a prompt a server's prefix
cache can reuse; ``TiktokenCounter`` counts tokens exactly and offline.
"""

from memoryspace.context.allocators import (
    ALLOCATORS,
    Allocator,
    BestFit,
    FirstFit,
    FreeBlock,
    NextFit,
    PrefixFit,
)
from memoryspace.context.assemble import (
    AssembledContext,
    Block,
    assemble_context,
    render_memory,
)
from memoryspace.context.regions import Region, default_region, region_by_age
from memoryspace.context.stability import (
    cached_prefix_tokens,
    prefix_stability,
    text_prefix_stability,
)
from memoryspace.context.tokenizer import (
    TiktokenCounter,
    default_token_counter,
    seed_tiktoken_cache,
)
from memoryspace.context.window import (
    ContextWindow,
    Layout,
    Slot,
    WindowStats,
)
from memoryspace.errors import WindowFull

__all__ = [
    "ALLOCATORS",
    "Allocator",
    "AssembledContext",
    "BestFit",
    "Block",
    "ContextWindow",
    "FirstFit",
    "FreeBlock",
    "Layout",
    "NextFit",
    "PrefixFit",
    "Region",
    "Slot",
    "TiktokenCounter",
    "WindowFull",
    "WindowStats",
    "assemble_context",
    "cached_prefix_tokens",
    "default_region",
    "default_token_counter",
    "prefix_stability",
    "region_by_age",
    "render_memory",
    "seed_tiktoken_cache",
    "text_prefix_stability",
]
