"""The cache folder: the MiniLM graph is keyed by the weights' bytes and pruned to one copy."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from memoryspace.cachedir import cache_dir, cache_files, clear_cache, prune_graphs
from memoryspace.embed import MiniLMEmbedder, minilm_available
from memoryspace.embed.minilm import _weights_dir


def test_the_folder_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMORYSPACE_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.delenv("MEMORYSPACE_CACHE")
    assert cache_dir() == Path.home() / ".cache" / "memoryspace"


def test_prune_keeps_only_the_current_graph(tmp_path: Path) -> None:
    current = tmp_path / "minilm-l6-v2-g2-abc.onnx"
    stale = [tmp_path / "minilm-l6-v2-g2-90868376-1796174251146141696.onnx"]
    stale.append(tmp_path / "minilm-l6-v2-g1-def.onnx")
    other = tmp_path / "something-else.onnx"
    for path in [current, *stale, other]:
        path.write_bytes(b"graph")
    assert sorted(prune_graphs(tmp_path, keep=current)) == sorted(stale)
    assert sorted(tmp_path.iterdir()) == sorted([current, other])


def test_clear_on_a_missing_folder_is_a_no_op(tmp_path: Path) -> None:
    assert cache_files(tmp_path / "none") == []
    assert clear_cache(tmp_path / "none") == []


@pytest.mark.minilm
@pytest.mark.skipif(not minilm_available(), reason="the MiniLM weights are not installed")
def test_a_reinstall_of_the_same_weights_reuses_the_graph_and_old_copies_go(
    tmp_path: Path,
) -> None:
    installed = _weights_dir()
    assert installed is not None
    weights = tmp_path / "model"
    shutil.copytree(installed, weights)
    cache = tmp_path / "cache"
    cache.mkdir()
    old = cache / "minilm-l6-v2-g2-90868376-1796174251146141696.onnx"  # a size-and-mtime key
    old.write_bytes(b"an old copy")
    first = MiniLMEmbedder(cache_dir=cache, model_dir=weights)
    first.embed(["hello"])
    graph = first.onnx_path
    assert graph is not None and graph.parent == cache
    assert [p.name for p in cache.glob("*.onnx")] == [graph.name]
    built = graph.stat().st_mtime_ns
    # A reinstall writes the same bytes with a new mtime: the graph is found, not rebuilt.
    stamp = (weights / "model.safetensors").stat().st_mtime_ns + 10**9
    os.utime(weights / "model.safetensors", ns=(stamp, stamp))
    second = MiniLMEmbedder(cache_dir=cache, model_dir=weights)
    second.embed(["hello"])
    assert second.onnx_path == graph and graph.stat().st_mtime_ns == built
    assert [p.name for p in cache.glob("*.onnx")] == [graph.name]
