"""Where every file of a run lies: each path template written once.

``Layout(data, results, logs)`` holds the three roots of the config (``data_dir``, ``results_dir``,
``logs_dir``). Each method returns one file's path from its wildcards; the rules call them with
Snakemake's placeholders (``layout.completion("{task}", "{category}", "{model}")`` is the pattern of a
rule's output) and with values (an input function, a target list); the library is given the paths, never
a root to rebuild them from.
"""

from __future__ import annotations

from dataclasses import dataclass

TABLE_FORMS = ("csv", "md", "tex")


@dataclass(frozen=True)
class Layout:
    data: str
    results: str
    logs: str

    @classmethod
    def of(cls, config: dict) -> Layout:
        return cls(config["data_dir"], config["results_dir"], config["logs_dir"])

    # --- data stages ---------------------------------------------------------------------------------
    def raw(self, category, kind) -> str:
        """A category's raw ``reviews`` or ``meta`` file (as downloaded)."""
        return f"{self.data}/raw/{category}/{kind}.jsonl.gz"

    def raw_manifest(self, category, kind) -> str:
        return f"{self.data}/raw/{category}/{kind}.manifest.json"

    def interim(self, category, name) -> str:
        """A category's intermediate file ``name`` (``items.parquet``, ``cq_items.parquet``, ...)."""
        return f"{self.data}/interim/{category}/{name}"

    def images(self, category) -> str:
        """The folder of a category's fetched covers."""
        return f"{self.data}/images/{category}"

    def rec(self, category, name) -> str:
        """A category's MMRec-format file ``name`` (``<category>.inter``, ``split.parquet``, ...)."""
        return f"{self.data}/rec/{category}/{name}"

    def inter(self, category) -> str:
        return self.rec(category, f"{category}.inter")

    # --- completion ------------------------------------------------------------------------------------
    def completion(self, task, category, method) -> str:
        return f"{self.results}/completions/{task}/{category}/{method}.parquet"

    def paintings(self, category, method) -> str:
        """The folder of a method's T→I images of a category."""
        return f"{self.results}/generated_images/{category}/{method}"

    def manifest(self, category, method) -> str:
        """The manifest of a method's T→I images of a category."""
        return f"{self.paintings(category, method)}/manifest.parquet"

    def embedding(self, category, modality) -> str:
        """The items' own ``text`` or ``image`` embeddings."""
        return f"{self.results}/embeddings/{category}/{modality}.parquet"

    def completion_embedding(self, task, category, method) -> str:
        """The embeddings of a method's completions (the replaced modality)."""
        return f"{self.results}/embeddings/{category}/{task}/{method}.parquet"

    # --- CQBench, RecBench, GRPO ---------------------------------------------------------------------
    def scores(self, task, category, method, ext="parquet") -> str:
        """A method's per-item CQBench scores (``parquet``) or their summary (``json``)."""
        return f"{self.results}/scores/{task}/{category}/{method}.{ext}"

    def cq_summary(self) -> str:
        return f"{self.results}/scores/cqbench_summary.csv"

    def features(self, category, variant) -> str:
        """The folder of a variant's feature files."""
        return f"{self.results}/features/{category}/{variant}"

    def rec_result(self, category, variant) -> str:
        return f"{self.results}/rec/{category}/{variant}.json"

    def rec_summary(self) -> str:
        return f"{self.results}/rec/recbench_summary.csv"

    def grpo(self, task, base, name) -> str:
        """A GRPO run's file or folder ``name`` (``adapter``, ``grpo.json``, ``reward_log.parquet``)."""
        return f"{self.results}/grpo/{task}/{base}/{name}"

    # --- tables, figures, logs -----------------------------------------------------------------------
    def gallery(self, category, ext="html") -> str:
        """A category's gallery page (``html``), or the folder of its thumbnails (``ext=None``)."""
        return f"{self.results}/gallery/{category}" + (f".{ext}" if ext else "")

    def table(self, stem, form) -> str:
        return f"{self.results}/tables/{stem}.{form}"

    def table_files(self, stem) -> list[str]:
        return [self.table(stem, form) for form in TABLE_FORMS]

    def figure(self, stem) -> str:
        return f"{self.results}/figures/{stem}.png"

    def figure_data(self, stem) -> str:
        """The numbers a figure draws, beside it (its source data: what a reader or a test checks)."""
        return f"{self.results}/figures/{stem}.csv"

    def log(self, *parts) -> str:
        """A job's log: ``logs/<rule>/<wildcards...>.log``."""
        return f"{self.logs}/{'/'.join(str(p) for p in parts)}.log"
