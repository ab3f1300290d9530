"""Error messages in the words of the command line.

The library's messages say what to do in Python ("pass overwrite=True", "checkpoints()"); at the
CLI boundary ``cli_message`` rewrites those hints into the flags and commands that do the same.
"""

from __future__ import annotations

import re

# (pattern, replacement), applied in order; each names a Python hint and its CLI equivalent.
_HINTS: tuple[tuple[str, str], ...] = (
    (r"pass overwrite=True", "pass --overwrite"),
    (r"list them with checkpoints\(\)", "list them with `memoryspace checkpoint`"),
    (r"pass name=None to replay the log from the start", "omit the name to replay the log"),
    (r"give to_lsn\b", "give --to-lsn"),
    (r"\bto_lsn=", "--to-lsn "),
    (
        r"call restore\(None, to_lsn=\.\.\.\) on the live space",
        "run `memoryspace restore --to-lsn N` on the database",
    ),
    (
        r"search or list memories to find ids",
        "find ids with `memoryspace search` or `memoryspace list`",
    ),
    (r"embedder='(\w+)' or '(\w+)'", r"--embedder \1 or --embedder \2"),
    (r"embedder='(\w+)'", r"--embedder \1"),
    (r"pass api_key= or set", "set MEMORYSPACE_LLM_API_KEY or"),
    (r"open it again with MemorySpace\.open\(\)", "run the command again"),
    (r"\bdry_run=True\b", "--dry-run"),
)
_COMPILED = tuple((re.compile(pattern), replacement) for pattern, replacement in _HINTS)


def cli_message(message: str) -> str:
    """``message`` with its Python hints replaced by CLI flags and commands."""
    for pattern, replacement in _COMPILED:
        message = pattern.sub(replacement, message)
    return message
