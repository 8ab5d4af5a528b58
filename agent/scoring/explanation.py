"""Does a submitted implementation explain the model, or enumerate it?

Two measurements of the submitted source, both static (the code is parsed, never run):

- size: the number of AST nodes, and its ratio to the reference implementation's
  (reported, not judged: a longer program is not wrong, but a ratio of 20 says something).
- tabulated: the implementation reproduces input -> output behaviour by enumeration
  instead of a mechanism. Flagged when any of:
    1. a literal mapping (dict display) with at least TABLE_MIN_KEYS keys that are whole
       input sequences — tuples/lists of three or more tokens, keys of mixed lengths, a
       string spelling several tokens — or (position, sequence) pairs;
    2. sequence-shaped literals — list/tuple/set displays of three or more constants,
       strings spelling three or more vocab tokens, and `and`-chains of three or more
       `== constant` tests (one whole input each) — number more than
       max(ENTRY_MIN, DOMAIN_SHARE x the size of the input domain);
    3. one literal container holds more than max(GIANT_MIN, DOMAIN_SHARE x domain) items
       (a giant list or dict of outputs indexed by an encoding of the input).
  A table of one step's function over values — token value -> value as in
  `{"a": 1, "b": 2}[t]`, or (value, value) -> value — is a mechanism, not tabulation:
  its keys are scalars or pairs, and it stays far below the thresholds.

The thresholds: TABLE_MIN_KEYS = 4, ENTRY_MIN = 8, GIANT_MIN = 64, DOMAIN_SHARE = 0.02 of the
input domain (every sequence of length 1..max_seq_len: 27 of reverse's 1364), the share capped
at SHARE_CAP = 256 literals for large domains (no mechanism needs hundreds of them).

And two measurements of how readable a mechanism is, also static (`steps`, `description_words`):

- steps and the steps that keep a table: the steps are the assignments in `f` (or in the one
  function `f` only delegates to), nested blocks included, whose value computes something — not a
  constant, a table, or the input's own preamble (`list(tokens)`, `list(range(len(tokens)))`); the
  `return` counts when it computes more than a name. A step keeps a table when its value reads a
  literal table — a dict display of at least two entries mapping constants (or tuples of
  constants) to constants or to such tables — directly or through a name bound to one; a table
  that `f` reads outside any step counts as one more step that keeps a table. `named` steps are the
  rest: written as primitives (arithmetic, comparisons, selects, aggregates, …) instead.
- the description's length in words.
"""

from __future__ import annotations

import ast
from typing import Iterable, Optional

from pydantic import BaseModel

TABLE_MIN_KEYS = 4
ENTRY_MIN = 8
GIANT_MIN = 64
DOMAIN_SHARE = 0.02
SHARE_CAP = 256
SEP = (",", " ", "|", "-", ";")


class Explanation(BaseModel):
    size: Optional[int] = None
    """AST nodes of the submitted implementation (None when it does not parse)."""
    reference_size: Optional[int] = None
    size_ratio: Optional[float] = None
    """size / reference_size (reported, not judged)."""
    tabulated: bool = False
    reason: Optional[str] = None
    """Why it counts as tabulated (None when it does not)."""
    steps: Optional[int] = None
    """Steps of `f` that compute something (None when it does not parse or defines no `f`)."""
    table_steps: Optional[int] = None
    """Of those (plus tables read outside any step), the steps that keep a literal table."""
    description_words: Optional[int] = None
    """The description's length in words (None without a description)."""


def ast_size(source: Optional[str]) -> Optional[int]:
    """The number of AST nodes in `source`, or None when it is not valid Python."""
    if not isinstance(source, str) or not source.strip():
        return None
    try:
        return sum(1 for _ in ast.walk(ast.parse(source)))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def domain_size(vocab: Iterable, max_seq_len: int) -> int:
    v = len(list(vocab))
    return sum(v ** n for n in range(1, max_seq_len + 1))


def _const(node) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return isinstance(node.operand, ast.Constant)
    return False


def _spelled_tokens(text: str, vocab: set) -> int:
    """How many vocab tokens a string literal spells ("abc", "a,b,c", "1 2 3"); 0 if not a spelling."""
    if text in vocab or len(text) < 2:
        return 0
    names = {str(t) for t in vocab}
    for sep in SEP:
        if sep in text:
            parts = [p.strip() for p in text.split(sep) if p.strip()]
            return len(parts) if len(parts) >= 2 and all(p in names for p in parts) else 0
    if names and all(len(n) == 1 for n in names) and all(ch in names for ch in text):
        return len(text)
    return 0


def _seq_len(node, vocab: set) -> int:
    """The length of a leaf sequence-shaped literal (a list/tuple/set display of constants, or a
    string spelling several vocab tokens); 0 when `node` is not one."""
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return len(node.elts) if node.elts and all(_const(e) for e in node.elts) else 0
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _spelled_tokens(node.value, vocab)
    return 0


def _whole_input_key(node, vocab: set) -> Optional[int]:
    """The length of a dict key that names a whole input sequence (or a (position, sequence)
    pair: returns 99); None for scalar keys and value pairs."""
    if isinstance(node, (ast.Tuple, ast.List)):
        if any(isinstance(e, (ast.Tuple, ast.List)) for e in node.elts):
            return 99
        if all(_const(e) for e in node.elts):
            return len(node.elts)
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        n = _spelled_tokens(node.value, vocab)
        return n or None
    return None


def _is_input_table(node: ast.Dict, vocab: set) -> bool:
    lengths = [_whole_input_key(k, vocab) for k in node.keys if k is not None]
    lengths = [n for n in lengths if n is not None]
    if len(lengths) < TABLE_MIN_KEYS:
        return False
    # value pairs (a two-input map) have keys of length exactly 2; whole inputs have 3+ tokens,
    # or keys of several lengths (inputs of different lengths)
    return any(n >= 3 for n in lengths) or len(set(lengths)) > 1


def _position_tests(node: ast.BoolOp) -> int:
    """An `and`-chain of `x == constant` tests: how many (one whole input when there are 3+)."""
    if not isinstance(node.op, ast.And):
        return 0
    n = 0
    for v in node.values:
        if (isinstance(v, ast.Compare) and len(v.ops) == 1 and isinstance(v.ops[0], ast.Eq)
                and (_const(v.comparators[0]) or _const(v.left))):
            n += 1
    return n


def tabulation(source: Optional[str], vocab: Iterable, max_seq_len: int) -> Optional[str]:
    """Why `source` tabulates the input -> output behaviour, or None when it does not (or does not parse)."""
    if not isinstance(source, str):
        return None
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    vocab = set(vocab)
    domain = domain_size(vocab, max_seq_len)
    share = min(DOMAIN_SHARE * domain, SHARE_CAP)
    limit = max(ENTRY_MIN, share)
    giant = max(GIANT_MIN, share)
    entries = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            if _is_input_table(node, vocab):
                return f"a literal mapping keyed by whole input sequences ({len(node.keys)} keys)"
            if len(node.keys) > giant:
                return f"a literal mapping with {len(node.keys)} entries (more than {giant:.0f})"
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)) and len(node.elts) > giant:
            return f"a literal container with {len(node.elts)} items (more than {giant:.0f})"
        # one whole input (or output) each; pairs are left out: a (value, value) table's keys
        if _seq_len(node, vocab) >= 3:
            entries += 1
        if isinstance(node, ast.BoolOp) and _position_tests(node) >= 3:
            entries += 1
    if entries > limit:
        return (f"{entries} sequence-shaped literals cover more than {100 * DOMAIN_SHARE:.0f}% of the "
                f"{domain} inputs (limit {limit:.0f})")
    return None


# -- steps and tables ------------------------------------------------------------------------------

PREAMBLE_CALLS = frozenset({"list", "tuple", "range", "len"})


def _constant_value(node) -> bool:
    if _const(node):
        return True
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_constant_value(e) for e in node.elts)
    return isinstance(node, ast.Dict) and _is_table(node, min_keys=0)


def _is_table(node, min_keys: int = 2) -> bool:
    """A literal mapping of constants (or tuples of them) to constants or such mappings (nested ones of
    any size)."""
    if not isinstance(node, ast.Dict) or len(node.keys) < min_keys or any(k is None for k in node.keys):
        return False
    keys_ok = all(_const(k) or (isinstance(k, ast.Tuple) and all(_const(e) for e in k.elts)) for k in node.keys)
    return keys_ok and all(_constant_value(v) for v in node.values)


def _tables_in(node, table_names: set) -> list:
    """The outermost literal tables `node` holds or names (nested tables are part of their table)."""
    found = []

    def visit(n):
        if isinstance(n, ast.Dict) and _is_table(n):
            found.append(n)
            return
        if isinstance(n, ast.Name) and n.id in table_names:
            found.append(n.id)
            return
        for child in ast.iter_child_nodes(n):
            visit(child)

    visit(node)
    return found


def _preamble(value) -> bool:
    """`list(tokens)`, `list(range(len(tokens)))`, `len(tokens)`: the input itself, not a step."""
    calls = [n for n in ast.walk(value) if isinstance(n, ast.Call)]
    others = [n for n in ast.walk(value) if isinstance(n, (ast.BinOp, ast.Compare, ast.Subscript, ast.Lambda,
                                                           ast.ListComp, ast.GeneratorExp, ast.DictComp, ast.IfExp))]
    return bool(calls) and not others and all(isinstance(c.func, ast.Name) and c.func.id in PREAMBLE_CALLS for c in calls)


def _body_statements(body: list):
    """The statements of a function body, into nested blocks, not into nested functions or classes."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for field in ("body", "orelse", "finalbody", "handlers"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list):
                yield from _body_statements(inner)


def _delegate(fn: ast.FunctionDef, functions: dict) -> Optional[ast.FunctionDef]:
    """The module function `fn` only returns a call of (`return run(tokens)[...]`), if any."""
    body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if len(body) != 1 or not isinstance(body[0], ast.Return) or body[0].value is None:
        return None
    value = body[0].value
    while isinstance(value, ast.Subscript):
        value = value.value
    if isinstance(value, ast.ListComp) and value.generators:
        value = value.generators[0].iter
        while isinstance(value, ast.Subscript):
            value = value.value
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in functions:
        return functions[value.func.id]
    return None


def steps_and_tables(source: Optional[str]) -> tuple[Optional[int], Optional[int]]:
    """(steps, steps that keep a table) of the implementation's `f` (None, None when there is none)."""
    if not isinstance(source, str):
        return None, None
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None, None
    functions = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    fn = functions.get("f")
    seen = set()
    while fn is not None and fn.name not in seen:
        seen.add(fn.name)
        nxt = _delegate(fn, functions)
        if nxt is None:
            break
        fn = nxt
    if fn is None:
        return None, None
    table_names = {t.id for n in tree.body if isinstance(n, ast.Assign) and _is_table(n.value)
                   for t in n.targets if isinstance(t, ast.Name)}
    stmts = list(_body_statements(fn.body))
    table_names |= {t.id for n in stmts if isinstance(n, ast.Assign) and _is_table(n.value)
                    for t in n.targets if isinstance(t, ast.Name)}
    def key(t):
        return t if isinstance(t, str) else id(t)

    steps = tabular = 0
    in_steps: set = set()
    for stmt in stmts:
        value = None
        if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and stmt.value is not None:
            if not (_constant_value(stmt.value) or _preamble(stmt.value)):
                value = stmt.value
        elif isinstance(stmt, ast.Return) and stmt.value is not None \
                and not isinstance(stmt.value, (ast.Name, ast.Constant)):
            value = stmt.value
        if value is None:
            continue
        steps += 1
        found = _tables_in(value, table_names)
        tabular += bool(found)
        in_steps |= {key(t) for t in found}
    definitions = {id(s.value) for s in stmts if isinstance(s, ast.Assign) and _is_table(s.value)}
    read = {key(t) for stmt in stmts for t in _tables_in(stmt, table_names)}
    loose = read - in_steps - definitions  # tables read outside any step (in a loop, a condition …)
    return steps + len(loose), tabular + len(loose)


def explain(source: Optional[str], vocab: Iterable, max_seq_len: int,
            reference_source: Optional[str] = None, description: Optional[str] = None) -> Explanation:
    """Size, size ratio to the reference and the tabulated flag of one implementation; its steps and
    the steps that keep a table; the description's length."""
    size = ast_size(source)
    ref = ast_size(reference_source)
    reason = tabulation(source, vocab, max_seq_len)
    steps, table_steps = steps_and_tables(source)
    return Explanation(size=size, reference_size=ref,
                       size_ratio=round(size / ref, 3) if size and ref else None,
                       tabulated=reason is not None, reason=reason, steps=steps, table_steps=table_steps,
                       description_words=len(description.split()) if isinstance(description, str) else None)
