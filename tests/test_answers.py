import pytest

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
