"""LLM backends: the chat models behind the LLM kinds of an `--llm` spec, with their prices,
timeouts and server quirks. Which spec names which backend or built-in investigator is decided in
one place, agent/investigators/registry.py (`make_backend`); this module builds the LLM ones:

- `openai:MODEL`                 OpenAI via langchain-openai (reasoning models get reasoning effort, no temperature)
- `openai-compatible:MODEL@URL`  any OpenAI-compatible server (vLLM, Ollama, llama.cpp, LM Studio); its key
                                 from `--api-key-env VAR` (else OPENAI_COMPATIBLE_API_KEY, else none)
- `PROVIDER:MODEL[@URL]`         anthropic, google_genai, mistralai, ollama (prices and keys known here, each
                                 an optional extra) — and any other provider LangChain's `init_chat_model`
                                 knows (groq, azure_openai, bedrock, …), passed through to it; a missing
                                 package is one line saying what to pip install. @URL points the client elsewhere.

`check_reachable` asks an endpoint named by URL whether it answers before an episode starts (`run`, `eval`).
Server quirks are handled by a named compatibility mode (`--compat llama-cpp`),
applied to the outgoing messages only, never in the main path. So are Anthropic's prompt-cache
markers (`anthropic_cache_marks`). Sampling is the provider's default unless `--temperature` is
given; what was sent (temperature, reasoning effort, the reply's token cap) is on the `Backend`, so
the transcript header records it. Prices and token usage: pricing.py.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional

from tracr_agent.agent.backends.pricing import FREE, OPENAI_PRICES, PROVIDER_PRICES, Price, TokenUsage, price_of, unpriced_note
from tracr_agent.agent.backends.tool_args import checked_mistral_class, checked_openai_class
from tracr_agent.tools.errors import UserError

ENV_LLM = "TRACR_AGENT_LLM"
ENV_COMPAT = "TRACR_AGENT_COMPAT"
DEFAULT_OPENAI_MODEL = "o4-mini"
REASONING = re.compile(r"^(o\d|gpt-5)")
ANTHROPIC_MAX_TOKENS = 8192
"""The Messages API requires a cap on the reply's tokens."""
COMPAT_MODES = ("none", "llama-cpp")
COMPATIBLE_KEY_ENV = "OPENAI_COMPATIBLE_API_KEY"
"""Where an openai-compatible endpoint's key is read from without --api-key-env."""


@dataclass
class Backend:
    spec: str
    chat_model: Any
    prepare: Callable[[list], list] = field(default=lambda msgs: msgs)
    price: Optional[Price] = FREE
    """USD per million tokens; None: unknown (an LLM without a known price and no --price)."""
    announce: str = ""
    bind_kwargs: dict = field(default_factory=dict)
    """Extra arguments for bind_tools (e.g. tool_choice) in normal turns…"""
    forced_bind_kwargs: dict = field(default_factory=dict)
    """…and in the forced last turn, where only submit_prediction is bound."""
    timeout: Optional[float] = None
    """Per-request timeout (s) of a network backend; None for in-process ones (baseline, replay)."""
    max_retries: int = 0
    """Retries after a transient fault, done by backends/reply.py within the wall-time budget."""
    timeout_per_call: bool = True
    """Whether the client takes `timeout=` on each call (bounded by the wall time left): openai's and
    anthropic's do; the others (ollama's would fail, mistral's would send it in the request body) keep
    the fixed `timeout` their client was built with."""

    closed_world: bool = False
    """The investigator knows the zoo's answers (`baseline-closed`): its results are lookups, marked so."""
    deterministic: bool = False
    """Given the same prompt it always answers the same (the built-in investigators, replay)."""
    temperature: Optional[float] = None
    """The sampling temperature sent with every request (None: the provider's default)."""
    reasoning_effort: Optional[str] = None
    """The reasoning effort sent (OpenAI's reasoning models), or None."""
    max_output_tokens: Optional[int] = None
    """The cap on a reply's tokens sent with every request (None: the provider's default)."""

    def with_limits(self, limits) -> "Backend":
        """This backend for an episode with these limits: an investigator that plans its tool calls
        (a built-in one: `with_limits` on its chat model) gets them; an LLM reads them in its prompt."""
        configure = getattr(self.chat_model, "with_limits", None)
        return replace(self, chat_model=configure(limits)) if configure is not None and limits else self

    @property
    def priced(self) -> bool:
        """Whether the cost of its calls is known."""
        return self.price is not None

    def cost(self, usage: TokenUsage) -> Optional[float]:
        """The cost of one reply (cached input at its own price), or None when the price is unknown."""
        return None if self.price is None else self.price.cost(usage)

    def sampling(self) -> dict:
        """What the transcript header records about how it samples."""
        return {"temperature": self.temperature, "reasoning_effort": self.reasoning_effort,
                "max_output_tokens": self.max_output_tokens}


def default_spec() -> tuple[str, str]:
    """(spec, announcement): the environment's choice, else OpenAI with a key, else the baseline."""
    if os.environ.get(ENV_LLM):
        return os.environ[ENV_LLM], ""
    if os.environ.get("OPENAI_API_KEY"):
        return f"openai:{DEFAULT_OPENAI_MODEL}", ""
    return "baseline", "No LLM configured (no OPENAI_API_KEY, no --llm, no TRACR_AGENT_LLM): using the built-in baseline investigator."


def llama_cpp_compat(messages: list) -> list:
    """llama-cpp-python's server (chatml-function-calling) rejects null assistant
    content, and drops `role: tool` messages: send non-empty content and re-send tool results as
    user messages. (It also ignores tools unless tool_choice is set: see llm_backend.)"""
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    out = []
    for m in messages:
        if isinstance(m, ToolMessage):
            out.append(HumanMessage(content=f"Result of tool call {m.name or ''} ({m.tool_call_id}):\n{m.content}"))
        elif isinstance(m, AIMessage) and not (m.content or "").strip():
            # langchain-openai sends "" as null when tool calls are present; a space survives
            out.append(m.model_copy(update={"content": " "}))
        else:
            out.append(m)
    return out


@dataclass(frozen=True)
class Provider:
    """A LangChain chat-model provider reached through `init_chat_model`."""
    package: str
    """The pip package with its chat model (also an extra of tracr-agent: `pip install 'tracr-agent[EXTRA]'`)."""
    module: str
    key_env: Optional[str]
    """The environment variable holding the API key (None: a local server needs none)."""
    url_kwarg: Optional[str]
    """The client argument that takes a base URL (for `PROVIDER:MODEL@URL`)."""
    extra: str = ""
    free: bool = False
    """Runs locally: every model costs 0 and that is no surprise."""


PROVIDERS = {
    "anthropic": Provider("langchain-anthropic", "langchain_anthropic", "ANTHROPIC_API_KEY", "base_url", "anthropic"),
    "google_genai": Provider("langchain-google-genai", "langchain_google_genai", "GOOGLE_API_KEY", "base_url", "google-genai"),
    "mistralai": Provider("langchain-mistralai", "langchain_mistralai", "MISTRAL_API_KEY", "endpoint", "mistralai"),
    "ollama": Provider("langchain-ollama", "langchain_ollama", None, "base_url", extra="ollama", free=True),
}


def anthropic_cache_marks(messages: list) -> list:
    """Anthropic's prompt caching: a cache_control marker on the system prompt and on the last message
    (the prefix the next request repeats), on copies; the transcript keeps the messages as they were.
    Every system, user and tool message is sent as content blocks, marked or not, so a message reads
    the same in the request that marks it and in the later ones that repeat it (a cached prefix)."""
    marker = {"type": "ephemeral"}

    def as_blocks(m, mark: bool):
        if m.type not in ("system", "human", "tool"):
            return m
        blocks = [{"type": "text", "text": m.content}] if isinstance(m.content, str) else [dict(b) for b in m.content]
        if not blocks or (blocks[-1].get("type") == "text" and not blocks[-1].get("text")):
            return m  # empty text can carry no block (nor a marker)
        if mark:
            blocks[-1]["cache_control"] = marker
        return m.model_copy(update={"content": blocks})

    last = len(messages) - 1
    return [as_blocks(m, m.type == "system" or (i == last and m.type in ("human", "tool")))
            for i, m in enumerate(messages)]


def _with_priced(backend: Backend, price_override: Optional[Price], found: Optional[Price]) -> Backend:
    """The backend with `--price` when given, else the table's price; an unknown one is announced."""
    price = price_override or found
    backend.price = price
    if price is None:
        backend.announce = "; ".join(x for x in (backend.announce, unpriced_note(backend.spec)) if x)
    return backend


def api_key(api_key_env: Optional[str], default_env: Optional[str] = None, default: Optional[str] = None) -> Optional[str]:
    """The key in `--api-key-env VAR` (one UserError line when VAR is unset), else in `default_env`, else
    `default`."""
    if api_key_env:
        if not os.environ.get(api_key_env):
            raise UserError(f"--api-key-env {api_key_env}: {api_key_env} is not set in the environment")
        return os.environ[api_key_env]
    return os.environ.get(default_env, default) if default_env else default


PROVIDER_FORMS = "PROVIDER:MODEL[@URL]"
"""How a LangChain provider is named on --llm."""


def llm_help(built_in) -> str:
    """--llm's help: every built-in investigator and every LLM form."""
    # "\\[" keeps rich (typer's help) from reading [@URL] as markup
    return (" | ".join(built_in) + " | openai:MODEL | openai-compatible:MODEL@URL (key: --api-key-env) | "
            f"{PROVIDER_FORMS.replace('[', chr(92) + '[')} ({', '.join(PROVIDERS)}, or any provider LangChain's init_chat_model knows: "
            "groq, azure_openai, bedrock, fireworks, together, …) | replay:FILE. Default: TRACR_AGENT_LLM, "
            "else openai:o4-mini with OPENAI_API_KEY, else baseline.")


def _provider_backend(kind: str, rest: str, prepare, announce: str, forced: dict, timeout: float,
                      max_retries: int, temperature: Optional[float], price: Optional[Price],
                      key: Optional[str] = None) -> Backend:
    import importlib.util

    p = PROVIDERS[kind]
    model, at, url = rest.partition("@")
    if not model or (at and not re.match(r"^https?://", url)):
        raise UserError(f"{kind} needs a model: --llm {kind}:MODEL (optionally {kind}:MODEL@http://HOST:PORT)")
    if at and not p.url_kwarg:
        raise UserError(f"--llm {kind}:…@URL: the {p.package} client takes no base URL")
    missing = [pkg for pkg, mod in ((p.package, p.module), ("langchain", "langchain")) if not importlib.util.find_spec(mod)]
    if missing:
        raise UserError(f"--llm {kind}:… needs {' and '.join(missing)}: pip install 'tracr-agent[{p.extra}]'")
    if p.key_env and not key and not os.environ.get(p.key_env):
        raise UserError(f"--llm {kind}:… needs {p.key_env} in the environment")
    from langchain.chat_models import init_chat_model

    # No client retries (backends/reply.py retries within the episode's wall time), as for OpenAI.
    kwargs: dict = {} if temperature is None else {"temperature": temperature}
    if key:
        kwargs["api_key"] = key
    if kind == "ollama":
        kwargs["client_kwargs"] = {"timeout": timeout}
    else:
        kwargs.update(timeout=timeout, max_retries=0)
    if kind == "anthropic":
        kwargs["max_tokens"] = ANTHROPIC_MAX_TOKENS
    if at:
        kwargs[p.url_kwarg] = url
    if kind == "mistralai":  # OpenAI's wire format: non-object arguments must not crash the reply
        chat = checked_mistral_class()(model=model, **kwargs)
    else:
        chat = init_chat_model(model, model_provider=kind, **kwargs)
    if kind == "anthropic":
        prepare = _then(prepare, anthropic_cache_marks)
    backend = Backend(f"{kind}:{rest}", chat, prepare, None, announce, forced_bind_kwargs=forced, timeout=timeout,
                      max_retries=max_retries, timeout_per_call=kind == "anthropic",
                      temperature=getattr(chat, "temperature", temperature),  # what the client sends by default
                      max_output_tokens=kwargs.get("max_tokens"))
    return _with_priced(backend, price, FREE if p.free else price_of(PROVIDER_PRICES.get(kind, {}), model))


def _then(first: Callable[[list], list], second: Callable[[list], list]) -> Callable[[list], list]:
    return lambda msgs: second(first(msgs))


def check_compat(compat: Optional[str]) -> str:
    """`--compat` (or TRACR_AGENT_COMPAT) when it is a known mode, else one UserError line."""
    compat = compat or os.environ.get(ENV_COMPAT) or "none"
    if compat not in COMPAT_MODES:
        raise UserError(f"unknown --compat {compat!r}; choose one of: {', '.join(COMPAT_MODES)}")
    return compat


_PIP = re.compile(r"pip install (?:-U )?[`'\"]?([A-Za-z0-9_.\-\[\]]+)")
_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
URL_KWARGS = {"azure_openai": "azure_endpoint", "bedrock": "endpoint_url", "bedrock_converse": "endpoint_url"}
"""The client argument a passed-through provider takes `@URL` in, where it is not `base_url`."""


def _in_a_line(e: Exception) -> str:
    """An exception in one line: pydantic's first error by itself (its first line only counts errors)."""
    errors = getattr(e, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            return f"{'.'.join(map(str, first.get('loc', ()))) or type(e).__name__}: {first['msg']}".lstrip(": ")
        except (TypeError, IndexError, KeyError):
            pass
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return f"{type(e).__name__}: {lines[0] if lines else ''}"


def _passed_through(kind: str, rest: str, prepare, announce: str, forced: dict, timeout: float,
                    max_retries: int, temperature: Optional[float], price: Optional[Price],
                    key: Optional[str]) -> Backend:
    """Any other provider LangChain's `init_chat_model` knows: the client it builds, no price known unless
    `--price` gives one. A
    provider it does not know, a package that is missing, a client that refuses its settings (no key): one
    UserError line each."""
    import importlib.util

    model, at, url = rest.partition("@")
    if not model or (at and not re.match(r"^https?://", url)):
        raise UserError(f"{kind} needs a model: --llm {kind}:MODEL (optionally {kind}:MODEL@http://HOST:PORT)")
    if importlib.util.find_spec("langchain") is None:
        raise UserError(f"--llm {kind}:… goes through LangChain's init_chat_model: pip install langchain "
                        f"langchain-{kind.replace('_', '-')}")
    from langchain.chat_models import init_chat_model

    kwargs: dict = {"timeout": timeout, "max_retries": 0}
    if temperature is not None:
        kwargs["temperature"] = temperature
    if key:
        kwargs["api_key"] = key
    if at:
        kwargs[URL_KWARGS.get(kind, "base_url")] = url
    try:
        chat = init_chat_model(model, model_provider=kind, **kwargs)
    except ImportError as e:
        pkg = _PIP.search(str(e))
        raise UserError(f"--llm {kind}:… needs its LangChain package: pip install "
                        f"{pkg.group(1) if pkg else 'langchain-' + kind.replace('_', '-')}") from None
    except ValueError as e:
        if "Unsupported" in str(e) and "provider" in str(e):
            known = str(e).split("Supported model providers are:")[-1].strip().rstrip(".")
            raise UserError(f"unknown --llm {kind}:…: not one of ours nor a provider LangChain's init_chat_model "
                            f"knows ({known})") from None
        raise UserError(f"--llm {kind}:{rest}: {_in_a_line(e)}") from None
    except Exception as e:  # noqa: BLE001 — a client refusing its settings (no key, a bad region): its own words
        raise UserError(f"--llm {kind}:{rest}: {_in_a_line(e)}") from None
    backend = Backend(f"{kind}:{rest}", chat, prepare, None, announce, forced_bind_kwargs=forced, timeout=timeout,
                      max_retries=max_retries, timeout_per_call=False,
                      temperature=getattr(chat, "temperature", temperature))  # what the client sends by default
    return _with_priced(backend, price, None)


def llm_backend(spec: str, compat: str, announce: str, timeout: float, max_retries: int,
                temperature: Optional[float] = None, price: Optional[Price] = None,
                api_key_env: Optional[str] = None) -> Optional[Backend]:
    """The backend of an LLM spec (`openai:`, `openai-compatible:`, a LangChain provider), or None
    when `spec` names no LLM kind (a kind that is not a lowercase name). `temperature` None: the
    provider's default; `price` (`--price`) overrides the price table; `api_key_env` names the variable
    holding the key."""
    prepare = llama_cpp_compat if compat == "llama-cpp" else (lambda msgs: msgs)
    kind, _, rest = spec.partition(":")
    # The forced last turn names the one tool it may call.
    forced = {"tool_choice": "submit_prediction"}
    if kind == "openai":
        if not rest:
            raise UserError("openai needs a model: --llm openai:MODEL (e.g. openai:o4-mini)")
        key = api_key(api_key_env, "OPENAI_API_KEY")
        if not key:
            raise UserError("--llm openai:… needs OPENAI_API_KEY in the environment")
        chat, effort = _chat_openai(rest, None, key, timeout, temperature)
        backend = Backend(spec, chat, prepare, None, announce, forced_bind_kwargs=forced, timeout=timeout,
                          max_retries=max_retries, temperature=temperature, reasoning_effort=effort)
        return _with_priced(backend, price, price_of(OPENAI_PRICES, rest))
    if kind == "openai-compatible":
        model, at, url = rest.partition("@")
        if not model or not at or not re.match(r"^https?://", url):
            raise UserError("openai-compatible needs MODEL@URL, e.g. openai-compatible:qwen@http://127.0.0.1:8000/v1")
        # llama-cpp-python ignores the tool list unless tool_choice is given
        normal = {"tool_choice": "auto"} if compat == "llama-cpp" else {}
        key = api_key(api_key_env, COMPATIBLE_KEY_ENV, "not-needed")
        chat, _ = _chat_openai(model, url, key, timeout, temperature)
        backend = Backend(spec, chat, prepare, None, announce, bind_kwargs=normal, forced_bind_kwargs=forced,
                          timeout=timeout, max_retries=max_retries, temperature=temperature)
        return _with_priced(backend, price, None)  # any server, any model: no price unless --price gives one
    if kind in PROVIDERS:
        return _provider_backend(kind, rest, prepare, announce, forced, timeout, max_retries, temperature, price,
                                 api_key(api_key_env))
    if _KIND.match(kind) and rest:
        return _passed_through(kind, rest, prepare, announce, forced, timeout, max_retries, temperature, price,
                               api_key(api_key_env))
    return None


def check_reachable(spec: str, api_key_env: Optional[str] = None, timeout: float = 5.0) -> None:
    """An endpoint named by URL (`openai-compatible:MODEL@URL`, `PROVIDER:MODEL@URL`) that does not answer
    is one UserError line before any episode starts. An OpenAI-compatible one is asked for its /models
    (with its key: a 401 or 403 says the key is wrong); any other is connected to. Any HTTP answer but
    those means the server is there."""
    import socket
    import urllib.error
    import urllib.parse
    import urllib.request

    kind, _, rest = spec.partition(":")
    url = rest.partition("@")[2].rstrip("/")
    if kind == "replay" or not re.match(r"^https?://", url):
        return
    if kind != "openai-compatible":
        parts = urllib.parse.urlsplit(url)
        try:
            with socket.create_connection((parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)),
                                          timeout=timeout):
                return
        except (OSError, ValueError) as e:
            raise UserError(f"LLM endpoint {url} is unreachable ({e}); start the server or fix --llm") from None
    request = urllib.request.Request(url + "/models")
    key = api_key(api_key_env, COMPATIBLE_KEY_ENV)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        urllib.request.urlopen(request, timeout=timeout).read()
    except urllib.error.HTTPError as e:
        if e.code in (401, 403):
            raise UserError(f"LLM endpoint {url} refused the API key ({e.code} on /models): give the variable "
                            "holding its key with --api-key-env VAR") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise UserError(f"LLM endpoint {url}/models is unreachable ({getattr(e, 'reason', e)}); start the server "
                        "or fix --llm") from None


def _chat_openai(model: str, base_url: Optional[str], key: Optional[str], timeout: float,
                 temperature: Optional[float]):
    """(the chat model, the reasoning effort it sends or None)."""
    # No client retries: backends/reply.py retries within the episode's wall time (the client's own
    # retries, each with the full timeout, once kept a 30 s episode running for 486 s).
    kwargs: dict = {"model": model, "timeout": timeout, "max_retries": 0, "api_key": key}
    if base_url:
        kwargs["base_url"] = base_url
    effort = None
    if REASONING.match(model) and not base_url:
        if temperature is not None:
            raise UserError(f"--temperature: {model} is a reasoning model, which takes no temperature "
                            "(set its reasoning effort with TRACR_AGENT_REASONING_EFFORT)")
        effort = kwargs["reasoning_effort"] = os.environ.get("TRACR_AGENT_REASONING_EFFORT", "medium")
    elif temperature is not None:
        kwargs["temperature"] = temperature
    return checked_openai_class()(**kwargs), effort
