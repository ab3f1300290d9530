"""Shared test set-up: plain asserts in the store contract get pytest's rewriting too."""

import pytest

pytest.register_assert_rewrite("store_contract")
