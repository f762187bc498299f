"""Parse a model's JSON answer robustly, and decide what a failed parse becomes.

Models asked for ``{"title": "..."}`` answer with code fences, text around the object, single quotes,
trailing commas, another key, or no JSON at all. :func:`parse_answer` recovers the value where it can
and says how (``parse_status``):

- ``ok``: the answer is a JSON object with the key (after stripping whitespace);
- ``repaired``: recovered from a code fence, text around the object, single quotes or a trailing comma;
- ``missing_key``: a JSON object without the key (or with a non-string, empty value for it);
- ``not_json``: no JSON object could be found;
- ``empty``: the model answered nothing.

The authors' code scored the literal string ``error`` whenever parsing failed, which silently pollutes
every metric. Here :func:`completion_text` applies a stated policy instead: ``raw`` (the raw answer,
stripped of fences — the default), ``empty`` (an empty string) or ``excluded`` (None: the item is left
out of the scores, and counted).
"""

from __future__ import annotations

import ast
import json
import re

OK, REPAIRED, MISSING_KEY, NOT_JSON, EMPTY = "ok", "repaired", "missing_key", "not_json", "empty"
FAILURE_POLICIES = ("raw", "empty", "excluded")

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def _objects(text: str):
    """Candidate ``{...}`` substrings, outermost first, by brace matching (quotes respected)."""
    for start in [i for i, c in enumerate(text) if c == "{"]:
        depth, quote, escaped = 0, None, False
        for end in range(start, len(text)):
            c = text[end]
            if quote:
                if escaped:
                    escaped = False
                elif c == "\\":
                    escaped = True
                elif c == quote:
                    quote = None
            elif c in "\"'":
                quote = c
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    yield text[start : end + 1]
                    break


def _load(candidate: str):
    for attempt in (candidate, _TRAILING_COMMA.sub(r"\1", candidate)):
        try:
            return json.loads(attempt)
        except ValueError:
            pass
        try:  # single quotes and Python literals: {'title': 'x'}
            value = ast.literal_eval(attempt)
            if isinstance(value, dict):
                return value
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            pass
    return None


def parse_answer(raw: str | None, key: str) -> tuple[str | None, str]:
    """Return ``(value, parse_status)`` for the string under ``key`` in the model's answer."""
    text = (raw or "").strip()
    if not text:
        return None, EMPTY
    try:
        direct = json.loads(text)
    except ValueError:
        direct = None
    if isinstance(direct, dict):
        value = direct.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip(), OK
        return None, MISSING_KEY
    fenced = _FENCE.findall(text)
    found_object = False
    for source in [*fenced, text]:
        for candidate in _objects(source):
            value = _load(candidate)
            if not isinstance(value, dict):
                continue
            found_object = True
            item = value.get(key)
            if isinstance(item, str) and item.strip():
                return item.strip(), REPAIRED
    return None, MISSING_KEY if found_object else NOT_JSON


def strip_fences(raw: str | None) -> str:
    """The raw answer without code fences, whitespace collapsed."""
    text = (raw or "").strip()
    fenced = _FENCE.findall(text)
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
