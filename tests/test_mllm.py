"""MLLM completion through the production loading and generation code, on tiny random-weight models."""

import polars as pl
import pytest
from PIL import Image

import mmpcbench.completion.mllm as mllm
from mmpcbench.completion.mllm import CompletionRequest, MLLMError, complete_items, load_mllm
from mmpcbench.demo.tiny_models import build_tiny_gemma3, build_tiny_qwen2_5_vl

PROMPTS = {"i2t": 'Write the title as JSON {"title": "..."}.', "t2i": 'Product: "{text}". JSON {"prompt": "..."}.'}
KEYS = {"i2t": "title", "t2i": "prompt"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {"qwen2_5_vl": build_tiny_qwen2_5_vl(root / "qwen"), "gemma3": build_tiny_gemma3(root / "gemma")}


@pytest.fixture
def items(tmp_path):
    rows = []
    for k, colour in enumerate([(200, 0, 0), (0, 200, 0), (0, 0, 200), (90, 90, 0), (0, 90, 90), (60, 0, 60),
                                (10, 10, 10), (250, 250, 250)]):
        Image.new("RGB", (64, 48), colour).save(tmp_path / f"B{k}.png")
        rows.append({"parent_asin": f"B{k}", "text": f"Red glass mug number {k}", "image_path": f"B{k}.png"})
    return pl.DataFrame(rows), tmp_path


def complete(task, spec, frame, root, out, **options):
    """complete_items with the test prompts (``options``: the request's shard_size, seed, failure_policy)."""
    return complete_items(CompletionRequest(task, PROMPTS[task], KEYS[task], **options), spec, frame, root, out)


def entry(tiny, family, quantization="none", batch_size=4):
    return {"model": str(tiny[family]), "family": family, "quantization": quantization, "batch_size": batch_size,
            "dtype": "float32" if family == "qwen2_5_vl" else "bfloat16",
            "max_new_tokens": {"i2t": 6, "t2i": 6}, "generation": {"do_sample": False}}


@pytest.mark.parametrize("family, quantization", [("qwen2_5_vl", "nf4"), ("qwen2_5_vl", "none"), ("gemma3", "none")])
@pytest.mark.parametrize("task", ["i2t", "t2i"])
def test_tiny_model_generates_through_the_real_loading_code(tiny, items, tmp_path, family, quantization, task):
    frame, root = items
    spec = entry(tiny, family, quantization)
    first = complete(task, spec, frame, root, tmp_path / "a.parquet", shard_size=5)
    assert first["parent_asin"].to_list() == [f"B{k}" for k in range(8)]
    assert (first["n_input_tokens"] > 0).all() and first["n_output_tokens"].is_between(0, 6).all()
    assert set(first["parse_status"]) <= {"ok", "repaired", "missing_key", "not_json", "empty"}
    # a random-weight model does not write JSON: the raw answer is kept, never the word "error"
    assert first.filter(pl.col("parse_status") == "not_json")["text"].to_list() == [
        " ".join(r.split()) for r in first.filter(pl.col("parse_status") == "not_json")["raw"]]
    again = complete(task, spec, frame, root, tmp_path / "b.parquet", shard_size=5)
    assert again.equals(first)  # greedy on CPU: deterministic
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    assert not (tmp_path / "a.parquet.shards").exists()


def test_images_reach_the_model(tiny, items, tmp_path):
    """The cover is part of the model input (pixel values go into generate)."""
    frame, root = items
    model, processor = load_mllm(entry(tiny, "qwen2_5_vl"))
    red = mllm.conversation("i2t", PROMPTS["i2t"], image=Image.open(root / "B0.png").convert("RGB"))
    inputs = processor.apply_chat_template([red], add_generation_prompt=True, tokenize=True, return_dict=True,
                                           return_tensors="pt")
    assert "pixel_values" in inputs and inputs["pixel_values"].numel() > 0


def count_generate_calls(monkeypatch, kill_at=None):
    """Record the batch size of every ``generate`` call; with ``kill_at``, that call is killed instead."""
    real_generate, calls = mllm.generate, []

    def counted(model, processor, conversations, *args):
        calls.append(len(conversations))
        if len(calls) == kill_at:
            raise KeyboardInterrupt("killed")
        return real_generate(model, processor, conversations, *args)

    monkeypatch.setattr(mllm, "generate", counted)
    return calls


def killed_run(monkeypatch, kill_at, *args, **options):
    """``complete(*args)`` killed at the ``kill_at``-th generate call."""
    count_generate_calls(monkeypatch, kill_at)
    with pytest.raises(KeyboardInterrupt):
        complete(*args, **options)


def test_a_killed_run_resumes_and_redoes_only_missing_shards(tiny, items, tmp_path, monkeypatch):
    frame, root = items
    spec = entry(tiny, "qwen2_5_vl")
    uninterrupted = complete("t2i", spec, frame, root, tmp_path / "u.parquet", shard_size=3)
    out = tmp_path / "r.parquet"
    killed_run(monkeypatch, 2, "t2i", spec, frame, root, out, shard_size=3)
    assert not out.exists() and len(list((tmp_path / "r.parquet.shards").glob("*.parquet"))) == 1
    calls = count_generate_calls(monkeypatch)
    resumed = complete("t2i", spec, frame, root, out, shard_size=3)
    assert calls == [3, 2]  # shards 2 and 3 only
    assert resumed.equals(uninterrupted)
    assert out.read_bytes() == (tmp_path / "u.parquet").read_bytes()  # a resumed run writes the same bytes


def test_a_truncated_shard_is_redone(tiny, items, tmp_path, monkeypatch, caplog):
    frame, root = items
    spec = entry(tiny, "qwen2_5_vl")
    full = complete("t2i", spec, frame, root, tmp_path / "u.parquet", shard_size=3)
    out = tmp_path / "r.parquet"
    killed_run(monkeypatch, 3, "t2i", spec, frame, root, out, shard_size=3)
    first = sorted((tmp_path / "r.parquet.shards").glob("*.parquet"))[0]
    first.write_bytes(first.read_bytes()[: first.stat().st_size // 2])  # a copy cut short
    calls = count_generate_calls(monkeypatch)
    resumed = complete("t2i", spec, frame, root, out, shard_size=3)
    assert calls == [3, 2]  # the cut shard and the missing one
    assert f"{first}: damaged" in caplog.text
    assert resumed.equals(full)


def test_a_shard_damaged_in_the_middle_is_named_and_redone(tiny, items, tmp_path, monkeypatch, caplog):
    """200 bytes overwritten mid-file, the footer intact: it used to pass the check and then fail the
    join with a bare "zstd error", on every rerun."""
    frame, root = items
    spec = entry(tiny, "qwen2_5_vl")
    complete("t2i", spec, frame, root, tmp_path / "u.parquet", shard_size=3)
    out = tmp_path / "r.parquet"
    killed_run(monkeypatch, 3, "t2i", spec, frame, root, out, shard_size=3)
    first = sorted((tmp_path / "r.parquet.shards").glob("*.parquet"))[0]
    data = bytearray(first.read_bytes())
    middle = len(data) // 2 - 100
    data[middle : middle + 200] = bytes(range(200))
    first.write_bytes(bytes(data))
    calls = count_generate_calls(monkeypatch)
    complete("t2i", spec, frame, root, out, shard_size=3)
    assert calls == [3, 2]
    assert f"{first}: damaged (its checksum differs" in caplog.text
    assert out.read_bytes() == (tmp_path / "u.parquet").read_bytes()


# Each setting a shard's answers depend on, changed between a killed run and its resume (issue #20: the
# old shards were kept, and the table mixed two prompts). (change to the request, change to the entry)
STAMPED = {
    "prompt": ({"prompt": 'Describe "{text}" for a painter. JSON {"prompt": "..."}.'}, {}),
    "max_new_tokens": ({}, {"max_new_tokens": {"i2t": 6, "t2i": 4}}),
    "generation": ({}, {"generation": {"do_sample": True, "top_k": 5}}),
    "batch_size": ({}, {"batch_size": 2}),
    "seed": ({"seed": 3}, {"generation": {"do_sample": True, "top_k": 5}}),
    "dtype": ({}, {"dtype": "bfloat16"}),
    "quantization": ({}, {"quantization": "nf4"}),
}


@pytest.mark.parametrize("setting", sorted(STAMPED))
def test_a_shard_of_other_settings_is_redone_and_the_log_says_why(tiny, items, tmp_path, monkeypatch, caplog,
                                                                   setting):
    frame, root = items
    request_change, entry_change = STAMPED[setting]
    before = entry(tiny, "qwen2_5_vl")
    if setting == "seed":
        before = {**before, **entry_change}
    after = {**entry(tiny, "qwen2_5_vl"), **entry_change}
    prompt = request_change.get("prompt", PROMPTS["t2i"])
    options = {"shard_size": 3, **{k: v for k, v in request_change.items() if k != "prompt"}}
    clean = complete_items(CompletionRequest("t2i", prompt, "prompt", **options), after, frame, root,
                           tmp_path / "clean.parquet")
    out = tmp_path / "r.parquet"
    killed_run(monkeypatch, 2, "t2i", before, frame, root, out, shard_size=3)
    calls = count_generate_calls(monkeypatch)
    resumed = complete_items(CompletionRequest("t2i", prompt, "prompt", **options), after, frame, root, out)
    assert sum(calls) == 8  # every item again: the kept shard was made otherwise
    assert f"made with other settings (differ in {setting})" in caplog.text
    assert resumed.equals(clean) and out.read_bytes() == (tmp_path / "clean.parquet").read_bytes()


def test_shards_of_other_weights_or_inputs_are_redone(tiny, items, tmp_path, monkeypatch, caplog):
    """The same model folder rebuilt with other weights (the demo's own case), then a cover replaced."""
    frame, root = items
    folder = build_tiny_qwen2_5_vl(tmp_path / "rebuilt")
    spec = {**entry(tiny, "qwen2_5_vl"), "model": str(folder)}
    out = tmp_path / "r.parquet"
    killed_run(monkeypatch, 2, "i2t", spec, frame, root, out, shard_size=3)
    build_tiny_qwen2_5_vl(folder, seed=1)
    calls = count_generate_calls(monkeypatch)
    rebuilt = complete("i2t", spec, frame, root, out, shard_size=3)
    assert sum(calls) == 8 and "differ in model_files" in caplog.text
    assert rebuilt.equals(complete("i2t", spec, frame, root, tmp_path / "clean.parquet", shard_size=3))

    killed_run(monkeypatch, 2, "i2t", spec, frame, root, out, shard_size=3)
    Image.new("RGB", (64, 48), (255, 128, 0)).save(root / "B1.png")  # a cover of the first shard changes
    calls = count_generate_calls(monkeypatch)
    complete("i2t", spec, frame, root, out, shard_size=3)
    assert sum(calls) == 8 and "made from other inputs" in caplog.text


def test_the_answer_key_and_failure_policy_reuse_every_shard(tiny, items, tmp_path, monkeypatch):
    """They are applied when the shards are joined: a change regenerates nothing."""
    frame, root = items
    spec = entry(tiny, "qwen2_5_vl")
    clean = complete("t2i", spec, frame, root, tmp_path / "clean.parquet", shard_size=3, failure_policy="empty")
    out = tmp_path / "r.parquet"
    killed_run(monkeypatch, 3, "t2i", spec, frame, root, out, shard_size=3)  # failure policy "raw"
    calls = count_generate_calls(monkeypatch)
    resumed = complete("t2i", spec, frame, root, out, shard_size=3, failure_policy="empty")
    assert calls == [2] and resumed.equals(clean)


def test_out_of_memory_halves_the_batch(tiny, items, tmp_path, monkeypatch, caplog):
    frame, root = items
    real_generate, sizes = mllm.generate, []

    def small_memory(model, processor, conversations, *args):
        sizes.append(len(conversations))
        if len(conversations) > 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_generate(model, processor, conversations, *args)

    monkeypatch.setattr(mllm, "generate", small_memory)
    spec = entry(tiny, "gemma3", batch_size=8)
    result = complete("i2t", spec, frame, root, tmp_path / "o.parquet",
                            shard_size=8)
    assert result.height == 8 and sizes == [8, 4, 2, 2, 2, 2]
    assert "out of memory on a batch of 8; retrying with 4" in caplog.text


def test_gemma_in_float16_is_refused(tiny):
    with pytest.raises(MLLMError, match="bfloat16"):
        load_mllm({**entry(tiny, "gemma3"), "dtype": "float16"})


def test_a_model_id_missing_offline_is_named(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MLLMError, match=r"'Qwen/No-Such-VL'.*HF_HUB_OFFLINE"):
        load_mllm({"model": "Qwen/No-Such-VL", "family": "qwen2_5_vl", "dtype": "float32",
                   "max_new_tokens": {"i2t": 4, "t2i": 4}})


def test_a_corrupt_cover_and_an_empty_text_are_counted_not_fatal(tiny, items, tmp_path):
    frame, root = items
    (root / "B2.png").write_bytes(b"<html>not an image</html>")
    spec = entry(tiny, "qwen2_5_vl")
    result = complete("i2t", spec, frame, root, tmp_path / "i.parquet", shard_size=4)
    assert dict(zip(result["parent_asin"], result["parse_status"]))["B2"] == "image_error"
    assert result.height == 8 and (result.filter(pl.col("parent_asin") != "B2")["n_input_tokens"] > 0).all()
    texts = frame.with_columns(pl.when(pl.col("parent_asin") == "B5").then(pl.lit("")).otherwise(pl.col("text"))
                               .alias("text"))
    result = complete("t2i", spec, texts, root, tmp_path / "t.parquet", shard_size=4)
    assert dict(zip(result["parent_asin"], result["parse_status"]))["B5"] == "empty_input"


def test_sampling_is_reproducible_with_the_seed(tiny, items, tmp_path):
    frame, root = items
    spec = {**entry(tiny, "gemma3"), "generation": {"do_sample": True, "temperature": 1.0}}
    runs = [complete("t2i", spec, frame, root, tmp_path / f"{k}.parquet",
                           shard_size=4, seed=seed)["raw"].to_list() for k, seed in enumerate((1, 1, 2))]
    assert runs[0] == runs[1] and runs[0] != runs[2]
