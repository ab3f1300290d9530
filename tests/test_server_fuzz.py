"""Schemathesis against the served OpenAPI schema: every operation, valid and invalid inputs,
a bounded number of examples each. No answer may be a server error, and every answer must
match the schema (status code and body)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("schemathesis", reason="the fuzz test needs schemathesis (dev extra)")

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from memoryspace import MemorySpace
from server_fixtures import served

EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 10, schemathesis.GenerationMode.NEGATIVE: 6}
SKIPPED = {"/changes/stream"}  # an endless event stream; tested in test_server_keys
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
ANSWERED = {"POST /notes", "POST /notes/search", "POST /reflect", "POST /read", "POST /search"}
"""Operations that must get at least one 2xx answer (so the fuzzing reached past validation)."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MemorySpace, str]]:
    with served(tmp_path_factory.mktemp("fuzz") / "fuzz.db") as pair:
        pair[0].add_many([f"seed memory {n} about tea and cats" for n in range(20)])
        yield pair


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    server: tuple[MemorySpace, str], tmp_path: Path
) -> None:
    _, url = server
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    calls: Counter[str] = Counter()
    succeeded: set[str] = set()
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in SKIPPED:
            continue
        for mode, examples in EXAMPLES.items():

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
            )
            def run(case: schemathesis.Case) -> None:
                response = case.call(base_url=url, timeout=30)
                calls["requests"] += 1
                calls[f"status {response.status_code // 100}xx"] += 1
                if response.status_code < 300:
                    succeeded.add(case.operation.label)
                try:
                    case.validate_response(response, checks=CHECKS)
                except (Exception, BaseExceptionGroup) as exc:  # collected, asserted below
                    failures.append(f"{case.operation.label}: {str(exc)[:300]}")

            try:
                run()
            except Unsatisfiable:  # no invalid input exists (an operation without parameters)
                assert mode is schemathesis.GenerationMode.NEGATIVE
                calls["operations without invalid input"] += 1
    print(f"schemathesis: {dict(calls)}; {len(failures)} failures")
    assert calls["requests"] > 250 and calls["status 5xx"] == 0
    assert succeeded >= ANSWERED, ANSWERED - succeeded
    assert failures == [], "\n".join(failures[:10])
