"""The native libraries MemorySpace loads must coexist in one process, in any order.

usearch 2.26 segfaulted when onnxruntime was imported after it: a space that grew past the HNSW
threshold and then embedded with MiniLM crashed. Each order runs in a fresh interpreter.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("onnxruntime", reason="needs the embed extra (onnxruntime)")


@pytest.mark.parametrize(
    "order", [("usearch.index", "onnxruntime"), ("onnxruntime", "usearch.index")]
)
def test_usearch_and_onnxruntime_load_in_either_order(order: tuple[str, str]) -> None:
    first, second = order
    result = subprocess.run(
        [sys.executable, "-c", f"import {first}; import {second}; print('ok')"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-500:]}"
    assert result.stdout.strip() == "ok"
