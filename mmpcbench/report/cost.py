"""The cost ledger: what the run cost per stage × model × category, from the jobs' own cost records
(:mod:`mmpcbench.cost`) and, for jobs that ran in a SLURM allocation, from ``sacct``.

Columns: ``jobs``; ``wall_s`` (the jobs' processes, start to exit) split into ``startup_s`` (interpreter
and imports), ``load_s`` (model loads) and ``work_s``; ``items`` (images for the diffusion stage, runs
for the recommenders), ``items_per_s`` and ``tokens_per_s`` (MLLM output tokens) over ``work_s``;
``gpu_s`` = wall seconds × GPUs the jobs asked for. From ``sacct`` (empty without it): ``allocations``
(distinct SLURM jobs; one allocation runs every job of a Snakemake group), ``slurm_elapsed_s`` and
``slurm_gpu_s`` (the allocation's elapsed time × its allocated GPUs, ``AllocTRES gres/gpu``), each
allocation's time shared among its jobs in proportion to their wall time, so that the column sums to
the allocations' total. The last row is the total. A job that failed still has a record (``failed``).
The ledger reads every record under the logs folder: a job's latest run, and also jobs no longer in
the plan (a model removed from the config) until their logs are removed.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess

import polars as pl

from mmpcbench.report.tables import significant, write_table

log = logging.getLogger(__name__)

# the wildcard that names what a job ran (a model, a method, a variant, an encoder's modality)
SUBJECT_KEYS = ("model", "method", "borrowed", "variant", "base", "modality", "task")
WORK_KEYS = ("items", "images", "runs")
COLUMNS = ["stage", "model", "category", "jobs", "failed", "wall_s", "startup_s", "load_s", "work_s", "items",
           "items_per_s", "tokens", "tokens_per_s", "gpu_s", "allocations", "slurm_elapsed_s", "slurm_gpu_s"]


def elapsed_seconds(text: str) -> float | None:
    """``sacct``'s Elapsed (``[D-]HH:MM:SS`` or ``MM:SS``) in seconds."""
    match = re.fullmatch(r"(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)(?:\.\d+)?", text.strip())
    if not match:
        return None
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


def parse_sacct(text: str) -> dict[str, dict]:
    """``sacct -X -P -n --format=JobID,Elapsed,AllocTRES`` output → job id → elapsed_s, gpus."""
    rows = {}
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) < 3 or not parts[0]:
            continue
        gpus = re.search(r"gres/gpu(?::[^=,]+)?=(\d+)", parts[2])
        rows[parts[0]] = {"elapsed_s": elapsed_seconds(parts[1]), "gpus": int(gpus.group(1)) if gpus else 0,
                          "alloc_tres": parts[2]}
    return rows


def read_sacct(job_ids: list[str]) -> dict[str, dict]:
    """Ask ``sacct`` about ``job_ids``; nothing (logged) where there is no ``sacct`` or it fails."""
    if not job_ids:
        return {}
    if shutil.which("sacct") is None:
        log.info("%d jobs ran in SLURM allocations but sacct is not on PATH: no SLURM columns", len(job_ids))
        return {}
    command = ["sacct", "-X", "-P", "-n", "--format=JobID,Elapsed,AllocTRES", "-j", ",".join(sorted(set(job_ids)))]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    except (OSError, subprocess.SubprocessError) as error:
        log.warning("sacct failed (%s): no SLURM columns", error)
        return {}
    return parse_sacct(done.stdout)


def _subject(wildcards: dict) -> str:
    for key in SUBJECT_KEYS:
        if wildcards.get(key):
            return str(wildcards[key])
    return "—"


def job_frame(records: list[dict], sacct: dict[str, dict] | None = None) -> pl.DataFrame:
    """One row per job record, with its share of its SLURM allocation (see the module docstring)."""
    rows = []
    for record in records:
        wildcards, counts = record.get("wildcards") or {}, record.get("counts") or {}
        rows.append({
            "stage": record["rule"], "model": _subject(wildcards), "category": str(wildcards.get("category", "—")),
            "failed": int(bool(record.get("failed"))), "wall_s": float(record["wall_s"]),
            "startup_s": float(record["startup_s"]), "load_s": float(record["load_s"]),
            "work_s": float(record["work_s"]), "items": sum(int(counts.get(key, 0)) for key in WORK_KEYS),
            "tokens": int(counts.get("tokens", 0)), "gpu_s": float(record["wall_s"]) * float(record.get("gpus") or 0),
            "slurm_job_id": record.get("slurm_job_id"),
        })
    schema = {"stage": pl.String, "model": pl.String, "category": pl.String, "failed": pl.Int64, "wall_s": pl.Float64,
              "startup_s": pl.Float64, "load_s": pl.Float64, "work_s": pl.Float64, "items": pl.Int64,
              "tokens": pl.Int64, "gpu_s": pl.Float64, "slurm_job_id": pl.String}
    frame = pl.DataFrame(rows, schema=schema)
    sacct = sacct or {}
    allocation = pl.DataFrame(
        {"slurm_job_id": list(sacct), "alloc_elapsed_s": [v["elapsed_s"] for v in sacct.values()],
         "alloc_gpus": [v["gpus"] for v in sacct.values()]},
        schema={"slurm_job_id": pl.String, "alloc_elapsed_s": pl.Float64, "alloc_gpus": pl.Int64},
    )
    share = pl.col("wall_s") / pl.col("wall_s").sum().over("slurm_job_id")
    return frame.join(allocation, on="slurm_job_id", how="left").with_columns(
        (pl.col("alloc_elapsed_s") * share).alias("slurm_elapsed_s"),
        (pl.col("alloc_elapsed_s") * pl.col("alloc_gpus") * share).alias("slurm_gpu_s"),
    )


def ledger(records: list[dict], sacct: dict[str, dict] | None = None) -> pl.DataFrame:
    """The ledger: jobs aggregated per stage × model × category (in that order), with a total row."""
    jobs = job_frame(records, sacct)
    sums = ["failed", "wall_s", "startup_s", "load_s", "work_s", "items", "tokens", "gpu_s"]

    def aggregate(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
        return frame.group_by(keys, maintain_order=True).agg(
            pl.len().cast(pl.Int64).alias("jobs"), *[pl.col(c).sum() for c in sums],
            pl.col("slurm_job_id").drop_nulls().n_unique().cast(pl.Int64).alias("allocations"),
            pl.col("slurm_elapsed_s").sum().alias("slurm_elapsed_s"), pl.col("slurm_gpu_s").sum().alias("slurm_gpu_s"),
        )

    table = aggregate(jobs, ["stage", "model", "category"]).sort(["stage", "model", "category"])
    total = aggregate(jobs.with_columns(stage=pl.lit("total"), model=pl.lit("—"), category=pl.lit("—")),
                      ["stage", "model", "category"])
    table = pl.concat([table, total]) if jobs.height else total
    has_slurm = jobs["slurm_elapsed_s"].is_not_null().any()

    def rate(numerator: str) -> pl.Expr:
        return pl.when(pl.col("work_s") > 0).then(pl.col(numerator) / pl.col("work_s")).otherwise(None)

    return table.with_columns(
        rate("items").alias("items_per_s"),
        pl.when(pl.col("tokens") > 0).then(rate("tokens")).otherwise(None).alias("tokens_per_s"),
        *[pl.when(pl.lit(has_slurm)).then(pl.col(c)).otherwise(None).alias(c) for c in ("slurm_elapsed_s", "slurm_gpu_s")],
    ).select(COLUMNS)


def write_ledger(records: list[dict], paths: dict, sacct: dict[str, dict] | None = None) -> pl.DataFrame:
    """Write the ledger as CSV, Markdown and LaTeX (``paths["csv"|"md"|"tex"]``)."""
    table = ledger(records, sacct)
    total = table.row(-1, named=True)
    share = (f"{100 * (total['startup_s'] + total['load_s']) / total['wall_s']:.0f} %"
             if total["wall_s"] else "—")
    caption = (f"What the run cost: {total['jobs']} job records, {total['wall_s']:.0f} job-seconds, of which "
               f"{share} went to starting processes and loading models (startup_s + load_s); "
               f"{total['gpu_s']:.0f} GPU-seconds asked for. Each job's latest run counts (its record lies "
               "beside its log); wall times vary between runs, so this is the one table that is not "
               "byte-identical on a rerun. items = items scored or completed, images painted, recommender "
               "runs trained; rates over work_s. SLURM columns from sacct, each allocation's time shared "
               "among the jobs it ran in proportion to their wall time"
               + ("." if total["slurm_elapsed_s"] is not None else " (none here: no job ran under SLURM)."))
    seconds = {c: (lambda v: f"{v:,.1f}") for c in COLUMNS if c.endswith("_s") and not c.endswith("_per_s")}
    rates = {c: significant for c in ("items_per_s", "tokens_per_s")}
    write_table(table, paths, title="Cost ledger", caption=caption + " Seconds to 0.1, rates to 3 significant "
                "digits in this table (the CSV has more); — = absent.", label="tab:cost-ledger",
                csv_float_precision=3, formats={**seconds, **rates})
    return table
