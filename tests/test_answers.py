import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmpcbench.completion.answers import completion_text, parse_answer


@pytest.mark.parametrize("raw, value, status", [
    ('{"title": "Red Mug"}', "Red Mug", "ok"),
    ('  {"title": "  Red Mug "}\n', "Red Mug", "ok"),
    ('```json\n{"title": "Red Mug"}\n```', "Red Mug", "repaired"),
    ('Sure! Here it is: {"title": "Red Mug"} Hope this helps.', "Red Mug", "repaired"),
    ("{'title': 'Red Mug'}", "Red Mug", "repaired"),
    ('{"title": "Red Mug",}', "Red Mug", "repaired"),
    ('{"title": "Mug with {braces} and \\"quotes\\""}', 'Mug with {braces} and "quotes"', "ok"),
    ('noise {"other": 1} then {"title": "Blue Cup"}', "Blue Cup", "repaired"),
    ('{"name": "Red Mug"}', None, "missing_key"),
    ('{"title": ""}', None, "missing_key"),
    ('{"title": 42}', None, "missing_key"),
    ("A red mug made of glass.", None, "not_json"),
    ('{"title": "unterminated', None, "not_json"),
    ("", None, "empty"),
    (None, None, "empty"),
])
def test_parse_answer(raw, value, status):
    assert parse_answer(raw, "title") == (value, status)


def test_failure_policies_never_score_the_word_error():
    raw = "```\nA red mug\n```"
    value, status = parse_answer(raw, "title")
    assert status == "not_json"
    assert completion_text(raw, value, status, "raw") == "A red mug"
    assert completion_text(raw, value, status, "empty") == ""
    assert completion_text(raw, value, status, "excluded") is None
    assert completion_text('{"title": "x"}', "x", "ok", "excluded") == "x"
    with pytest.raises(ValueError, match="unknown failure policy 'error'"):
        completion_text(raw, value, status, "error")


# Hostile answers (issue #20): every answer gets a status, nothing raises, one rule for control
# characters (raw or escaped: one space, repaired) and for nesting (the key at the top of the object).
@pytest.mark.parametrize("raw, value, status", [
    ("[" * 995 + "]" * 995, None, "not_json"),
    ('{"title": "x", "deep": ' + "[" * 995 + "]" * 995 + "}", None, "not_json"),
    ('{"a": ' * 995 + "1" + "}" * 995, None, "not_json"),
    ("{" * 995, None, "not_json"),
    ('{"title": "Mug ' + "[" * 40 + '"}', "Mug " + "[" * 40, "ok"),  # brackets inside a string are text
    ('{"title": "x", "d": ' + "[" * 31 + "]" * 31 + "}", "x", "ok"),  # 32 levels: read
    ('{"title": "x", "d": ' + "[" * 32 + "]" * 32 + "}", None, "not_json"),  # 33: not read
    ('{"title": "Mug \\ud83d"}', "Mug \ufffd", "repaired"),
    ('{"title": "Mug \ud83d"}', "Mug \ufffd", "repaired"),
    ('{"title": "Red\nMug"}', "Red Mug", "repaired"),
    ('{"title": "Red\tMug"}', "Red Mug", "repaired"),
    ('{"title": "Red\\nMug"}', "Red Mug", "repaired"),
    ('{"title": "Red\x00Mug"}', "Red Mug", "repaired"),
    ('{"title": "Red\\u0000Mug"}', "Red Mug", "repaired"),
    ('{"title": "Red\x7f\x9f\x01Mug"}', "Red Mug", "repaired"),
    ('{"title": "\\u0000"}', None, "missing_key"),
    ('{"product": {"title": "Red Mug"}}', None, "missing_key"),
    ('Here you go: {"product": {"title": "Red Mug"}}', None, "missing_key"),
    ('{"a": 1 {"title": "Red Mug"}}', "Red Mug", "repaired"),  # an unreadable object: the ones inside it
    ('{ I think {"title": "Red Mug"}', "Red Mug", "repaired"),  # a brace never closed
    ("It's here: {\"title\": \"Kid's Mug\"}", "Kid's Mug", "repaired"),  # apostrophes in prose
    ('{"title": "Red Mug"}\n```json\n{"title": "Blue Mug"}\n```', "Blue Mug", "repaired"),  # fences first
    ("```" + " " * 5000 + "{", None, "not_json"),
])
def test_hostile_answers(raw, value, status):
    assert parse_answer(raw, "title") == (value, status)


def test_a_repaired_value_and_a_failed_raw_answer_can_be_written():
    """A lone surrogate is repaired in the value and in the raw text a failed parse is scored as."""
    import polars as pl

    from mmpcbench.completion.answers import encodable

    value, status = parse_answer('{"title": "Mug \\ud83d"}', "title")
    raw = "Mug \ud83d no json"
    text = completion_text(raw, *parse_answer(raw, "title"), "raw")
    assert text == "Mug \ufffd no json"
    pl.DataFrame({"raw": [encodable(raw)], "text": [value]}).write_parquet(__import__("io").BytesIO())


def test_parse_answer_is_linear_in_the_answers_length():
    """200,000 opening braces (or fences, or nested objects) answer within seconds: a quadratic scan
    (the one before) takes minutes. A guard, not a timing: benchmarks/parse_answers.py measures."""
    import signal

    def too_slow(*_):
        raise TimeoutError("parse_answer took over 20 s on a 200,000-character answer")

    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(20)
    try:
        for raw in ("{" * 200_000, '{"a": ' * 100_000, "```" + " " * 200_000, "{'" * 100_000, "[{" * 100_000,
                    '{"title": "x"}' * 20_000):
            assert parse_answer(raw, "title")[1] in ("not_json", "missing_key", "repaired")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


STATUSES = {"ok", "repaired", "missing_key", "not_json", "empty"}


def _check(raw: str) -> None:
    value, status = parse_answer(raw, "title")
    assert status in STATUSES
    assert (value is not None) == (status in ("ok", "repaired"))
    if value is not None:
        value.encode("utf-8")  # writable
        assert value == value.strip() and value
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value)
    completion_text(raw, value, status, "raw").encode("utf-8")


@given(st.binary(max_size=400))
@settings(max_examples=300, deadline=None, derandomize=True, database=None)
def test_any_byte_string_gets_a_status(data):
    """Random bytes, decoded as a served engine might (lone surrogates from bad UTF-8 included)."""
    _check(data.decode("utf-8", errors="surrogateescape"))


@given(st.lists(st.sampled_from(['{', '}', '[', ']', '"', "'", "\\", ",", ":", "```", "json", '"title"',
                                 '"x"', "\n", "\x00", "\ud83d", " ", "a"]), max_size=60).map("".join))
@settings(max_examples=400, deadline=None, derandomize=True, database=None)
def test_any_mix_of_json_punctuation_gets_a_status(raw):
    _check(raw)
