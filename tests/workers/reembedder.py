"""A re-embedding for the crash test: prints "stalled" once the first batch is committed and
the second is being embedded, then blocks there until killed."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from memoryspace import HashingEmbedder, MemorySpace

path, batch = sys.argv[1], int(sys.argv[2])


class StallingEmbedder(HashingEmbedder):
    """The new embedder (seed 7); its third call (probe, batch 1, batch 2) never returns."""

    calls = 0

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        StallingEmbedder.calls += 1
        if StallingEmbedder.calls == 3:
            sys.stdout.write("stalled\n")
            sys.stdout.flush()
            threading.Event().wait()
        return super().embed(texts)


with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
    ms.reembed(StallingEmbedder(seed=7), batch=batch)
