"""OpenAIEmbedder against a real HTTP server on 127.0.0.1 that speaks ``/v1/embeddings``."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from chat_server import QuietServer
from loopback import serve_http
from memoryspace.embed import Embedder, OpenAIEmbedder
from memoryspace.errors import BackendUnavailable, InvalidInput, Unauthorized

DIM = 8


def raw_vector(text: str, dimension: int = DIM) -> list[float]:
    """The fake model: a deterministic, deliberately unnormalised vector per text."""
    digest = hashlib.sha256(text.encode()).digest()
    return [(digest[i] - 127.5) / 10.0 for i in range(dimension)]


def unit(text: str) -> np.ndarray:
    vector = np.array(raw_vector(text), dtype=np.float64)
    return vector / np.linalg.norm(vector)


@dataclass
class Step:
    """What the server does with one request; requests beyond the script get ``ok``."""

    kind: str = "ok"  # ok | status | wrong_dim | nan | short | slow
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeAPI:
    url: str
    script: list[Step] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_step(self) -> Step:
        with self.lock:
            return self.script.pop(0) if self.script else Step()


def make_handler(api: FakeAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
            pass

        def reply(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with api.lock:
                api.requests.append(
                    {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
                )
            step = api.next_step()
            if self.path != "/v1/embeddings":
                self.reply(404, {"error": {"message": "no such route"}})
                return
            if step.kind == "slow":
                api.release.wait(timeout=10)  # the client gives up long before this
            if step.kind == "status":
                self.reply(
                    step.status, {"error": {"message": f"scripted {step.status}"}}, step.headers
                )
                return
            texts = body["input"]
            dimension = DIM + 1 if step.kind == "wrong_dim" else DIM
            vectors = [raw_vector(text, dimension) for text in texts]
            if step.kind == "nan":
                vectors[0][0] = float("nan")  # json.dumps writes NaN, as some servers do
            items = [
                {"object": "embedding", "index": i, "embedding": vector}
                for i, vector in enumerate(vectors)
            ]
            if step.kind == "short":
                items = items[:-1]
            items.reverse()  # real servers may answer out of order; the client sorts by index
            self.reply(200, {"object": "list", "data": items, "model": body["model"]})

    return Handler


@pytest.fixture
def api() -> Iterator[FakeAPI]:
    with serve_http(server_class=QuietServer) as (server, url):
        fake = FakeAPI(url=f"{url}/v1")
        server.RequestHandlerClass = make_handler(fake)
        try:
            yield fake
        finally:
            fake.release.set()


@pytest.fixture
def sleeps() -> list[float]:
    return []


def embedder(api: FakeAPI, sleeps: list[float], **kwargs: Any) -> OpenAIEmbedder:
    options: dict[str, Any] = {"base_url": api.url, "api_key": "sk-test", "sleep": sleeps.append}
    options.update(kwargs)
    return OpenAIEmbedder("text-embedding-test", **options)


def test_embeds_in_input_order_and_normalises(api: FakeAPI, sleeps: list[float]) -> None:
    texts = ["alpha", "beta", "gamma", "alpha"]
    with embedder(api, sleeps) as client:
        vectors = client.embed(texts)
        assert isinstance(client, Embedder)
        assert client.model_id == "openai:text-embedding-test"
        assert client.dimension == DIM
    assert vectors.dtype == np.float32
    assert vectors.shape == (4, DIM)
    for row, text in enumerate(texts):
        np.testing.assert_allclose(vectors[row], unit(text), rtol=1e-6)
    (request,) = api.requests
    assert request["path"] == "/v1/embeddings"
    assert request["auth"] == "Bearer sk-test"
    assert request["body"] == {"model": "text-embedding-test", "input": texts}
    assert sleeps == []


def test_batches_requests(api: FakeAPI, sleeps: list[float]) -> None:
    texts = [f"text {i}" for i in range(7)]
    with embedder(api, sleeps, batch_size=3) as client:
        vectors = client.embed(texts)
    assert [len(r["body"]["input"]) for r in api.requests] == [3, 3, 1]
    np.testing.assert_allclose(vectors[6], unit("text 6"), rtol=1e-6)


def test_api_key_from_environment(
    api: FakeAPI, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    with embedder(api, sleeps, api_key=None) as client:
        client.embed(["x"])
    assert api.requests[0]["auth"] == "Bearer sk-from-env"


def test_dimension_is_probed_when_unknown(api: FakeAPI, sleeps: list[float]) -> None:
    with embedder(api, sleeps) as client:
        assert client.dimension == DIM
        assert client.dimension == DIM
    assert len(api.requests) == 1


def test_empty_batch_sends_nothing(api: FakeAPI, sleeps: list[float]) -> None:
    with embedder(api, sleeps, dimension=DIM) as client:
        assert client.embed([]).shape == (0, DIM)
    assert api.requests == []


@pytest.mark.parametrize("status", [429, 500, 503])
def test_retries_a_transient_failure(api: FakeAPI, sleeps: list[float], status: int) -> None:
    api.script = [Step("status", status)]
    with embedder(api, sleeps, backoff=0.25) as client:
        vectors = client.embed(["retry me"])
    np.testing.assert_allclose(vectors[0], unit("retry me"), rtol=1e-6)
    assert len(api.requests) == 2
    assert sleeps == [0.25]


def test_respects_retry_after(api: FakeAPI, sleeps: list[float]) -> None:
    api.script = [Step("status", 429, {"Retry-After": "7"}), Step("status", 429)]
    with embedder(api, sleeps, backoff=0.5) as client:
        client.embed(["x"])
    assert sleeps == [7.0, 1.0]  # the server's wish, then plain exponential backoff


def test_persistent_5xx_becomes_backend_unavailable(api: FakeAPI, sleeps: list[float]) -> None:
    api.script = [Step("status", 500)] * 10
    with (
        embedder(api, sleeps, max_retries=3, backoff=1.0, max_backoff=3.0) as client,
        pytest.raises(BackendUnavailable, match=r"500.*after 4 attempts"),
    ):
        client.embed(["x"])
    assert len(api.requests) == 4
    assert sleeps == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_key_is_unauthorized_without_retry(
    api: FakeAPI, sleeps: list[float], status: int
) -> None:
    api.script = [Step("status", status)]
    with embedder(api, sleeps) as client, pytest.raises(Unauthorized, match="OPENAI_API_KEY"):
        client.embed(["x"])
    assert len(api.requests) == 1
    assert sleeps == []


def test_bad_request_is_invalid_input_without_retry(api: FakeAPI, sleeps: list[float]) -> None:
    api.script = [Step("status", 400)]
    with embedder(api, sleeps) as client, pytest.raises(InvalidInput, match="scripted 400"):
        client.embed(["x"])
    assert len(api.requests) == 1


def test_wrong_route_is_backend_unavailable(api: FakeAPI, sleeps: list[float]) -> None:
    with (
        embedder(api, sleeps, base_url=api.url.removesuffix("/v1")) as client,
        pytest.raises(BackendUnavailable, match=r"404.*base_url"),
    ):
        client.embed(["x"])


def test_wrong_dimension_is_invalid_input(api: FakeAPI, sleeps: list[float]) -> None:
    api.script = [Step("wrong_dim")]
    with (
        embedder(api, sleeps, dimension=DIM) as client,
        pytest.raises(InvalidInput, match=f"{DIM + 1}-dimensional"),
    ):
        client.embed(["x"])


def test_dimension_learned_then_enforced(api: FakeAPI, sleeps: list[float]) -> None:
    api.script = [Step(), Step("wrong_dim")]
    with embedder(api, sleeps) as client:
        client.embed(["first"])
        with pytest.raises(InvalidInput, match="expected 8"):
            client.embed(["second"])


def test_nan_is_invalid_input(api: FakeAPI, sleeps: list[float]) -> None:
    api.script = [Step("nan")]
    with embedder(api, sleeps) as client, pytest.raises(InvalidInput, match="NaN"):
        client.embed(["x", "y"])


def test_missing_rows_are_invalid_input(api: FakeAPI, sleeps: list[float]) -> None:
    api.script = [Step("short")]
    with embedder(api, sleeps) as client, pytest.raises(InvalidInput, match="1 embeddings for 2"):
        client.embed(["x", "y"])


def test_timeout_is_retried_then_unavailable(api: FakeAPI, sleeps: list[float]) -> None:
    api.script = [Step("slow"), Step("slow")]
    with (
        embedder(api, sleeps, timeout=0.05, max_retries=1) as client,
        pytest.raises(BackendUnavailable, match="timed out"),
    ):
        client.embed(["x"])
    assert len(api.requests) == 2
    assert len(sleeps) == 1


def test_timeout_then_success(api: FakeAPI, sleeps: list[float]) -> None:
    api.script = [Step("slow")]
    with embedder(api, sleeps, timeout=0.05, max_retries=2) as client:
        vectors = client.embed(["late"])
    np.testing.assert_allclose(vectors[0], unit("late"), rtol=1e-6)


def test_unreachable_server_is_backend_unavailable(sleeps: list[float]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # nothing listens on this port now
    client = OpenAIEmbedder(
        "m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=2, sleep=sleeps.append
    )
    with client, pytest.raises(BackendUnavailable, match=r"cannot connect.*3 attempts"):
        client.embed(["x"])
    assert len(sleeps) == 2


def test_closed_embedder_refuses(api: FakeAPI, sleeps: list[float]) -> None:
    client = embedder(api, sleeps)
    client.close()
    with pytest.raises(BackendUnavailable, match="closed"):
        client.embed(["x"])


def test_rejects_non_string_input(api: FakeAPI, sleeps: list[float]) -> None:
    with embedder(api, sleeps) as client, pytest.raises(InvalidInput, match="not str"):
        client.embed(["ok", 1])  # type: ignore[list-item]
    assert api.requests == []


def test_concurrent_calls_share_one_client(api: FakeAPI, sleeps: list[float]) -> None:
    results: dict[int, np.ndarray] = {}
    with embedder(api, sleeps) as client:

        def work(n: int) -> None:
            results[n] = client.embed([f"thread {n}"])[0]

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(results) == 8
    for n, vector in results.items():
        np.testing.assert_allclose(vector, unit(f"thread {n}"), rtol=1e-6)
