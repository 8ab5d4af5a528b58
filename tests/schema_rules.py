"""Each provider's rules for the tool schemas a request carries, as their API documentation states
them, to check payloads captured at the fake servers (tests/provider_server.py). Not a test module.

- OpenAI (chat completions `tools[].function.parameters`): a JSON Schema object (`type: object`,
  `properties`); every array declares `items` (the API refuses "array schema missing items").
- Anthropic (`tools[].input_schema`): a JSON Schema with `type: object`.
- Google (Gemini function declarations, an OpenAPI 3.0 subset): only the Schema fields listed
  below, `type` one of the six types on every schema (nullable instead of a null type), every array
  with `items` that has a type; no `$ref`, `$defs`, `allOf`, `const` or `additionalProperties`.
Each function returns the problems found (empty: the payload follows the rules).
"""

from __future__ import annotations

from jsonschema import Draft202012Validator

GOOGLE_FIELDS = frozenset({"type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
                           "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
                           "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum",
                           "maximum"})
GOOGLE_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object"})


def _schemas(schema, path="$"):
    """Every schema inside `schema` (itself included), with its path."""
    if not isinstance(schema, dict):
        return
    yield path, schema
    for key in ("items",):
        if isinstance(schema.get(key), dict):
            yield from _schemas(schema[key], f"{path}.{key}")
    for name, sub in (schema.get("properties") or {}).items():
        yield from _schemas(sub, f"{path}.properties.{name}")
    for i, sub in enumerate(schema.get("anyOf") or []):
        yield from _schemas(sub, f"{path}.anyOf[{i}]")


def json_schema_problems(schema: dict, where: str) -> list[str]:
    problems = [f"{where}: {e.message}" for e in Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(schema)]
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        problems.append(f"{where}: not an object schema with properties")
    for path, s in _schemas(schema):
        if s.get("type") == "array" and not (isinstance(s.get("items"), dict) and s["items"]):
            problems.append(f"{where} {path}: array without items")
    return problems


def openai_problems(body: dict) -> list[str]:
    out = []
    for tool in body.get("tools") or []:
        fn = tool.get("function") or {}
        if tool.get("type") != "function" or not fn.get("name"):
            out.append(f"not a function tool: {tool}")
        out += json_schema_problems(fn.get("parameters") or {}, fn.get("name", "?"))
    return out


def anthropic_problems(body: dict) -> list[str]:
    out = []
    for tool in body.get("tools") or []:
        if not tool.get("name") or "input_schema" not in tool:
            out.append(f"not a tool with input_schema: {tool}")
            continue
        out += json_schema_problems(tool["input_schema"], tool["name"])
    return out


def google_problems(name: str, schema: dict) -> list[str]:
    """The problems of one function declaration's parameters under Gemini's Schema rules."""
    out = []
    for path, s in _schemas(schema):
        where = f"{name} {path}"
        extra = set(s) - GOOGLE_FIELDS
        if extra:
            out.append(f"{where}: fields Gemini does not accept: {sorted(extra)}")
        if "anyOf" in s:
            continue  # each branch is checked on its own
        kind = s.get("type")
        if not isinstance(kind, str) or kind.lower() not in GOOGLE_TYPES:
            out.append(f"{where}: type {kind!r} is not one of {sorted(GOOGLE_TYPES)}")
        if kind == "array" and not (isinstance(s.get("items"), dict) and s["items"].get("type")):
            out.append(f"{where}: array items without a type")
    return out


def gemini_view(schema: dict) -> dict:
    """A JSON schema as the Gemini clients send it: `Optional[X]` (anyOf X, null) becomes X made nullable,
    pydantic's titles dropped (what LangChain's Google converter does before the request)."""
    if not isinstance(schema, dict):
        return schema
    s = {k: v for k, v in schema.items() if k != "title"}
    branches = s.get("anyOf")
    if isinstance(branches, list):
        kept = [b for b in branches if b.get("type") != "null"]
        if len(kept) == 1 and len(kept) < len(branches):
            s.pop("anyOf")
            s.update(gemini_view(kept[0]), nullable=True)
        else:
            s["anyOf"] = [gemini_view(b) for b in branches]
    if isinstance(s.get("items"), dict):
        s["items"] = gemini_view(s["items"])
    if isinstance(s.get("properties"), dict):
        s["properties"] = {k: gemini_view(v) for k, v in s["properties"].items()}
    s.pop("additionalProperties", None)  # LangChain's converter drops it
    return s
