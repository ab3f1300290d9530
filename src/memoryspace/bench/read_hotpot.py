"""Reader quality on long inputs, RULER-HotpotQA style: does the memory keep the evidence?

    memoryspace bench read-hotpot \\
        --data ../shared/data/hotpotqa/hotpot_dev_distractor_sample100.json \\
        --filler ../shared/data/enwik8/enwik8_prefix.xml --tokens 8000,32000,128000 \\
        [--memory-tokens 1024] [--chunk-tokens 2048] [--limit N] [--seed 1] \\
        [--methods reader,reader-no-bridge,truncation,sliding,bm25] [--embedder hashing] \\
        [--json] [--out DIR]

**Inputs.** For each question and each length, its own 10 paragraphs (2 gold, 8 distractors)
are mixed with paragraphs of the *other* questions (titles the question's own paragraphs use are
left out) drawn in a seeded random order, then, when those run out, with paragraphs of enwik8
articles (``--filler``), until the length is reached; then every paragraph is shuffled. Lengths
are cl100k tokens (when installed). Paragraphs are their sentences joined by spaces, one per
line, without titles. The 100-question sample holds about 1,250 tokens of paragraphs per
question, so 128k-token inputs need the filler; without it an input is as long as the pool
allows (the ``tokens`` column is the mean real length).

**Methods**, all with a memory of ``memory_tokens`` (default 1024):

- ``reader``: ``memoryspace.reader.read`` with the question and the offline policy;
- ``reader-no-bridge``: the same without entity bridging (``bridge_weight=0``), an ablation;
- ``truncation``: the first sentences of the input that fit;
- ``sliding``: the last sentences that fit (a sliding window at the end of the read);
- ``bm25``: the input cut into passages of at most 128 tokens (sentences of one paragraph),
  ranked by BM25 against the question (document frequencies over the input), the best that fit.

**Scores.** ``sf_recall``: the share of the supporting sentences found in the memory (a sentence
counts when each piece the reader's sentence splitter cuts it into appears in the memory text,
white space normalised, case folded), also per question type (``bridge``: two-hop questions
whose second paragraph is reached through an entity of the first; ``comparison``); ``sf_all``:
all of a question's supporting sentences found;
``answer_in_memory``: the gold answer appears in the memory, over the questions whose answer is
not "yes"/"no" (``answerable`` counts them).
"""

from __future__ import annotations

import itertools
import random
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from memoryspace.datasets.hotpot import HotpotQuestion, Paragraph
from memoryspace.errors import InvalidInput
from memoryspace.tokens import TokenCounter

METHODS = ("reader", "reader-no-bridge", "truncation", "sliding", "bm25")
PASSAGE_TOKENS = 128
_TEXT = re.compile(r"<text[^>]*>(.*?)</text>", re.DOTALL)
_MARKUP = re.compile(r"\[\[(?:[^|\]]*\|)?([^\]]*)\]\]|'{2,}|&[a-z]+;|<[^>]*>|\{\{[^}]*\}\}")


def filler_paragraphs(path: Path, *, min_words: int = 25) -> list[str]:
    """Prose paragraphs of the enwik8 articles in ``path``: lines of at least ``min_words``
    words, wiki links reduced to their text, templates, tags and entities removed.

    Raises:
        InvalidInput: the file cannot be read.
    """
    try:
        xml = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InvalidInput(f"cannot read the filler {path}: {exc}") from None
    out = []
    for article in _TEXT.findall(xml):
        for line in article.splitlines():
            if line.startswith(("{", "|", "!", "*", "#", "=", ":", "[[Category", "[[")):
                continue
            text = " ".join(_MARKUP.sub(lambda m: m.group(1) or " ", line).split())
            if len(text.split()) >= min_words:
                out.append(text)
    return out


def paragraph_text(paragraph: Paragraph) -> str:
    """A HotpotQA paragraph as one line: its sentences joined by spaces."""
    return " ".join(s.strip() for s in paragraph.sentences if s.strip())


def build_input(
    question: HotpotQuestion,
    pool: Sequence[Paragraph],
    filler: Sequence[str],
    target: int,
    count: Callable[[str], int],
    seed: int,
) -> list[str]:
    """The question's paragraphs among distractors, ``target`` tokens in all (or the pool)."""
    rng = random.Random(f"{seed}:{question.id}:{target}")
    own_titles = {p.title for p in question.paragraphs}
    texts = [paragraph_text(p) for p in question.paragraphs]
    used = sum(count(t) for t in texts)
    others = [p for p in pool if p.title not in own_titles]
    rng.shuffle(others)
    extra: Iterator[str] = (paragraph_text(p) for p in others)
    start = rng.randrange(len(filler)) if filler else 0
    fill = (filler[(start + i) % len(filler)] for i in range(len(filler)))
    for text in itertools.chain(extra, fill):
        if used >= target:
            break
        texts.append(text)
        used += count(text)
    rng.shuffle(texts)
    return texts


class Splitter:
    """Cuts text into the reader's sentences (same rules as the reader)."""

    def __init__(self, count: TokenCounter) -> None:
        self.count = count

    def sentences(self, text: str) -> list[tuple[str, int, int]]:
        """(text, tokens, paragraph) of each sentence of ``text``."""
        from memoryspace.reader.stream import SentenceStream

        stream = SentenceStream(self.count, 256)
        found = [*stream.feed(text), *stream.finish()]
        return [(s.text, s.tokens, s.paragraph) for s in found]


def _normal(text: str) -> str:
    return " ".join(text.split()).lower()


def score(
    memory: str, question: HotpotQuestion, splitter: Splitter
) -> tuple[float | None, bool, bool | None]:
    """(supporting-fact recall, all facts found, answer in memory or ``None`` for yes/no)."""
    normal = _normal(memory)
    sentences = {(p.title, n): s for p in question.paragraphs for n, s in enumerate(p.sentences)}
    gold = [sentences[f] for f in dict.fromkeys(question.supporting_facts) if f in sentences]
    found = [
        all(_normal(piece) in normal for piece, _, _ in splitter.sentences(sentence))
        for sentence in gold
    ]
    recall = sum(found) / len(found) if found else None
    answer = _normal(question.answer)
    contained = None if answer in ("yes", "no", "") else answer in normal
    return recall, bool(found) and all(found), contained


def _pack(sentences: Sequence[tuple[str, int, int]], budget: int) -> list[str]:
    kept, used = [], 0
    for text, tokens, _ in sentences:
        if used + tokens + 1 > budget + 1:
            break
        kept.append(text)
        used += tokens + 1
    return kept


def truncation(sentences: Sequence[tuple[str, int, int]], budget: int) -> str:
    """The first sentences that fit ``budget``."""
    return "\n".join(_pack(sentences, budget))


def sliding(sentences: Sequence[tuple[str, int, int]], budget: int) -> str:
    """The last sentences that fit ``budget``, in reading order."""
    return "\n".join(reversed(_pack(list(reversed(sentences)), budget)))


def bm25_passages(sentences: Sequence[tuple[str, int, int]], question: str, budget: int) -> str:
    """Passages of at most ``PASSAGE_TOKENS`` tokens ranked by BM25; the best that fit."""
    from memoryspace.reader.scoring import bm25, terms

    passages: list[list[tuple[str, int, int]]] = []
    size, paragraph = 0, None
    for sentence in sentences:
        _, tokens, number = sentence
        if not passages or number != paragraph or size + tokens > PASSAGE_TOKENS:
            passages.append([])
            size, paragraph = 0, number
        passages[-1].append(sentence)
        size += tokens
    bags = [Counter(t for text, _, _ in p for t in terms(text)) for p in passages]
    scores = bm25(dict.fromkeys(terms(question), 1.0), bags)
    kept, used = [], 0
    for index in sorted(range(len(passages)), key=lambda i: -scores[i]):
        need = sum(tokens + 1 for _, tokens, _ in passages[index])
        if used + need <= budget + 1:
            kept.append(index)
            used += need
    return "\n".join(text for i in sorted(kept) for text, _, _ in passages[i])


def run(
    questions: Sequence[HotpotQuestion],
    *,
    lengths: Sequence[int],
    memory_tokens: int = 1024,
    chunk_tokens: int = 2048,
    methods: Sequence[str] = METHODS,
    filler: Sequence[str] = (),
    embedder: str = "hashing",
    seed: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Score every method on every question at every length.

    Raises:
        InvalidInput: an unknown method or no questions.
    """
    from memoryspace.context.tokenizer import default_token_counter
    from memoryspace.embed.resolve import resolve_embedder
    from memoryspace.reader import OfflinePolicy, read

    unknown = [m for m in methods if m not in METHODS]
    if unknown or not questions:
        raise InvalidInput(f"methods must be among {', '.join(METHODS)} and questions non-empty")
    count = default_token_counter()
    model = resolve_embedder(embedder)
    splitter = Splitter(count)
    pool = list({p.title: p for q in questions for p in q.paragraphs}.values())
    cache: dict[str, int] = {}

    def counted(text: str) -> int:
        if text not in cache:
            cache[text] = count(text)
        return cache[text]

    rows = []
    for length in lengths:
        results: dict[str, list[tuple[float | None, bool, bool | None]]] = {m: [] for m in methods}
        seconds: dict[str, float] = dict.fromkeys(methods, 0.0)
        sizes = []
        label = f"{length:,} tokens"
        for done, question in enumerate(questions):
            if progress is not None:
                progress(label, done, len(questions))
            texts = build_input(question, pool, filler, length, counted, seed)
            sizes.append(sum(counted(t) for t in texts))
            whole = "\n".join(texts)
            sentences = splitter.sentences(whole)
            for method in methods:
                started = time.perf_counter()
                if method in ("reader", "reader-no-bridge"):
                    bridge = 0.0 if method == "reader-no-bridge" else 0.8
                    memory = read(
                        (t + "\n" for t in texts),
                        question.question,
                        chunk_tokens=chunk_tokens,
                        memory_tokens=memory_tokens,
                        policy=OfflinePolicy(model, bridge_weight=bridge),
                        count_tokens=count,
                    ).memory
                elif method == "truncation":
                    memory = truncation(sentences, memory_tokens)
                elif method == "sliding":
                    memory = sliding(sentences, memory_tokens)
                else:
                    memory = bm25_passages(sentences, question.question, memory_tokens)
                seconds[method] += time.perf_counter() - started
                results[method].append(score(memory, question, splitter))
        if progress is not None:
            progress(label, len(questions), len(questions))
        for method in methods:
            scored = results[method]
            recalls = [r for r, _, _ in scored if r is not None]
            answers = [a for _, _, a in scored if a is not None]
            by_type = {
                kind: [r for (r, _, _), q in zip(scored, questions, strict=True) if q.type == kind]
                for kind in ("bridge", "comparison")
            }
            rows.append(
                {
                    "length": length,
                    "tokens": round(statistics.fmean(sizes)),
                    "method": method,
                    "questions": len(scored),
                    "sf_recall": statistics.fmean(recalls) if recalls else 0.0,
                    **{
                        f"sf_recall_{kind}": statistics.fmean(
                            [r for r in values if r is not None] or [0.0]
                        )
                        for kind, values in by_type.items()
                    },
                    "sf_all": sum(a for _, a, _ in scored) / len(scored),
                    "answer_in_memory": sum(answers) / len(answers) if answers else 0.0,
                    "answerable": len(answers),
                    "ms_per_question": 1000 * seconds[method] / len(scored),
                }
            )
    return {
        "benchmark": "read-hotpot",
        "questions": len(questions),
        "memory_tokens": memory_tokens,
        "chunk_tokens": chunk_tokens,
        "embedder": model.model_id,
        "filler_paragraphs": len(filler),
        "seed": seed,
        "rows": rows,
    }


def plot(doc: dict[str, Any], path: Path) -> Path:
    """Supporting-fact recall against input length, one line per method.

    Raises:
        InvalidInput: no rows.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = doc["rows"]
    if not rows:
        raise InvalidInput("no benchmark rows to plot")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        axes.semilogx(
            [r["tokens"] for r in mine], [r["sf_recall"] for r in mine], "o-", label=method
        )
    axes.set_xlabel("input tokens")
    axes.set_ylabel("supporting-fact recall")
    axes.set_ylim(0, 1)
    axes.set_title(
        f"HotpotQA in long inputs, memory {doc['memory_tokens']} tokens "
        f"({doc['questions']} questions)"
    )
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
