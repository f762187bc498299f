"""Tiny multimodal LLMs for the demo and the tests, built from configs.

No VLM weights can be had offline, so the demo builds a Qwen2.5-VL and a Gemma-3 model from configs,
with BPE tokenizers trained locally on product sentences and the demo world's words, and saves them with
``save_pretrained``. Built, they have random weights and write noise; the demo then teaches them a partial
skill (:mod:`mmpcbench.demo.teaching`). The registry of the demo points at those folders, so the demo and
the tests run the production loading and generation code — the same classes, processors, chat templates
and the bitsandbytes 4-bit path — only with tiny weights.
"""

from __future__ import annotations

from pathlib import Path

from mmpcbench.demo.vocabulary import BRANDS, COLOURS, MATERIALS, PATTERNS, PRODUCT_TYPES, SHAPES
from mmpcbench.io import atomic_path

CORPUS = [
    "You are a helpful assistant.",
    'Return JSON: {"title": "Lumora Red Glass Mug, Striped Design"}',
    'Return JSON: {"prompt": "a studio photo of a blue striped pillow on a white background"}',
    "A red mug made of glass. Its striped circle-shaped body makes it easy to recognise.",
    "product title image cover photo colour pattern material shape",
    "a on plain white background, product photo by in made of from",
]
# the demo world's words, so that a taught model's titles and prompts are a few tokens each
WORDS = [*BRANDS, *COLOURS, *PATTERNS, *MATERIALS, *SHAPES, *(kind for kinds in PRODUCT_TYPES.values() for kind in kinds)]
CORPUS += [" ".join(WORDS), " ".join(word.title() for word in WORDS)] * 4
CHAT_TEMPLATE_QWEN = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>{% else %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CHAT_TEMPLATE_GEMMA = (
    "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<start_of_image>{% else %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def _bpe(special: list[str], vocab_size: int = 1000, sentencepiece: bool = False):
    """A BPE tokenizer trained on :data:`CORPUS`: byte-level (GPT-2 style, as Qwen's), or with
    ``sentencepiece`` as Gemma's is (spaces as ``▁``, unknown characters as byte tokens): the
    transformers class of a Gemma tokenizer sets that normaliser and decoder itself, so a vocabulary
    trained byte-level would meet every space as an unknown token."""
    import string

    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    if sentencepiece:
        tokenizer = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
        tokenizer.normalizer = normalizers.Replace(" ", "\u2581")
        tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("\u2581"), behavior="merged_with_next")
        tokenizer.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()])
        bytes_ = [f"<0x{b:02X}>" for b in range(256)]
        alphabet = ["\u2581", *string.printable.strip()]
        special = [*special, *bytes_]
    else:
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special, initial_alphabet=alphabet)
    tokenizer.train_from_iterator(CORPUS, trainer)
    return tokenizer


def build_tiny_qwen2_5_vl(out_dir: str | Path, seed: int = 0) -> Path:
    """A ~0.2M-parameter Qwen2.5-VL (2 text layers of width 64, a 2-layer vision tower of width 64), saved
    with its processor (image processor, the mandatory video processor, tokenizer, chat template).

    Every linear layer's input width is a multiple of 64, bitsandbytes' NF4 block size: on CPUs with
    AVX512-BF16, bitsandbytes 0.50 repacks 4-bit weights for its CPU kernel and fails on narrower layers
    (``shape '[96, 0]' is invalid``), so a width-32 tower ran in 4-bit only on other CPUs."""
    import torch
    from transformers import (
        Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor, Qwen2TokenizerFast,
        Qwen2VLImageProcessor,
    )
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
               "<|image_pad|>", "<|video_pad|>"]
    tokenizer = Qwen2TokenizerFast(tokenizer_object=_bpe(special), eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", unk_token=None)
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in special}
    config = Qwen2_5_VLConfig(
        text_config=dict(
            vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
            rope_parameters={"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 1e4},
            bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
        ),
        vision_config=dict(depth=2, hidden_size=64, intermediate_size=128, num_heads=2, out_hidden_size=64,
                           fullatt_block_indexes=[1], patch_size=14, spatial_merge_size=2, temporal_patch_size=2),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    pixels = dict(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 16)
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(**pixels), video_processor=Qwen2VLVideoProcessor(**pixels),
        tokenizer=tokenizer, chat_template=CHAT_TEMPLATE_QWEN,
    )
    return _save(model, processor, out_dir)


def build_tiny_gemma3(out_dir: str | Path, seed: int = 0) -> Path:
    """A ~0.1M-parameter Gemma-3 vision-language model (SigLIP tower of 32 px, 4 image tokens)."""
    import torch
    from transformers import (
        Gemma3Config, Gemma3ForConditionalGeneration, Gemma3ImageProcessor, Gemma3Processor, GemmaTokenizerFast,
    )

    special = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>", "<start_of_image>",
               "<end_of_image>", "<image_soft_token>"]
    tokenizer = GemmaTokenizerFast(
        tokenizer_object=_bpe(special, 1300, sentencepiece=True), bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>",
        extra_special_tokens={"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>",
                              "image_token": "<image_soft_token>"},
    )
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in special}
    config = Gemma3Config(
        text_config=dict(
            vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, head_dim=16, query_pre_attn_scalar=16,
            sliding_window=32, layer_types=["sliding_attention", "full_attention"], max_position_embeddings=4096,
            bos_token_id=ids["<bos>"], eos_token_id=[ids["<eos>"], ids["<end_of_turn>"]], pad_token_id=ids["<pad>"],
        ),
        vision_config=dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64,
                           num_hidden_layers=2, num_attention_heads=2),
        mm_tokens_per_image=4, boi_token_index=ids["<start_of_image>"], eoi_token_index=ids["<end_of_image>"],
        image_token_index=ids["<image_soft_token>"],
    )
    torch.manual_seed(seed)
    model = Gemma3ForConditionalGeneration(config).eval()
    processor = Gemma3Processor(
        image_processor=Gemma3ImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE_GEMMA, image_seq_length=4,
    )
    return _save(model, processor, out_dir)


def _save(model, processor, out_dir) -> Path:
    out = Path(out_dir)
    with atomic_path(out) as tmp:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
    return out




def build_tiny_sd3(out_dir: str | Path, seed: int = 0) -> Path:
    """A tiny random-weight Stable Diffusion 3 pipeline (about the diffusers test-size configs: a
    one-layer MMDiT, a three-block VAE, two CLIP text encoders and a T5 encoder of width 32), saved with
    ``save_pretrained``. It paints noise — it exists to run the production diffusion code."""
    import torch
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline
    from transformers import (
        CLIPTextConfig, CLIPTextModelWithProjection, CLIPTokenizerFast, PreTrainedTokenizerFast, T5Config,
        T5EncoderModel,
    )

    clip_tokenizer = CLIPTokenizerFast(
        tokenizer_object=_bpe(["<|startoftext|>", "<|endoftext|>"], 300), bos_token="<|startoftext|>",
        eos_token="<|endoftext|>", pad_token="<|endoftext|>", unk_token="<|endoftext|>", model_max_length=77,
    )
    t5_tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_bpe(["<pad>", "</s>", "<unk>"], 300), pad_token="<pad>", eos_token="</s>",
        unk_token="<unk>", model_max_length=512,
    )
    torch.manual_seed(seed)

    def clip():
        return CLIPTextModelWithProjection(CLIPTextConfig(
            vocab_size=len(clip_tokenizer), hidden_size=32, intermediate_size=37, num_hidden_layers=2,
            num_attention_heads=4, projection_dim=32, max_position_embeddings=77,
            bos_token_id=clip_tokenizer.bos_token_id, eos_token_id=clip_tokenizer.eos_token_id,
            pad_token_id=clip_tokenizer.pad_token_id,
        ))

    pipeline = StableDiffusion3Pipeline(
        transformer=SD3Transformer2DModel(
            sample_size=32, patch_size=1, in_channels=4, num_layers=1, attention_head_dim=8, num_attention_heads=4,
            caption_projection_dim=32, joint_attention_dim=32, pooled_projection_dim=64, out_channels=4,
        ),
        # three VAE blocks: latents 4x smaller than the image, so a 32x32 cover is 64 MMDiT tokens
        vae=AutoencoderKL(block_out_channels=(4, 8, 8), down_block_types=("DownEncoderBlock2D",) * 3,
                          up_block_types=("UpDecoderBlock2D",) * 3, layers_per_block=1, latent_channels=4,
                          norm_num_groups=1, use_quant_conv=False, use_post_quant_conv=False,
                          shift_factor=0.0609, scaling_factor=1.5035),
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=clip(), tokenizer=clip_tokenizer, text_encoder_2=clip(), tokenizer_2=clip_tokenizer,
        text_encoder_3=T5EncoderModel(T5Config(
            vocab_size=len(t5_tokenizer), d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
            pad_token_id=t5_tokenizer.pad_token_id, eos_token_id=t5_tokenizer.eos_token_id,
        )),
        tokenizer_3=t5_tokenizer,
    )
    out = Path(out_dir)
    with atomic_path(out) as tmp:
        pipeline.save_pretrained(tmp)
    return out


TINY_BUILDERS = {"qwen2_5_vl": build_tiny_qwen2_5_vl, "gemma3": build_tiny_gemma3, "sd3": build_tiny_sd3}
