"""Parse a model's JSON answer robustly, and decide what a failed parse becomes.

Models asked for ``{"title": "..."}`` answer with code fences, text around the object, single quotes,
trailing commas, another key, control characters, or no JSON at all — and a model that misbehaves can
answer anything (thousands of nested brackets, broken Unicode). :func:`parse_answer` gives **every**
answer a status, never raises, and takes time linear in the answer's length. Its rules:

- **Where an object is looked for.** In each code fence (text between a pair of triple backticks, an
  optional ``json`` tag dropped), then in the whole answer. Text outside every ``{...}`` is prose:
  quotes and brackets there mean nothing. The candidates are the *outermost* balanced ``{...}`` spans
  (brace matching that respects strings inside objects), tried in order; a span that is not readable
  JSON is replaced by the spans directly inside it. An object that is read but lacks the key is **not**
  searched further: the key must be at the top of the object the model answered with, so
  ``{"product": {"title": "x"}}`` is ``missing_key`` with or without prose around it.
- **Nesting.** A span nested deeper than :data:`MAX_DEPTH` (32) levels of ``{``/``[`` is not read (it
  would exhaust Python's parsers' recursion); its answer ends ``not_json`` unless another span is read.
- **How a span is read**: strict JSON; else JSON allowing control characters inside strings, then
  without trailing commas, then a Python literal (single quotes); each step after the first is a repair.
- **Control characters** (Unicode category ``Cc``: C0, DEL and C1, tab and newline included) in the
  value, raw or escaped (``\\u0000``), are one rule: each run of them becomes one space. **Lone
  surrogates** (``\\ud83d`` without its pair: text no file can encode) become U+FFFD. A value that
  needed either is ``repaired``.

The statuses (``parse_status``):

- ``ok``: the whole answer (whitespace stripped) is strict JSON, an object with a non-empty string under
  the key that needed no cleaning;
- ``repaired``: the value was recovered, but only by one of the repairs above (fence, prose around the
  object, a lenient read, a cleaned value);
- ``missing_key``: an object was read, but none had a non-empty string under the key;
- ``not_json``: no object could be read;
- ``empty``: the model answered nothing.

The authors' code scored the literal string ``error`` whenever parsing failed, which silently pollutes
every metric. Here :func:`completion_text` applies a stated policy instead: ``raw`` (the raw answer,
stripped of fences — the default), ``empty`` (an empty string) or ``excluded`` (None: the item is left
out of the scores, and counted). :func:`encodable` makes the raw answer itself writable.
"""

from __future__ import annotations

import ast
import json
import re
from collections import deque
from dataclasses import dataclass

OK, REPAIRED, MISSING_KEY, NOT_JSON, EMPTY = "ok", "repaired", "missing_key", "not_json", "empty"
FAILURE_POLICIES = ("raw", "empty", "excluded")
MAX_DEPTH = 32

_FENCE = "```"
_TRAILING_COMMA = re.compile(r",[ \t\r\n]*([}\]])")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]+")  # Unicode category Cc, all of it


def encodable(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD, so that it can be written as UTF-8."""
    return _SURROGATE.sub("\ufffd", text)


def _clean(value: str) -> str:
    """The value with lone surrogates replaced and each run of control characters made one space."""
    return _CONTROLS.sub(" ", encodable(value)).strip()


def fenced_blocks(text: str) -> list[str]:
    """The contents of the code fences of ``text`` (pairs of triple backticks; a leading ``json`` tag
    dropped). Linear: one split."""
    parts = text.split(_FENCE)
    blocks = []
    for block in parts[1 : len(parts) - 1 : 2]:  # the odd parts between a pair of fences
        if block[:4] in ("json", "JSON"):
            block = block[4:]
        blocks.append(block.strip())
    return blocks


@dataclass(slots=True)
class _Span:
    start: int
    end: int
    depth: int  # levels of {/[ inside it, itself included
    children: list | None  # the closed spans directly inside it (None: none)


def _spans(text: str) -> list[_Span]:
    """The outermost closed ``{...}`` spans of ``text``, each with the closed spans directly inside it.
    One pass: brackets and quotes count only inside an object; a ``}`` closes the nearest ``{`` (any
    ``[`` still open inside it is dropped), a ``]`` only a ``[`` directly open. An open ``{`` is three
    list entries, not an object (a run of 100,000 costs no garbage collection)."""
    roots: list[_Span] = []
    starts: list[int] = []  # per open {: where it starts, the deepest nesting closed inside it so far,
    depths: list[int] = []  # and the spans closed directly inside it (None until one is)
    inner: list = []
    brackets: list = []  # per open {: the peak depths of the [ open in it (None until one is)
    quote, escaped = None, False
    for index, char in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char == "{":
            starts.append(index)
            depths.append(1)
            inner.append(None)
            brackets.append(None)
        elif not starts:
            continue  # prose
        elif char in "\"'":
            quote = char
        elif char == "[":
            if brackets[-1] is None:
                brackets[-1] = []
            brackets[-1].append(1)
        elif char == "]" and brackets[-1]:
            closed = brackets[-1].pop() + 1
            if brackets[-1]:
                brackets[-1][-1] = max(brackets[-1][-1], closed)
            else:
                depths[-1] = max(depths[-1], closed)
        elif char == "}":
            depth = 0
            for peak in reversed(brackets.pop() or ()):  # the [ left open inside the object, innermost first
                depth = max(peak, depth + 1)
            span = _Span(starts.pop(), index + 1, max(depths.pop(), depth + 1), inner.pop())
            if starts:
                if inner[-1] is None:
                    inner[-1] = []
                inner[-1].append(span)
                if brackets[-1]:
                    brackets[-1][-1] = max(brackets[-1][-1], span.depth + 1)
                else:
                    depths[-1] = max(depths[-1], span.depth + 1)
            else:
                roots.append(span)
    for children in inner:  # a { never closed: the spans closed inside it are outermost ones
        roots.extend(children or ())
    return sorted(roots, key=lambda s: s.start)


def _read(candidate: str) -> tuple[object, bool]:
    """``(value, strict)``: the candidate read as JSON (strict: True) or by a repair; None if unreadable."""
    attempts = [(candidate, True), (candidate, False)]
    without_commas = _TRAILING_COMMA.sub(r"\1", candidate)
    if without_commas != candidate:
        attempts.append((without_commas, False))
    for text, strict in attempts:
        try:
            return json.loads(text, strict=strict), strict
        except (ValueError, RecursionError):
            pass
    for text, _ in attempts[1:]:
        try:  # single quotes and Python literals: {'title': 'x'}
            value = ast.literal_eval(text)
            if isinstance(value, dict):
                return value, False
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            pass
    return None, False


def parse_answer(raw: str | None, key: str) -> tuple[str | None, str]:
    """Return ``(value, parse_status)`` for the string under ``key`` in the model's answer (the rules:
    the module docstring)."""
    text = (raw or "").strip()
    if not text:
        return None, EMPTY
    found_object = False
    for source, whole in [*((block, False) for block in fenced_blocks(text)), (text, True)]:
        pending = deque(_spans(source))
        while pending:
            span = pending.popleft()
            if span.depth > MAX_DEPTH:
                continue
            value, strict = _read(source[span.start : span.end])
            if not isinstance(value, dict):
                pending.extendleft(reversed(span.children or ()))  # unreadable: the objects inside it, in order
                continue
            found_object = True
            item = value.get(key)
            if not isinstance(item, str):
                continue
            cleaned = _clean(item)
            if cleaned:
                exact = whole and strict and span.start == 0 and span.end == len(source) and cleaned == item.strip()
                return cleaned, OK if exact else REPAIRED
    return None, MISSING_KEY if found_object else NOT_JSON


def strip_fences(raw: str | None) -> str:
    """The raw answer without code fences, whitespace collapsed, lone surrogates replaced."""
    text = encodable((raw or "").strip())
    fenced = fenced_blocks(text)
    if fenced:
        text = " ".join(fenced)
    return " ".join(text.split())


def completion_text(raw: str | None, value: str | None, status: str, policy: str = "raw") -> str | None:
    """What a completion is scored as: the parsed value if parsing succeeded, else per ``policy``."""
    if policy not in FAILURE_POLICIES:
        raise ValueError(f"unknown failure policy {policy!r}; known: {list(FAILURE_POLICIES)}")
    if status in (OK, REPAIRED):
        return value
    if policy == "raw":
        return strip_fences(raw)
    if policy == "empty":
        return ""
    return None
