"""Loaders for conversation and QA data sets (LoCoMo, HotpotQA, LongMemEval, ...)."""

from memoryspace.datasets.hotpot import HotpotQuestion, Paragraph, load_hotpot
from memoryspace.datasets.locomo import (
    Conversation,
    DialogueTurn,
    QAItem,
    load_locomo,
    parse_evidence,
    resolve_evidence,
)
from memoryspace.datasets.longmemeval import Haystack, LMEQuestion, load_longmemeval

__all__ = [
    "Conversation",
    "DialogueTurn",
    "Haystack",
    "HotpotQuestion",
    "LMEQuestion",
    "Paragraph",
    "QAItem",
    "load_hotpot",
    "load_locomo",
    "load_longmemeval",
    "parse_evidence",
    "resolve_evidence",
]
