"""Tool calls whose arguments are valid JSON but not an object: an invalid call, never a crash.

The OpenAI wire format (which OpenAI-compatible servers and Mistral share) sends a call's
arguments as a JSON text. LangChain turns text that does not parse into an `invalid_tool_call`,
but text that parses to something other than an object (`[1, 2]`, `"abc"`, `3`) becomes a tool
call whose `args` the AIMessage refuses, and the whole reply fails to build (a pydantic
ValidationError that would end the episode). `split_non_objects` takes such calls out of the
reply before LangChain reads it and `with_invalid` hands them back as invalid tool calls, which
the loop answers with a tool error the model can act on (agent/loop/graph.py).
"""

from __future__ import annotations

import json
from typing import Any

NOT_AN_OBJECT = "the arguments are valid JSON but not an object"
"""How an invalid call's `error` begins when its arguments parsed to a list, a string or a number."""


def _non_object(arguments: Any) -> str:
    """The JSON type `arguments` (a JSON text) holds when that is not an object, else ""."""
    if not isinstance(arguments, str):
        return ""
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return ""  # not JSON at all: LangChain's own invalid-call path reports it
    if isinstance(value, dict):
        return ""
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def split_non_objects(response: dict) -> list[list[dict]]:
    """Removes, from every choice's message of an OpenAI-shaped reply (a dict, changed in place), the
    tool calls whose arguments are JSON but not an object; returns them per choice, as LangChain's
    invalid tool calls."""
    removed: list[list[dict]] = []
    for choice in response.get("choices") or []:
        message = choice.get("message") if isinstance(choice, dict) else None
        calls = (message or {}).get("tool_calls") or []
        keep, bad = [], []
        for call in calls:
            fn = (call.get("function") or {}) if isinstance(call, dict) else {}
            kind = _non_object(fn.get("arguments"))
            if kind:
                bad.append({"type": "invalid_tool_call", "id": call.get("id"), "name": fn.get("name"),
                            "args": fn.get("arguments"), "error": f"{NOT_AN_OBJECT} ({kind})"})
            else:
                keep.append(call)
        if bad:
            message["tool_calls"] = keep or None
        removed.append(bad)
    return removed


def with_invalid(result, removed: list[list[dict]]):
    """`result` (a ChatResult) with the calls `split_non_objects` removed added back to each
    generation's message as invalid tool calls."""
    for generation, bad in zip(result.generations, removed):
        if bad:
            generation.message.invalid_tool_calls = list(generation.message.invalid_tool_calls) + bad
    return result


def checked_openai_class():
    """ChatOpenAI whose replies keep non-object arguments as invalid tool calls."""
    from langchain_openai import ChatOpenAI

    class CheckedChatOpenAI(ChatOpenAI):
        def _create_chat_result(self, response, generation_info=None):
            data = response if isinstance(response, dict) else response.model_dump()
            removed = split_non_objects(data)
            if not any(removed):
                return super()._create_chat_result(response, generation_info)
            return with_invalid(super()._create_chat_result(data, generation_info), removed)

    return CheckedChatOpenAI


def checked_mistral_class():
    """ChatMistralAI whose replies keep non-object arguments as invalid tool calls."""
    from langchain_mistralai import ChatMistralAI

    class CheckedChatMistralAI(ChatMistralAI):
        def _create_chat_result(self, response):
            data = response if isinstance(response, dict) else dict(response)
            removed = split_non_objects(data)
            return with_invalid(super()._create_chat_result(data), removed)

    return CheckedChatMistralAI
