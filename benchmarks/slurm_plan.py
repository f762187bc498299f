"""What a SLURM run would submit: `python benchmarks/slurm_plan.py [snakemake arguments]`.

Plans the DAG with Snakemake itself (a dry run of the given arguments, e.g. `--profile slurm all`) and
counts the SLURM submissions: one per group job (the profile's `groups` / `group-components`) and one
per job outside a group, less the `localrules`. For each group job it computes what Snakemake will ask
SLURM for with Snakemake's own group-resource function (`GroupResources.basic_layered`, as a submitted
group job computes it; a dry run computes them as if the group ran locally, which sums layers).
Prints a summary per group family and, with `--json FILE`, writes every submission.

This needs Snakemake's internals (it is pinned, `requirements/constraints.txt`); the library never does.
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import re
import sys

KEYS = ("gpu", "mem_mb", "runtime", "cpus_per_task")


def plan(arguments: list[str]) -> list[dict]:
    from snakemake import jobs
    from snakemake.cli import main
    from snakemake.resources import GroupResources

    submissions: list[dict] = []
    seen_jobs: list = []
    original_group, original_job = jobs.GroupJob.log_info, jobs.Job.log_info

    def group_info(self):
        resources = GroupResources.basic_layered(
            toposorted_jobs=self.toposorted, constraints=self.global_resources, run_local=False,
            additive_resources=["runtime"], sortby=["runtime"],
        )
        submissions.append({"group": self.groupid, "jobs": len(self.jobs),
                            "rules": dict(collections.Counter(job.rule.name for job in self.jobs)),
                            **{key: resources.get(key, 0) for key in KEYS}})
        seen_jobs.extend(self.jobs)
        original_group(self)

    def job_info(self, *args, **kwargs):
        # (a dry run executes locally, so Job.is_local is true of every job: ask for the localrules)
        local = self.rule.name in self.dag.workflow._localrules or self.rule.norun  # norun: `all` and targets
        if self.group is None and not local:
            resources = self.resources
            submissions.append({"group": None, "jobs": 1, "rules": {self.rule.name: 1},
                                **{key: resources.get(key, 0) or 0 for key in KEYS}})
        original_job(self, *args, **kwargs)

    jobs.GroupJob.log_info, jobs.Job.log_info = group_info, job_info
    sys.argv = ["snakemake", "--dry-run", *arguments]
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
            try:
                main()
            except SystemExit as exit_:
                if exit_.code not in (0, None):
                    raise RuntimeError(f"snakemake failed:\n{err.getvalue()[-4000:]}") from None
    finally:
        jobs.GroupJob.log_info, jobs.Job.log_info = original_group, original_job
    return submissions


def family(submission: dict) -> str:
    if submission["group"] is None:
        return next(iter(submission["rules"]))
    return re.sub(r"_.*", "", submission["group"]) + " (group)"


def summary(submissions: list[dict]) -> str:
    rows = collections.defaultdict(lambda: {"submissions": 0, "gpu": 0, "jobs": 0, "runtime": 0})
    for sub in submissions:
        row = rows[family(sub)]
        row["submissions"] += 1
        row["gpu"] += int(bool(sub["gpu"]))
        row["jobs"] += sub["jobs"]
        row["runtime"] = max(row["runtime"], sub["runtime"])
    lines = [f"{'family':28s} {'submissions':>11s} {'with GPU':>8s} {'jobs':>5s} {'longest (h)':>11s}"]
    for name, row in sorted(rows.items()):
        lines.append(f"{name:28s} {row['submissions']:11d} {row['gpu']:8d} {row['jobs']:5d} {row['runtime'] / 60:11.1f}")
    total = sum(r["submissions"] for r in rows.values())
    gpu = sum(r["gpu"] for r in rows.values())
    jobs_ = sum(r["jobs"] for r in rows.values())
    most_gpus = max((sub["gpu"] for sub in submissions), default=0)
    lines.append(f"{'total':28s} {total:11d} {gpu:8d} {jobs_:5d}   (at most {most_gpus} GPU per submission)")
    return "\n".join(lines)


if __name__ == "__main__":
    args = sys.argv[1:]
    out = None
    if "--json" in args:
        at = args.index("--json")
        out = args[at + 1]
        del args[at : at + 2]
    result = plan(args)
    print(summary(result))
    if out:
        with open(out, "w") as handle:
            json.dump(result, handle, indent=1, default=str)
