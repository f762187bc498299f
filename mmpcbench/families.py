"""Every family of the pipeline, declared once: tasks, CQBench metrics, recommenders, imputations,
text and image encoder families, MLLM families, MLLM engines and model servers, and the paper's CQBench
and GRPO tables.

A member is a small frozen record that names its implementation as ``"module:attribute"`` (imported
only when it is used, so that reading a family — config validation, the rules, the tables — never
imports torch) or as the object itself. Config validation, the Snakemake rules, the library and the
tables read these registries; nothing else lists a family's members or special-cases one by name.

Adding a member is one file (its implementation) and one line here — or, without touching the
project, one line in a module of your own named in the config's ``extensions`` (a module name or a
``.py`` path), which is imported before the config is checked and in every job::

    from mmpcbench.families import METRICS, Metric
    METRICS.add(Metric("length_ratio", task="i2t", label="Length ratio", compute="my_metrics:length_ratio"))

See ``docs/extending.md`` for each family, with the diff it takes.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

Member = TypeVar("Member")


class UnknownMember(KeyError):
    """A name that no member of a family has; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def resolve(reference: str | Any) -> Any:
    """``"package.module:attribute"`` → that attribute (imported now); any other object unchanged."""
    if not isinstance(reference, str):
        return reference
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


class Registry(Mapping[str, Member], Generic[Member]):
    """The members of one family by name, in the order they were added."""

    def __init__(self, family: str):
        self.family = family
        self._members: dict[str, Member] = {}

    def add(self, member: Member) -> Member:
        name = member.name  # type: ignore[attr-defined]
        if name in self._members and self._members[name] != member:
            raise ValueError(f"{self.family} {name!r} is declared twice")
        self._members[name] = member
        return member

    def remove(self, name: str) -> None:
        """Forget a member (for tests that add one of their own)."""
        self._members.pop(name, None)

    def __getitem__(self, name: str) -> Member:
        try:
            return self._members[name]
        except KeyError:
            raise UnknownMember(self.unknown_message([name])) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)

    def unknown(self, names) -> list[str]:
        return sorted(set(names) - set(self._members))

    def unknown_message(self, names, where: str | None = None) -> str:
        unknown = self.unknown(names)
        what = f"unknown {self.family}{'s' if len(unknown) > 1 else ''} {unknown if len(unknown) > 1 else repr(unknown[0])}"
        return f"{where + ': ' if where else ''}{what}; known: {sorted(self._members)}"


# --- tasks ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Task:
    """A completion direction: the modality it completes from the other one."""

    name: str
    label: str            # I→T
    completes: str        # the modality the completion replaces: "text" or "image"
    given: str            # the modality the MLLM is shown

    def metrics(self, per_item: bool | None = True) -> list[str]:
        """This task's CQBench metrics, in declaration order (``per_item=None``: FID-like ones too)."""
        return [m.name for m in METRICS.values() if m.task == self.name and (per_item is None or m.per_item == per_item)]


def metrics_completing(modality: str) -> list[str]:
    """The per-item metrics of the tasks that complete ``modality`` (``text``: the text metrics)."""
    return [name for task in TASKS.values() if task.completes == modality for name in task.metrics()]


TASKS: Registry[Task] = Registry("task")
TASKS.add(Task("i2t", "I→T", completes="text", given="image"))
TASKS.add(Task("t2i", "T→I", completes="image", given="text"))


# --- CQBench metrics -----------------------------------------------------------------------------------

def _plain_header(label: str, encoder: str) -> str:
    return f"{label} ({encoder})"


@dataclass(frozen=True)
class Metric:
    """A CQBench metric of one task.

    ``compute(pairs) -> np.ndarray`` gives one value per usable pair of a scoring call (the pairs
    object of its task: ``metrics.text.TextPairs`` or ``metrics.image.ImagePairs``); ``per_item``
    False marks a set-level metric (FID) that the scorer computes once per method and category.
    ``label`` names the column (GRPO tables, radar axes); ``encoder``, the key of the score summary's
    ``encoders`` whose model the CQBench tables name beside the label (``header``)."""

    name: str
    task: str
    label: str
    compute: str | Callable | None = None
    higher_is_better: bool = True
    digits: int = 4
    per_item: bool = True
    encoder: str | None = None
    header_format: str | Callable[[str, str], str] = _plain_header

    def header(self, encoders: Mapping[str, str]) -> str:
        """The CQBench table's column name: the label, and the encoder that produced it, if any."""
        if self.encoder is None:
            return self.label
        return resolve(self.header_format)(self.label, encoders.get(self.encoder, "?"))


METRICS: Registry[Metric] = Registry("metric")
for _metric in (
    Metric("cosine", "i2t", "TF-IDF cos", "mmpcbench.metrics.text:tfidf_cosine"),
    Metric("euclidean", "i2t", "Euclid. sim", "mmpcbench.metrics.text:tfidf_euclidean"),
    Metric("overlap", "i2t", "Token overlap", "mmpcbench.metrics.text:word_overlap"),
    Metric("bertscore", "i2t", "BERTScore F1", "mmpcbench.metrics.text:bertscore_f1", encoder="bertscore"),
    Metric("psnr", "t2i", "PSNR (dB)", "mmpcbench.metrics.image:psnr", digits=2),
    Metric("ssim", "t2i", "SSIM", "mmpcbench.metrics.image:ssim"),
    Metric("mse", "t2i", "MSE ↓", "mmpcbench.metrics.image:mse", higher_is_better=False),
    Metric("lpips", "t2i", "LPIPS ↓", "mmpcbench.metrics.image:lpips_distance", higher_is_better=False, encoder="lpips"),
    Metric("clip", "t2i", "CLIP / image sim.", "mmpcbench.metrics.image:clip_similarity", encoder="clip",
           header_format="mmpcbench.metrics.image:clip_header"),
    Metric("fid", "t2i", "FID ↓", None, higher_is_better=False, digits=2, per_item=False, encoder="fid"),
):
    METRICS.add(_metric)


# --- recommenders --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Recommender:
    """A RecBench recommender: its class (a ``mmpcbench.recsys.base.Recommender`` with a ``DEFAULTS``
    dict of MMRec's parameters), how an item's features reach its score (``content``: the sentence its
    Tables A.12–A.17 print, so a reader knows what its rows can show; docs/calibration.md) and, for a
    model with an item–item graph, how that graph treats an all-zero feature row (the sentence the
    RecBench tables print beside a ``zeros``/``empty`` row)."""

    name: str
    implementation: str | type
    content: str = ""
    all_zero_rows: str | None = None


RECOMMENDERS: Registry[Recommender] = Registry("recommender")
RECOMMENDERS.add(Recommender(
    "VBPR", "mmpcbench.recsys.vbpr:VBPR",
    content="VBPR scores each item with its own features (a projection of its text and image vectors beside its "
            "id embedding)."))
RECOMMENDERS.add(Recommender(
    "BM3", "mmpcbench.recsys.bm3:BM3",
    content="BM3 (as MMRec) scores with the id embeddings alone: the features only train the predictor shared by "
            "users and items, so an item's own title or cover never reaches its score; these rows can show "
            "features that harm (e.g. one constant input), not an item's content rewarded."))
RECOMMENDERS.add(Recommender(
    "FREEDOM", "mmpcbench.recsys.freedom:FREEDOM",
    content="FREEDOM (as MMRec) reads the features only through its frozen item kNN graph, the image graph at "
            "mm_image_weight (MMRec's 0.1); a constant modality (empty) gives every item the same neighbours "
            "there, so those rows rank as the other modality's graph alone.",
    all_zero_rows="an all-zero feature row gets similarity 0 to every item in FREEDOM's item kNN graph here; "
                  "MMRec's cosine is 0/0 = NaN there and torch.topk ranks NaN first, so once k items are zeroed "
                  "every item's neighbours in that modality are zeroed items (the graph the authors' zeros "
                  "baseline ran with)"))


# --- imputations ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Imputation:
    """A RecBench imputation baseline: ``rows(features, mask, seed, rate, **settings) -> array`` gives the
    masked items' feature rows (``features``: every item's real rows; ``mask``: the masked items,
    boolean; ``settings``: its entry of ``recbench.imputation_settings``). One that ``uses_interactions``
    also gets ``interactions=(users, items)``, the training pairs by itemID."""

    name: str
    rows: str | Callable
    uses_interactions: bool = False


IMPUTATIONS: Registry[Imputation] = Registry("imputation")
IMPUTATIONS.add(Imputation("zeros", "mmpcbench.features.build:impute_zeros"))
IMPUTATIONS.add(Imputation("random", "mmpcbench.features.build:impute_random"))
IMPUTATIONS.add(Imputation("mean", "mmpcbench.features.build:impute_mean"))
IMPUTATIONS.add(Imputation("propagation", "mmpcbench.features.propagation:impute_propagation", uses_interactions=True))


# --- encoders ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EncoderFamily:
    """An encoder family. Text: ``load(spec)`` returns an object with ``encode(texts) -> array``. Image:
    ``load(spec)`` returns a ``mmpcbench.encoders.ImageNetwork`` (the network, its feature function, its
    input size and mean/std, an optional PIL transform); ``label(spec)`` how a table names it."""

    name: str
    load: str | Callable
    label: str | Callable[[dict], str] | None = None


TEXT_ENCODERS: Registry[EncoderFamily] = Registry("text encoder family")
TEXT_ENCODERS.add(EncoderFamily("sentence_transformers", "mmpcbench.encoders:load_sentence_transformer"))

IMAGE_ENCODERS: Registry[EncoderFamily] = Registry("image encoder family")
IMAGE_ENCODERS.add(EncoderFamily("timm", "mmpcbench.encoders:load_timm", "mmpcbench.encoders:timm_label"))
IMAGE_ENCODERS.add(EncoderFamily("efficientnet_lite0", "mmpcbench.encoders:load_efficientnet_lite0",
                                 "mmpcbench.encoders:efficientnet_lite0_label"))
IMAGE_ENCODERS.add(EncoderFamily("open_clip", "mmpcbench.encoders:load_open_clip", "mmpcbench.encoders:open_clip_label"))


# --- MLLM families -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MLLMFamily:
    """A family of multimodal LLMs that transformers loads with ``model_class`` and ``processor_class``
    and that takes chat messages mixing ``{"type": "image"}`` and ``{"type": "text"}`` parts.
    ``dtype``: the compute dtype when the registry entry names none; ``refused_dtypes``: dtype → why
    the family cannot compute in it (Gemma-3 in float16 gives empty or NaN output)."""

    name: str
    dtype: str = "float16"
    refused_dtypes: Mapping[str, str] = field(default_factory=dict)
    model_class: str = "transformers:AutoModelForImageTextToText"
    processor_class: str = "transformers:AutoProcessor"
    # a served engine sends a cover of at most this many pixels (downscaled, aspect kept): the most the
    # family's processor keeps (Qwen2.5-VL: max_pixels; Gemma-3: its 896 x 896 input)
    max_image_pixels: int = 12_845_056


MLLM_FAMILIES: Registry[MLLMFamily] = Registry("MLLM family")
MLLM_FAMILIES.add(MLLMFamily("qwen2_5_vl", dtype="float16"))
MLLM_FAMILIES.add(MLLMFamily("gemma3", dtype="bfloat16", max_image_pixels=896 * 896,
                             refused_dtypes={"float16": "Gemma-3 must run in bfloat16 (float16 gives empty or NaN output)"}))


# --- MLLM engines and model servers ----------------------------------------------------------------------

@dataclass(frozen=True)
class Engine:
    """How a registry entry's answers are made (the entry's ``engine``; default ``transformers``).

    ``open(entry, loaded=None, server_log=None)`` is a context manager that yields an answerer, an
    object with ``answer(conversations, max_new_tokens, seed) -> [(raw, input tokens, output tokens, status)]``
    (status None for an answer; else why the item got none, counted); it is entered only when some shard
    is to be made, and leaving it frees what it holds (a model, a server). ``settings(request, entry)``
    is what the answers depend on: a shard made with other settings is redone (:mod:`mmpcbench.units`)."""

    name: str
    open: str | Callable
    settings: str | Callable


ENGINES: Registry[Engine] = Registry("MLLM engine")
ENGINES.add(Engine("transformers", open="mmpcbench.completion.mllm:in_process",
                   settings="mmpcbench.completion.mllm:in_process_settings"))
ENGINES.add(Engine("openai", open="mmpcbench.completion.served:served",
                   settings="mmpcbench.completion.served:served_settings"))


@dataclass(frozen=True)
class Server:
    """A model server that a job of a served entry (``serve: <name>``) starts inside its own allocation
    and stops when done: ``command(entry, host, port) -> argv``; ``health``, the path that answers 200
    once the model is ready to serve."""

    name: str
    command: str | Callable
    health: str = "/health"


SERVERS: Registry[Server] = Registry("model server")
SERVERS.add(Server("transformers", "mmpcbench.completion.servers:transformers_command"))
SERVERS.add(Server("vllm", "mmpcbench.completion.servers:vllm_command"))


# --- tables --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Table:
    """A table of the paper that one report rule writes (as ``<stem>.csv``, ``.md``, ``.tex``): its key
    (the rule's output name), its number in the paper (C.x: ours, beyond the paper), the report that
    builds it (``cqbench``: ``report.cqbench.write_cq_tables``; ``grpo``: ``report.grpo.write_grpo_report``;
    ``calibration``: ``report.calibration.write_calibration``), the task it shows (None: both) and its
    view of the results."""

    name: str
    number: str
    stem: str
    report: str
    task: str | None
    view: str

    @staticmethod
    def of(report: str, task: str | None, view: str) -> Table:
        return next(t for t in TABLES.values() if (t.report, t.task, t.view) == (report, task, view))


def tables_of(report: str) -> dict[str, str]:
    """The tables one report writes: name → file stem."""
    return {table.name: table.stem for table in TABLES.values() if table.report == report}


TABLES: Registry[Table] = Registry("table")
for _table in (
    Table("table2", "2", "table2_cq_i2t_by_method", "cqbench", "i2t", "by_method"),
    Table("table3", "3", "table3_cq_t2i_by_method", "cqbench", "t2i", "by_method"),
    Table("table4", "4", "table4_cq_i2t_by_category", "cqbench", "i2t", "by_category"),
    Table("table5", "5", "table5_cq_t2i_by_category", "cqbench", "t2i", "by_category"),
    Table("tableA10", "A.10", "tableA10_cq_i2t_method_category", "cqbench", "i2t", "full"),
    Table("tableA11", "A.11", "tableA11_cq_t2i_method_category", "cqbench", "t2i", "full"),
    Table("table7", "7", "table7_grpo_i2t", "grpo", "i2t", "before_after"),
    Table("table8", "8", "table8_grpo_t2i", "grpo", "t2i", "before_after"),
    Table("tableA9", "A.9", "tableA9_grpo_per_category", "grpo", None, "per_category"),
    Table("calibration", "C.1", "tableC1_calibration", "calibration", None, "severity"),
):
    TABLES.add(_table)


# --- extensions ----------------------------------------------------------------------------------------

def load_extensions(extensions) -> None:
    """Import each extension (a module name, or a ``.py`` file path relative to the working folder):
    its import adds members to the registries above. Importing one twice does nothing."""
    for extension in extensions or ():
        if extension.endswith(".py"):
            path = Path(extension).resolve()
            name = f"mmpcbench_extension_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:10]}"
            if name in sys.modules:
                continue
            if not path.is_file():
                raise FileNotFoundError(f"config key 'extensions': no file {extension!r} (from {Path.cwd()})")
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
        else:
            importlib.import_module(extension)
