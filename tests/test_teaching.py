"""Teaching the demo's tiny MLLMs (mmpcbench.demo.teaching): the teaching items, the batches' labels,
and a short teaching run whose model then answers in JSON through the production completion code."""

import json

import polars as pl
import pytest

from mmpcbench.completion.mllm import CompletionRequest, complete_items, load_mllm
from mmpcbench.demo.teaching import TeachSettings, _batch, answer, teach, teaching_items
from mmpcbench.demo.tiny_models import build_tiny_gemma3, build_tiny_qwen2_5_vl

CATEGORIES = ["Toys_and_Games", "Video_Games"]
PROMPTS = {"i2t": 'The cover. Reply {"title": "..."}.', "t2i": 'Product: "{text}". Reply {"prompt": "..."}.'}
KEYS = {"i2t": "title", "t2i": "prompt"}


def test_teaching_items_are_seeded_and_their_answers_name_the_attributes():
    items = teaching_items(CATEGORIES, 30, seed=7)
    again = teaching_items(CATEGORIES, 30, seed=7)
    assert len(items) == 60
    assert [i["title"] for i in items] == [i["title"] for i in again]
    assert [i["cover"].tobytes() for i in items[:5]] == [i["cover"].tobytes() for i in again[:5]]
    assert [i["title"] for i in teaching_items(CATEGORIES, 30, seed=8)] != [i["title"] for i in items]
    # the prompt names what the title names: colour, material, type
    first = items[0]
    assert all(word.lower() in first["title"].lower() for word in first["image_prompt"].split(" on ")[0].split()[1:])
    assert json.loads(answer("i2t", first, "title")) == {"title": first["title"]}
    assert first["terse_title"].lower() in first["title"].lower()  # the terse answer: the product type alone
    assert [i["category"] for i in items] == ["Toys_and_Games"] * 30 + ["Video_Games"] * 30


def test_the_terse_share_is_one_share_or_one_per_category():
    assert TeachSettings(terse_share=0.3).terse_of("Video_Games") == 0.3
    per_category = TeachSettings.from_config({"terse_share": {"Toys_and_Games": 0.7}})
    assert per_category.terse_of("Toys_and_Games") == 0.7 and per_category.terse_of("Video_Games") == 0.0


@pytest.mark.parametrize("builder, family", [(build_tiny_qwen2_5_vl, "qwen2_5_vl"), (build_tiny_gemma3, "gemma3")])
def test_a_batch_is_labelled_on_the_answer_alone(tmp_path, builder, family):
    model, processor = load_mllm({"model": str(builder(tmp_path / family)), "family": family, "dtype": "float32",
                                  "quantization": "none"}, device="cpu")
    items = teaching_items(CATEGORIES, 3, seed=0)
    for task in ("i2t", "t2i"):
        batch, labels = _batch(processor, task, PROMPTS[task], KEYS[task], items)
        assert labels.shape == batch["input_ids"].shape
        tokenizer = processor.tokenizer
        for row, item in enumerate(items):
            taught = labels[row][labels[row] != -100].tolist()
            assert tokenizer.decode(taught[:-1]) == answer(task, item, KEYS[task])  # spaces and all
            assert taught[-1] == tokenizer.eos_token_id
        assert model(**batch, labels=labels).loss.item() > 0


def test_a_taught_model_answers_in_json_through_the_production_code(tmp_path):
    """150 steps (the demo teaches 600): the loss falls and the answers parse, in 4-bit as the demo runs it."""
    model_dir = build_tiny_qwen2_5_vl(tmp_path / "random")
    record = teach(model_dir, tmp_path / "taught", "qwen2_5_vl", CATEGORIES, PROMPTS, KEYS,
                   TeachSettings(steps=150, learning_rate=3e-3, items_per_category=200, seed=1))
    assert record["last_loss"] < record["first_loss"] / 3
    assert json.loads((tmp_path / "taught/teaching.json").read_text()) == record
    held_out = teaching_items(CATEGORIES, 8, seed=99)
    rows = []
    for k, item in enumerate(held_out):
        item["cover"].save(tmp_path / f"{k}.jpg")
        rows.append({"parent_asin": f"H{k:02d}", "text": item["title"], "image_path": f"{k}.jpg"})
    entry = {"model": str(tmp_path / "taught"), "family": "qwen2_5_vl", "dtype": "float32", "quantization": "nf4",
             "batch_size": 16, "max_new_tokens": {"i2t": 24, "t2i": 24}, "generation": {"do_sample": False}}
    for task in ("i2t", "t2i"):
        frame = complete_items(CompletionRequest(task, PROMPTS[task], KEYS[task]), entry, pl.DataFrame(rows), tmp_path,
                               tmp_path / f"{task}.parquet")
        assert frame["parse_status"].is_in(["ok", "repaired"]).mean() >= 0.9, frame["raw"].to_list()
