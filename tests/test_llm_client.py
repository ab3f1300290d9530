"""OpenAICompatibleLLM against a real HTTP server on 127.0.0.1 speaking ``/v1/chat/completions``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import BaseModel

from chat_server import USAGE, FakeChat, Step, serve_chat
from memoryspace.errors import BackendUnavailable, InvalidInput, Unauthorized
from memoryspace.llm import (
    LLM,
    LLMError,
    LLMOutputError,
    OpenAICompatibleLLM,
    ScriptedLLM,
    Usage,
    llm_from_env,
)
from memoryspace.llm.jsonout import ReplyInvalid, extract_json, parse_reply


class Pet(BaseModel):
    name: str
    age: int


PET_JSON = '{"name": "Biscuit", "age": 3}'


@pytest.fixture
def api() -> Iterator[FakeChat]:
    with serve_chat() as fake:
        yield fake


@pytest.fixture
def sleeps() -> list[float]:
    return []


def client(api: FakeChat, sleeps: list[float], **kwargs: Any) -> OpenAICompatibleLLM:
    options: dict[str, Any] = {"api_key": "sk-test", "sleep": sleeps.append}
    options.update(kwargs)
    return OpenAICompatibleLLM(api.url, "test-model", **options)


def last_user_message(body: dict[str, Any]) -> str:
    return str([m for m in body["messages"] if m["role"] == "user"][-1]["content"])


def test_plain_completion_reports_usage(api: FakeChat, sleeps: list[float]) -> None:
    api.script = [Step(content="Hello, Maren.")]
    with client(api, sleeps) as llm:
        assert isinstance(llm, LLM)
        reply = llm.complete([{"role": "user", "content": "Say hello"}], max_tokens=20)
        assert llm.usage() == Usage(*USAGE)
        stats = llm.stats()
    assert reply.text == "Hello, Maren."
    assert reply.parsed is None
    assert reply.usage == Usage(*USAGE)
    assert (reply.model, reply.finish_reason, reply.requests) == ("test-model", "stop", 1)
    (request,) = api.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer sk-test"
    assert request["body"] == {
        "model": "test-model",
        "temperature": 0.0,
        "max_tokens": 20,
        "messages": [{"role": "user", "content": "Say hello"}],
    }
    assert (stats.calls, stats.failures, stats.requests, stats.retries) == (1, 0, 1, 0)
    assert (stats.prompt_tokens, stats.completion_tokens) == USAGE
    assert sleeps == []


def test_a_string_is_one_user_message(api: FakeChat, sleeps: list[float]) -> None:
    with client(api, sleeps) as llm:
        llm.complete("hi")
    assert api.requests[0]["body"]["messages"] == [{"role": "user", "content": "hi"}]


def test_json_schema_reply_is_parsed_into_the_model(api: FakeChat, sleeps: list[float]) -> None:
    api.script = [Step(content=PET_JSON)]
    with client(api, sleeps) as llm:
        reply = llm.complete("Describe the dog", schema=Pet)
        assert llm.supports_json_schema is True
    assert reply.parsed == Pet(name="Biscuit", age=3)
    response_format = api.requests[0]["body"]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Pet"
    assert set(response_format["json_schema"]["schema"]["properties"]) == {"name", "age"}


def test_a_plain_json_schema_dict_is_checked(api: FakeChat, sleeps: list[float]) -> None:
    schema = {
        "title": "Tags",
        "type": "object",
        "properties": {"tags": {"type": "array"}},
        "required": ["tags"],
    }
    api.script = [Step(content='{"labels": []}'), Step(content='{"tags": ["a", "b"]}')]
    with client(api, sleeps) as llm:
        reply = llm.complete("Tag it", schema=schema)
    assert reply.parsed == {"tags": ["a", "b"]}
    assert "missing required field(s): tags" in last_user_message(api.bodies()[1])


def test_server_without_response_format_gets_instructions_and_repair(
    api: FakeChat, sleeps: list[float]
) -> None:
    api.script = [
        Step("status", status=400, message="Unrecognized request argument: response_format"),
        Step(content='Here you go:\n```json\n{"name": "Biscuit", "age": 3,}\n```'),
        Step(content=PET_JSON),
    ]
    with client(api, sleeps) as llm:
        first = llm.complete("Describe the dog", schema=Pet)
        assert llm.supports_json_schema is False
        second = llm.complete("Again", schema=Pet)
        stats = llm.stats()
    assert first.parsed == second.parsed == Pet(name="Biscuit", age=3)
    assert first.requests == 2  # the rejected request, then the instructed one
    rejected, instructed, later = api.bodies()
    assert "response_format" in rejected
    assert "response_format" not in instructed and "response_format" not in later
    system = instructed["messages"][0]
    assert system["role"] == "system" and "JSON Schema" in system["content"]
    assert '"age"' in system["content"]
    assert (stats.calls, stats.requests, stats.failures, stats.repairs) == (2, 3, 0, 0)


def test_invalid_replies_are_retried_with_the_error_quoted(
    api: FakeChat, sleeps: list[float]
) -> None:
    api.script = [
        Step(content="Sure! {name: Biscuit"),
        Step(content='{"name": "Biscuit", "age": "three"}'),
        Step(content=PET_JSON),
    ]
    with client(api, sleeps, json_schema=False, max_repairs=2) as llm:
        reply = llm.complete("Describe the dog", schema=Pet)
        stats = llm.stats()
    assert reply.parsed == Pet(name="Biscuit", age=3)
    assert reply.requests == 3
    assert reply.usage == Usage(3 * USAGE[0], 3 * USAGE[1])
    bodies = api.bodies()
    assert all("response_format" not in body for body in bodies)
    assert "not valid JSON" in last_user_message(bodies[1])
    assert bodies[1]["messages"][-2] == {"role": "assistant", "content": "Sure! {name: Biscuit"}
    quoted = last_user_message(bodies[2])
    assert "age" in quoted and "valid integer" in quoted
    assert stats.repairs == 2


def test_replies_that_never_validate_raise_output_error(api: FakeChat, sleeps: list[float]) -> None:
    api.respond = lambda body: "I cannot answer that in JSON."
    with client(api, sleeps, json_schema=False, max_repairs=1) as llm:
        with pytest.raises(LLMOutputError, match="no valid Pet JSON in 2 replies") as caught:
            llm.complete("Describe the dog", schema=Pet)
        stats = llm.stats()
    assert isinstance(caught.value, BackendUnavailable)
    assert (stats.calls, stats.failures, stats.requests, stats.repairs) == (1, 1, 2, 1)


def test_429_waits_as_asked_then_succeeds(api: FakeChat, sleeps: list[float]) -> None:
    api.script = [Step("status", status=429, headers={"Retry-After": "7"}), Step(content="done")]
    with client(api, sleeps) as llm:
        assert llm.complete("go").text == "done"
        assert llm.stats().retries == 1
    assert sleeps == [7.0]


def test_500_is_retried_with_backoff(api: FakeChat, sleeps: list[float]) -> None:
    api.script = [Step("status", status=500), Step(content="done")]
    with client(api, sleeps, backoff=0.25) as llm:
        assert llm.complete("go").text == "done"
    assert sleeps == [0.25]
    assert len(api.requests) == 2


def test_persistent_500_raises_llm_error(api: FakeChat, sleeps: list[float]) -> None:
    api.script = [Step("status", status=500, message="model crashed")] * 5
    with client(api, sleeps, max_retries=2, backoff=1.0) as llm:
        with pytest.raises(LLMError, match=r"500 \(model crashed\).*after 3 attempts"):
            llm.complete("go")
        stats = llm.stats()
    assert (stats.calls, stats.failures, stats.requests, stats.retries) == (1, 1, 3, 2)
    assert sleeps == [1.0, 2.0]


def test_timeout_raises_llm_error(api: FakeChat, sleeps: list[float]) -> None:
    api.script = [Step("slow"), Step("slow")]
    with client(api, sleeps, timeout=0.05, max_retries=1) as llm:
        with pytest.raises(LLMError, match="timed out"):
            llm.complete("go")
        assert llm.stats().failures == 1
    assert len(api.requests) == 2


def test_401_is_unauthorized_without_retry(api: FakeChat, sleeps: list[float]) -> None:
    api.script = [Step("status", status=401, message="bad key")]
    with client(api, sleeps) as llm, pytest.raises(Unauthorized, match="MEMORYSPACE_LLM_API_KEY"):
        llm.complete("go")
    assert len(api.requests) == 1
    assert sleeps == []


def test_other_400_is_an_llm_error_and_keeps_json_schema(
    api: FakeChat, sleeps: list[float]
) -> None:
    api.script = [Step("status", status=400, message="context length exceeded")]
    with client(api, sleeps) as llm:
        with pytest.raises(LLMError, match=r"rejected the request.*context length"):
            llm.complete("go", schema=Pet)
        assert llm.supports_json_schema is None
    assert len(api.requests) == 1


def test_wrong_route_and_non_json_body_are_llm_errors(api: FakeChat, sleeps: list[float]) -> None:
    api.script = [Step("raw")]
    with client(api, sleeps) as llm, pytest.raises(LLMError, match="invalid JSON"):
        llm.complete("go")
    wrong = OpenAICompatibleLLM(api.url + "/extra", "m", sleep=sleeps.append)
    with wrong, pytest.raises(LLMError, match=r"404.*check base_url"):
        wrong.complete("go")


def test_unreachable_server_is_an_llm_error(sleeps: list[float]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # nothing listens on this port now
    llm = OpenAICompatibleLLM(f"http://127.0.0.1:{port}", "m", max_retries=1, sleep=sleeps.append)
    with llm, pytest.raises(LLMError, match=r"cannot connect.*2 attempts"):
        llm.complete("go")


def test_concurrency_bounds_requests_in_flight(api: FakeChat, sleeps: list[float]) -> None:
    api.script = [Step("hold", content=f"r{n}", hold=0.03) for n in range(6)]
    texts: list[str] = []
    with client(api, sleeps, concurrency=2) as llm:
        threads = [
            threading.Thread(target=lambda: texts.append(llm.complete("go").text)) for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(texts) == [f"r{n}" for n in range(6)]
    assert api.max_active == 2


def test_bad_arguments_send_nothing(api: FakeChat, sleeps: list[float]) -> None:
    with client(api, sleeps) as llm:
        with pytest.raises(InvalidInput, match="role"):
            llm.complete([{"role": "robot", "content": "x"}])
        with pytest.raises(InvalidInput, match="empty"):
            llm.complete([])
        with pytest.raises(InvalidInput, match="temperature"):
            llm.complete("x", temperature=3.0)
    assert api.requests == []
    with pytest.raises(InvalidInput, match="base_url"):
        OpenAICompatibleLLM("localhost:8080", "m")


def test_closed_client_refuses(api: FakeChat, sleeps: list[float]) -> None:
    llm = client(api, sleeps)
    llm.close()
    with pytest.raises(LLMError, match="closed"):
        llm.complete("go")


def test_llm_from_env(api: FakeChat, sleeps: list[float]) -> None:
    assert llm_from_env({}) is None
    assert llm_from_env({"MEMORYSPACE_LLM_URL": " "}) is None
    with pytest.raises(InvalidInput, match="MEMORYSPACE_LLM_MODEL"):
        llm_from_env({"MEMORYSPACE_LLM_URL": api.url})
    env = {
        "MEMORYSPACE_LLM_URL": api.url.removesuffix("/v1"),  # the /v1 is added
        "MEMORYSPACE_LLM_MODEL": "llama3.2",
        "MEMORYSPACE_LLM_API_KEY": "sk-memory",
        "OPENAI_API_KEY": "sk-openai",
    }
    llm = llm_from_env(env, sleep=sleeps.append)
    assert isinstance(llm, OpenAICompatibleLLM)
    with llm:
        assert llm.url == api.url + "/chat/completions"
        assert llm.model_id == "openai:llama3.2"
        llm.complete("go")
        fallback = llm_from_env({**env, "MEMORYSPACE_LLM_API_KEY": ""})
        assert isinstance(fallback, OpenAICompatibleLLM)
        with fallback:
            fallback.complete("go")
    assert [request["auth"] for request in api.requests] == ["Bearer sk-memory", "Bearer sk-openai"]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (PET_JSON, PET_JSON),
        ("```json\n" + PET_JSON + "\n```", PET_JSON),
        ("<think>the user wants {json}</think>\nAnswer: " + PET_JSON + " Hope it helps!", PET_JSON),
        ('{"name": "a}b", "age": 1} trailing {', '{"name": "a}b", "age": 1}'),
        ("no json here", "no json here"),
    ],
)
def test_extract_json(reply: str, expected: str) -> None:
    assert extract_json(reply) == expected


def test_parse_reply_repairs_what_it_safely_can() -> None:
    assert parse_reply('{"name": "B", "age": 2,}', Pet) == Pet(name="B", age=2)

    class Names(BaseModel):
        names: list[str]

    assert parse_reply('["a", "b"]', Names) == Names(names=["a", "b"])  # a bare list is wrapped
    prose = 'Here it is [as asked]: {"name": "B", "age": 2} [end]'
    assert parse_reply(prose, Pet) == Pet(name="B", age=2)
    with pytest.raises(ReplyInvalid, match="age: Field required"):
        parse_reply('{"name": "B"}', Pet)
    with pytest.raises(ReplyInvalid, match="empty"):
        parse_reply("   ", Pet)


def test_scripted_llm_is_an_honest_fake() -> None:
    fake = ScriptedLLM(["not json", PET_JSON, LLMError("down")])
    assert isinstance(fake, LLM)
    assert fake.complete("dog?", schema=Pet).parsed == Pet(name="Biscuit", age=3)
    with pytest.raises(LLMError, match="down"):
        fake.complete("again")
    with pytest.raises(LLMError, match="ran out"):
        fake.complete("more")
    stats = fake.stats()
    assert (stats.calls, stats.failures, stats.requests, stats.repairs) == (3, 2, 4, 1)
    assert stats.prompt_tokens > 0
    assert "not valid JSON" in json.dumps(fake.conversations[1])
