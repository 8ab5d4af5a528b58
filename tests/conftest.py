"""Shared fixtures: real subjects compiled by tracr (cached in the user's cache dir across runs)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config, items):
    # A test that starts a llama-cpp server takes minutes: it belongs to the slow tier, so the
    # fast tier `-m "not slow"` leaves it out without each such test having to say so twice.
    for item in items:
        if item.get_closest_marker("llm_server") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def load():
    from tracr_agent.tools.subjects.load import load_task

    cache: dict = {}

    def get(task_id: str):
        if task_id not in cache:
            cache[task_id] = load_task(task_id)
        return cache[task_id]

    return get


@pytest.fixture(scope="session")
def reverse_subject(load):
    return load("reverse")


@pytest.fixture(scope="session")
def sort_subject(load):
    return load("sort")


@pytest.fixture(scope="session")
def length_subject(load):
    return load("length")
