"""Cost records (mmpcbench.cost) and the cost ledger (mmpcbench.report.cost)."""
import json
import subprocess
import sys
import textwrap

import polars as pl
import pytest

from mmpcbench.cost import cost_path, count, loading, read_costs
from mmpcbench.report.cost import elapsed_seconds, ledger, parse_sacct, write_ledger


def run_job(tmp_path, body: str, name: str = "job") -> dict:
    """Run a job-like script in its own process (as Snakemake does); return its cost record."""
    log = tmp_path / "logs" / f"{name}.log"
    script = textwrap.dedent(f"""
        import time
        from mmpcbench.cost import count, loading, start_job
        start_job({str(log)!r}, "score_text", {{"category": "Video_Games", "method": "m1"}}, {{"gpu": 1}}, 2)
    """) + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    record = json.loads(cost_path(log).read_text())
    record["returncode"] = done.returncode
    return record


def test_a_job_record_splits_wall_time_into_startup_load_and_work(tmp_path):
    record = run_job(tmp_path, """
        with loading("model"):
            time.sleep(0.3)
            with loading("inner"):  # nested: counted once, under the outer name
                time.sleep(0.1)
        time.sleep(0.2)
        count(items=5, tokens=40)
        count(items=3)
    """)
    assert record["returncode"] == 0 and not record["failed"]
    assert record["rule"] == "score_text" and record["wildcards"] == {"category": "Video_Games", "method": "m1"}
    assert 0.4 <= record["load_s"] < 0.6 and set(record["loads"]) == {"model"}
    assert 0.2 <= record["work_s"] < 0.4
    assert record["startup_s"] > 0  # the interpreter and the imports before start_job
    assert record["wall_s"] == pytest.approx(record["startup_s"] + record["load_s"] + record["work_s"], abs=0.01)
    assert record["counts"] == {"items": 8, "tokens": 40} and record["gpus"] == 1 and record["threads"] == 2


def test_a_failed_job_still_writes_its_record(tmp_path):
    record = run_job(tmp_path, "raise RuntimeError('boom')")
    assert record["returncode"] != 0 and record["failed"]


def test_outside_a_job_loading_and_count_do_nothing():
    with loading("model"):
        count(items=3)  # no error, no record


def test_sacct_fields():
    assert elapsed_seconds("00:01:05") == 65 and elapsed_seconds("1-02:00:00") == 93600
    assert elapsed_seconds("03:07") == 187 and elapsed_seconds("INVALID") is None
    rows = parse_sacct("12|00:10:00|billing=4,cpu=4,gres/gpu=1,mem=16G,node=1\n13|00:00:30|cpu=1,mem=2G,node=1\n")
    assert rows["12"]["gpus"] == 1 and rows["12"]["elapsed_s"] == 600 and rows["13"]["gpus"] == 0
    assert parse_sacct("14|00:01:00|cpu=2,gres/gpu:h100=2,node=1")["14"]["gpus"] == 2


def record(rule, wall, load, category="A", method="m", gpus=0, slurm=None, **counts):
    return {"rule": rule, "wildcards": {"category": category, "method": method}, "wall_s": wall, "startup_s": 1.0,
            "load_s": load, "work_s": wall - 1.0 - load, "counts": counts, "gpus": gpus, "slurm_job_id": slurm}


def test_ledger_aggregates_per_stage_model_category_and_shares_allocations():
    records = [record("score_text", 10, 3, gpus=1, slurm="7", items=100),
               record("score_text", 30, 3, method="n", gpus=1, slurm="7", items=100),
               record("score_text", 20, 4, method="n", gpus=1, slurm="8", items=50),
               record("complete_mllm", 12, 5, gpus=1, items=6, tokens=60)]
    sacct = {"7": {"elapsed_s": 80.0, "gpus": 1}, "8": {"elapsed_s": 25.0, "gpus": 2}}
    table = ledger(records, sacct)
    row = table.filter((pl.col("stage") == "score_text") & (pl.col("model") == "n")).row(0, named=True)
    assert row["jobs"] == 2 and row["wall_s"] == 50 and row["items"] == 150 and row["allocations"] == 2
    assert row["slurm_elapsed_s"] == pytest.approx(80 * 30 / 40 + 25)  # its share of allocation 7, all of 8
    assert row["slurm_gpu_s"] == pytest.approx(80 * 30 / 40 + 50)
    assert row["items_per_s"] == pytest.approx(150 / (26 + 15))
    mllm = table.filter(pl.col("stage") == "complete_mllm").row(0, named=True)
    assert mllm["tokens_per_s"] == pytest.approx(60 / 6) and mllm["gpu_s"] == 12
    total = table.row(-1, named=True)
    assert total["stage"] == "total" and total["jobs"] == 4 and total["slurm_elapsed_s"] == pytest.approx(105)


def test_ledger_files_say_when_nothing_ran_under_slurm(tmp_path):
    paths = {form: tmp_path / f"ledger.{form}" for form in ("csv", "md", "tex")}
    write_ledger([record("features", 2, 0), record("features", 3, 0, method="n")], paths)
    assert "no job ran under SLURM" in paths["md"].read_text()
    table = pl.read_csv(paths["csv"])
    assert table["slurm_elapsed_s"].null_count() == table.height and table["jobs"].to_list() == [1, 1, 2]


def test_unreadable_records_are_skipped(tmp_path):
    (tmp_path / "a.log.cost.json").write_text("{not json")
    (tmp_path / "b.log.cost.json").write_text(json.dumps(record("features", 2, 0)))
    assert [r["rule"] for r in read_costs(tmp_path)] == ["features"]


def test_ledger_markdown_rounds_to_what_the_numbers_can_mean(tmp_path):
    paths = {form: tmp_path / f"ledger.{form}" for form in ("csv", "md", "tex")}
    write_ledger([record("complete_mllm", 3.2720000000000002, 0.9, items=7, tokens=1234),
                  record("features", 12.25, 0)], paths)
    md = paths["md"].read_text()
    row = next(line for line in md.splitlines() if line.startswith("| complete_mllm"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    columns = [c.strip() for c in next(line for line in md.splitlines() if line.startswith("| stage")).strip("|").split("|")]
    values = dict(zip(columns, cells))
    assert values["wall_s"] == "3.3" and values["work_s"] == "1.4"  # seconds to 0.1
    assert values["items_per_s"] == "5.10" and values["tokens_per_s"] == "899"  # 7 / 1.372, 1234 / 1.372: 3 digits
    assert values["slurm_elapsed_s"] == "—" and "None" not in md and "0000000" not in md
    features = next(line for line in md.splitlines() if line.startswith("| features"))
    assert "| — |" in features  # no tokens: no token rate
    assert "None" not in paths["tex"].read_text()
