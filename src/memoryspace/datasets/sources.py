"""Where each evaluation data set comes from, and the error that says so when it is missing.

The data sets are not shipped (their licenses differ, and they are large): benchmarks read them
from a path. This project's developers have them under ``../shared/data``; everyone else
downloads them from the source named here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from memoryspace.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class DataSource:
    """A data set: its name, the file a benchmark expects and where that file comes from."""

    name: str
    expected: str
    origin: str
    shared: str  # the path under ../shared/data, for this project's developers


SOURCES: dict[str, DataSource] = {
    "locomo": DataSource(
        "LoCoMo",
        "locomo10.json (a JSON list of conversations with 'qa')",
        "https://github.com/snap-research/LoCoMo (data/locomo10.json, CC BY-NC 4.0)",
        "locomo/locomo_dev6.json",
    ),
    "hotpot": DataSource(
        "HotpotQA",
        "hotpot_dev_distractor_v1.json (HotpotQA JSON, or Hugging Face hotpot_qa rows)",
        "https://hotpotqa.github.io (dev set, distractor setting, CC BY-SA 4.0)",
        "hotpotqa/hotpot_dev_distractor_sample100.json",
    ),
    "longmemeval": DataSource(
        "LongMemEval",
        "longmemeval_s.json (or .json.gz), a JSON list of questions with haystack sessions",
        "https://github.com/xiaowu0162/LongMemEval (Hugging Face xiaowu0162/longmemeval, MIT)",
        "longmemeval/longmemeval_s_dev.json.gz",
    ),
    "memorybank": DataSource(
        "MemoryBank",
        "memory_bank_en.json (the SiliconFriend English dialogues)",
        "https://github.com/zhongwanjun/MemoryBank-SiliconFriend (eval_data/en, MIT)",
        "memorybank/memory_bank_en.json",
    ),
    "text": DataSource(
        "a text corpus",
        "a plain-text file such as text8 or enwik8",
        "http://mattmahoney.net/dc/text8.zip or http://mattmahoney.net/dc/enwik8.zip",
        "text8/text8_prefix.txt",
    ),
}


def require_data(path: str | Path, dataset: str) -> Path:
    """``path`` as a ``Path`` when it is a file.

    Raises:
        InvalidInput: there is no file at ``path``; the message names the file expected and
            where it comes from.
    """
    source = SOURCES[dataset]
    found = Path(path)
    if found.is_file():
        return found
    problem = "is a folder, not a file" if found.is_dir() else "does not exist"
    raise InvalidInput(
        f"{found} {problem}: expected {source.name} data, {source.expected}, from "
        f"{source.origin}; pass its path with --data (this project's developers have it at "
        f"../shared/data/{source.shared})"
    )
