"""Shared test set-up: plain asserts in the store contract get pytest's rewriting too, and the
PostgreSQL server fixtures (``pg_server``) are available to every test module."""

import pytest

pytest.register_assert_rewrite("store_contract")

from pg_server import pg_url, postgres_server  # noqa: E402, F401
