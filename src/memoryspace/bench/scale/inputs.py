"""What one size of the scale benchmark reads, laid out in a folder a child process opens.

The parent process builds the corpus and the vectors once; each measuring child (ours, LanceDB,
Chroma) reads only the first ``n`` texts and memory-maps the first ``n`` vectors, so its peak RSS
is the system's and the size's, not the whole corpus's.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from memoryspace.embed.base import Vectors


@dataclass(frozen=True, slots=True)
class SizeInputs:
    """The files of one size: texts one a line, a float32 vector file, the queries and theirs."""

    folder: Path
    n: int
    dimension: int
    vectors_path: str  # raw float32, at least n rows of dimension
    vectors_label: str  # e.g. "all-MiniLM-L6-v2" or "hashing (not MiniLM)"
    model_id: str  # the embedder whose vectors these are (the space is opened with it)
    queries: int

    def save(self) -> None:
        (self.folder / "inputs.json").write_text(json.dumps(asdict(self), default=str))

    @classmethod
    def load(cls, folder: Path) -> SizeInputs:
        doc = json.loads((folder / "inputs.json").read_text())
        doc["folder"] = Path(doc["folder"])
        return cls(**doc)

    def texts(self) -> list[str]:
        with (self.folder / "texts.txt").open(encoding="utf-8") as handle:
            return [next(handle).rstrip("\n") for _ in range(self.n)]

    def vectors(self) -> Vectors:
        return np.memmap(self.vectors_path, np.float32, mode="r", shape=(self.n, self.dimension))

    def query_texts(self) -> list[str]:
        return (self.folder / "queries.txt").read_text(encoding="utf-8").splitlines()

    def query_vectors(self) -> Vectors:
        return np.asarray(np.load(self.folder / "query_vectors.npy"), np.float32)


def write_inputs(
    folder: Path,
    texts: list[str],
    vectors_path: Path,
    vectors_label: str,
    model_id: str,
    queries: list[str],
    query_vectors: Vectors,
) -> SizeInputs:
    """Write the files ``SizeInputs`` reads (``texts`` in full; a size reads a prefix)."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "texts.txt").open("w", encoding="utf-8") as handle:
        for text in texts:
            handle.write(text + "\n")
    (folder / "queries.txt").write_text("\n".join(queries) + "\n", encoding="utf-8")
    np.save(folder / "query_vectors.npy", np.ascontiguousarray(query_vectors, np.float32))
    inputs = SizeInputs(
        folder=folder,
        n=len(texts),
        dimension=int(query_vectors.shape[1]),
        vectors_path=str(vectors_path),
        vectors_label=vectors_label,
        model_id=model_id,
        queries=len(queries),
    )
    inputs.save()
    return inputs
