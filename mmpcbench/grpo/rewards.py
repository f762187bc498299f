"""The rule-based rewards of GRPO (paper §3.3), as callables with TRL's reward signature.

TRL calls a reward as ``reward(prompts=..., completions=..., **columns)`` with every dataset column
except ``prompt`` (one value per completion) and wants one float per completion. A completion is the
answer text, or — for conversational prompts — ``[{"role": "assistant", "content": text}]``.
Every reward first parses the answer with the project's own parser (:func:`parse_answer`, the
``complete`` stage's) for the task's key (``title`` / ``prompt``); an answer that does not parse gets
0 from every reward (and counts against the parse rate of the reward log).

- **format** (``FormatReward``): ``scale`` (1.0) when the answer parses to a non-empty string, else 0;
- **I→T similarity** (``TextSimilarityReward``): the cosine of the text encoder's embeddings
  (all-MiniLM-L6-v2 in the paper config: ``encoders.text``) of the parsed title and the item's true
  text (column ``reference_text``), × ``scale`` (2.0): identical texts give 2.0;
- **T→I similarity** (``ImageSimilarityReward``): the parsed prompt is painted by the project's
  diffusion code (:func:`mmpcbench.diffusion.paint.paint`, the ``diffusion`` settings) into
  ``n_images`` (4) images, the k-th seeded with ``derive_seed(seed, parent_asin, k)`` — the same four
  seeds for every completion of an item's group, so that the group-relative advantage compares the
  prompts and not the noise they were painted from — and each is compared with the item's true cover
  (column ``cover_path``) by the CQBench CLIP image–image similarity (:func:`image_scores` with
  ``metrics=["clip"]``: the same encoder, the generated image resized to the cover's size, the same
  preprocessing); the mean × ``scale`` (4.0).

The encoders and the diffusion pipeline are loaded once, when the reward is built, and reused for every
step; they run on the device of their spec (the training GPU on a cluster).
"""

from __future__ import annotations

import logging

import numpy as np

from mmpcbench.completion.answers import parse_answer
from mmpcbench.seeds import derive_seed

log = logging.getLogger(__name__)


def completion_text(completion) -> str:
    """The answer text of a TRL completion (a string, or a conversational list of messages)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        return "".join(str(m.get("content", "")) if isinstance(m, dict) else str(m) for m in completion)
    raise TypeError(f"a completion is a string or a list of messages, not {type(completion).__name__}")


def parsed_answers(completions, answer_key: str) -> list[str | None]:
    """The parsed answer of every completion (None where the project's parser finds none)."""
    return [parse_answer(completion_text(c), answer_key)[0] for c in completions]


class FormatReward:
    """``scale`` when the answer parses to a non-empty string under ``answer_key``, else 0."""

    def __init__(self, answer_key: str, scale: float = 1.0):
        self.answer_key, self.scale = answer_key, scale
        self.__name__ = "format"

    def __call__(self, prompts=None, completions=None, **columns) -> list[float]:
        return [self.scale if answer is not None else 0.0 for answer in parsed_answers(completions, self.answer_key)]


class TextSimilarityReward:
    """I→T: ``scale`` × cosine of the text encoder's embeddings of the parsed answer and ``reference_text``."""

    def __init__(self, answer_key: str, encoder_spec: dict, scale: float = 2.0, encoder=None):
        from mmpcbench.encoders import TextEncoder

        self.answer_key, self.scale = answer_key, scale
        self.encoder = encoder or TextEncoder(encoder_spec)
        self.__name__ = "similarity"

    def __call__(self, prompts=None, completions=None, reference_text=None, **columns) -> list[float]:
        if reference_text is None:
            raise ValueError("the I→T similarity reward needs the dataset column 'reference_text'")
        answers = parsed_answers(completions, self.answer_key)
        rewards = [0.0] * len(answers)
        rows = [i for i, answer in enumerate(answers) if answer is not None]
        if rows:
            a = self.encoder.encode([answers[i] for i in rows])
            # a group's completions share one reference: each distinct text is encoded once
            references = list(dict.fromkeys(reference_text[i] or "" for i in rows))
            position = {text: k for k, text in enumerate(references)}
            b = self.encoder.encode(references)[[position[reference_text[i] or ""] for i in rows]]
            for i, cosine in zip(rows, np.sum(a * b, axis=1)):
                rewards[i] = self.scale * float(cosine)
        return rewards


class ImageSimilarityReward:
    """T→I: ``scale`` × the mean CQBench CLIP similarity of ``n_images`` paintings of the parsed prompt
    to the item's true cover (``cover_path``), seeded per (item, image): every completion of a group is
    painted from the same ``n_images`` seeds, so the group-relative advantage compares prompts, not the
    luck of the noise."""

    def __init__(self, answer_key: str, diffusion: dict, clip: dict, scale: float = 4.0, n_images: int = 4,
                 seed: int = 0, pipeline=None, encoder=None, image_options: dict | None = None):
        from mmpcbench.diffusion.paint import load_pipeline
        from mmpcbench.encoders import ImageFeatures

        self.answer_key, self.scale, self.n_images, self.seed = answer_key, scale, n_images, seed
        self.diffusion = diffusion
        self.pipeline = pipeline or load_pipeline(diffusion)
        self.encoder = encoder or ImageFeatures(clip)
        self.clip = clip
        self.image_options = dict(image_options or {})
        self.__name__ = "similarity"

    def seeds(self, parent_asin: str) -> list[int]:
        """The item's painting seeds, the same for each of its completions."""
        return [derive_seed(self.seed, parent_asin, k) for k in range(self.n_images)]

    def similarity(self, prompt: str, cover, parent_asin: str) -> float:
        """The mean CLIP similarity of the ``n_images`` paintings of ``prompt`` to ``cover`` (an RGB array)."""
        from mmpcbench.diffusion.paint import paint
        from mmpcbench.metrics.image import image_scores

        images = paint(self.pipeline, [prompt] * self.n_images, self.seeds(parent_asin), self.diffusion)
        scores = image_scores([cover] * len(images), [np.asarray(image.convert("RGB")) for image in images],
                              metrics=["clip"], clip_encoder=self.encoder,
                              **{**self.image_options, "clip": self.clip})
        return float(scores["clip"].mean())

    def __call__(self, prompts=None, completions=None, parent_asin=None, cover_path=None, **columns) -> list[float]:
        from mmpcbench.metrics.image import read_image

        if parent_asin is None or cover_path is None:
            raise ValueError("the T→I similarity reward needs the dataset columns 'parent_asin' and 'cover_path'")
        answers = parsed_answers(completions, self.answer_key)
        covers: dict[str, np.ndarray] = {}
        rewards = []
        for answer, asin, path in zip(answers, parent_asin, cover_path):
            if answer is None:
                rewards.append(0.0)
                continue
            if asin not in covers:
                covers[asin] = read_image(path)
            rewards.append(self.scale * self.similarity(answer, covers[asin], asin))
        return rewards
