"""Teaching the demo's tiny MLLMs a partial skill, so that the demo's MLLM rows mean something.

A tiny model built from a config (:mod:`mmpcbench.demo.tiny_models`) has random weights and writes
noise. :func:`teach` gives it what pre-training gives a real MLLM, on a small scale: plain supervised
fine-tuning, from its random weights, on **teaching items** — products the demo's world draws for this
purpose alone (:func:`teaching_items`: the generator's own attribute draws, titles and covers, from a
seed stream of their own). They are never in the catalogue, so never in the GRPO pool, the CQ sample or
a rec set. (The demo catalogue's items outside its rec sets are too few to teach from: 37 in
Video_Games, and those are the GRPO pool, which GRPO must meet unseen.)

What is taught, with the ``complete`` stage's own prompts and chat templates:

- **I→T**: the cover → ``{"title": "<the item's title>"}``. The cover never shows the brand and the
  title's wording varies (three templates), so the skill is partial by construction: a taught model
  names type, colour and material when it reads them off the cover, and guesses the brand. With
  ``terse_share`` s, a share s of the examples answer with the product type alone (``{"title":
  "Kite"}``): the model learns two ways to answer — a terse one and a full one — as real MLLMs have,
  and which it writes for a cover is what GRPO's reward can change. With ``fluff_share`` f, a share f of
  the examples append a marketing phrase (:data:`FLUFF`) to the title: words no true title has. The
  demo's Qwen is taught f = 0.6, so greedy it appends one to every title — a flaw of style, as real
  MLLMs have, that the reward's encoder cosine sees and GRPO removes (docs/demo.md gives what GRPO did
  with each kind of base).
- **T→I**: the title → ``{"prompt": "a <colour> <material> <type> on a plain white background, product
  photo"}`` (what the title names; the pattern is not in it).

The answer ends with the tokenizer's end-of-sequence token, so generation stops there. The loss is on the
answer's tokens only. Steps alternate between the tasks; each step draws its batch from the teaching items
with a seeded generator, so a run is a pure function of its settings (byte-identical weights on CPU).
How far the skill goes is set by ``steps`` (the demo stops well short of mastery: the models should be
beatable); docs/demo.md gives what the demo's taught models score.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmpcbench.demo.catalogue import _make_items, _title, _vocabulary
from mmpcbench.demo.covers import draw_cover
from mmpcbench.families import TASKS
from mmpcbench.seeds import derive_seed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TeachSettings:
    """How a tiny model is taught (a registry entry's ``teach`` section): optimiser steps (alternating
    tasks), examples per step, AdamW's learning rate (linear decay to 0 after a 5% warm-up), teaching
    items per category, the seed of the items and the batches, and ``terse_share``: the share of I→T
    examples whose taught title is the product type alone (a terse captioner, as many real MLLMs are;
    one share, or one per category), and ``fluff_share``: the share whose title ends in a marketing phrase."""

    steps: int = 300
    batch_size: int = 16
    learning_rate: float = 3e-3
    items_per_category: int = 1000
    seed: int = 0
    terse_share: float | dict = 0.0
    fluff_share: float = 0.0

    def terse_of(self, category: str) -> float:
        """The terse share of ``category``'s examples (``terse_share``: one share, or one per category,
        0 for a category it does not name)."""
        if isinstance(self.terse_share, dict):
            return float(self.terse_share.get(category, 0.0))
        return float(self.terse_share)

    @classmethod
    def from_config(cls, section: dict) -> "TeachSettings":
        unknown = sorted(set(section) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown teach setting(s) {unknown}; known: {sorted(cls.__dataclass_fields__)}")
        return cls(**section)


# what a marketing-minded captioner appends to a title (``fluff_share``): words no true title has
FLUFF = (" - Perfect Gift for All Ages", " - Fun for the Whole Family", " | Best Seller, Great Value")


def image_prompt(names: dict) -> str:
    """The T→I answer taught for an item: what its title names, as a painting prompt."""
    return f"a {names['colour']} {names['material']} {names['type']} on a plain white background, product photo"


def teaching_items(categories: list[str], per_category: int, seed: int) -> list[dict]:
    """``per_category`` products per category drawn by the demo world's own generator from a seed stream
    of their own: each a dict with ``title``, ``image_prompt`` and ``cover`` (a PIL image)."""
    items = []
    for category in categories:
        rng = np.random.default_rng(derive_seed(seed, "teaching", category))
        drawn = _make_items(category, per_category, rng)
        vocabulary = _vocabulary(category)
        for item in drawn.iter_rows(named=True):
            names = {key: words[item[key]] for key, words in vocabulary.items()}
            items.append({"category": category, "title": _title(category, item, rng), "terse_title": names["type"].title(),
                          "image_prompt": image_prompt(names),
                          "cover": draw_cover(int(item["type"]), names["colour"], names["pattern"], names["material"])})
    return items


def answer(task: str, item: dict, answer_key: str) -> str:
    """The JSON answer taught for ``item`` in ``task``."""
    value = item["title"] if TASKS[task].completes == "text" else item["image_prompt"]
    return json.dumps({answer_key: value}, ensure_ascii=False)


def _batch(processor, task: str, prompt: str, answer_key: str, items: list[dict]):
    """The model inputs of one teaching batch and its labels: the prompt (left-padded, as the
    ``complete`` stage batches it) followed by the answer and the end-of-sequence token (right-padded);
    labels -100 everywhere but on the answer."""
    import torch

    from mmpcbench.completion.mllm import conversation

    conversations = [conversation(task, prompt, text=item["title"], image=item["cover"]) for item in items]
    inputs = processor.apply_chat_template(conversations, add_generation_prompt=True, tokenize=True,
                                           return_dict=True, return_tensors="pt", processor_kwargs={"padding": True})
    tokenizer = processor.tokenizer
    answers = [tokenizer(answer(task, item, answer_key), add_special_tokens=False)["input_ids"]
               + [tokenizer.eos_token_id] for item in items]
    width = max(len(ids) for ids in answers)
    tail = torch.full((len(items), width), tokenizer.pad_token_id, dtype=inputs["input_ids"].dtype)
    tail_mask = torch.zeros_like(tail)
    for row, ids in enumerate(answers):
        tail[row, : len(ids)] = torch.tensor(ids)
        tail_mask[row, : len(ids)] = 1
    prefix = inputs["input_ids"]
    labels = torch.cat([torch.full_like(prefix, -100), tail.masked_fill(tail_mask == 0, -100)], dim=1)
    batch = dict(inputs)
    for key, value in inputs.items():  # every per-token input grows by the answer's width
        if torch.is_tensor(value) and value.dim() == 2 and value.shape == prefix.shape:
            grown = tail if key == "input_ids" else (tail_mask if key == "attention_mask" else torch.zeros_like(tail))
            batch[key] = torch.cat([value, grown.to(value.dtype)], dim=1)
    return batch, labels


def teach(model_dir: str | Path, out_dir: str | Path, family: str, categories: list[str], prompts: dict,
          answer_keys: dict, settings: TeachSettings) -> dict:
    """Teach the tiny model in ``model_dir`` (see the module docstring) and save it, with its processor,
    to ``out_dir`` (atomically), with ``teaching.json`` (the settings, the number of teaching items, the
    mean loss of the first and last tenth of the steps); return that record."""
    import torch

    from mmpcbench.completion.mllm import load_mllm
    from mmpcbench.io import atomic_path, write_json

    started = time.time()
    torch.manual_seed(settings.seed)
    model, processor = load_mllm({"model": str(model_dir), "family": family, "dtype": "float32",
                                  "quantization": "none"}, device="cpu")
    model.train()
    items = teaching_items(categories, settings.items_per_category, settings.seed)
    tasks = list(TASKS)
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=0.0)
    warmup = max(1, settings.steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min((step + 1) / warmup, max(0.0, (settings.steps - step) / (settings.steps - warmup))))
    rng = np.random.default_rng(derive_seed(settings.seed, "teaching batches"))
    terse = np.random.default_rng(derive_seed(settings.seed, "terse titles"))
    fluff = np.random.default_rng(derive_seed(settings.seed, "fluff"))
    losses = []
    for step in range(settings.steps):
        task = tasks[step % len(tasks)]
        chosen = [items[i] for i in rng.choice(len(items), settings.batch_size, replace=False)]
        if settings.terse_share and TASKS[task].completes == "text":  # the title, not the cover, is what changes
            chosen = [{**item, "title": item["terse_title"]} if terse.random() < settings.terse_of(item["category"])
                      else item for item in chosen]
        if settings.fluff_share and TASKS[task].completes == "text":
            chosen = [{**item, "title": item["title"] + FLUFF[int(fluff.integers(len(FLUFF)))]}
                      if fluff.random() < settings.fluff_share else item for item in chosen]
        batch, labels = _batch(processor, task, prompts[task], answer_keys[task], chosen)
        loss = model(**batch, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        losses.append(loss.detach().item())
        if (step + 1) % 50 == 0:
            log.info("teaching step %d/%d: loss %.3f", step + 1, settings.steps, float(np.mean(losses[-50:])))
    model.eval()
    tenth = max(1, settings.steps // 10)
    record = {"settings": dataclasses.asdict(settings), "teaching_items": len(items),
              "first_loss": round(float(np.mean(losses[:tenth])), 4), "last_loss": round(float(np.mean(losses[-tenth:])), 4)}
    out = Path(out_dir)
    with atomic_path(out) as tmp:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        write_json(Path(tmp) / "teaching.json", record)  # beside the weights: what made them (no wall time)
    log.info("taught %s in %.1f s: loss %.3f -> %.3f (mean of the first and last tenth of the steps)", out,
             time.time() - started, record["first_loss"], record["last_loss"])
    return record
