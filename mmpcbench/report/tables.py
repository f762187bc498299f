"""Writing result tables as CSV (numbers), Markdown (for reading, with confidence intervals) and LaTeX."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl

from mmpcbench.io import atomic_path


def fmt(value, digits: int = 4) -> str:
    """A number for a table cell; None/NaN → an em dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


def cell(mean, std=None, low=None, high=None, digits: int = 4) -> str:
    """``mean ± std [low, high]`` for Markdown (parts that are None are left out)."""
    text = fmt(mean, digits)
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return text
    if std is not None and not (isinstance(std, float) and math.isnan(std)):
        text += f" ± {fmt(std, digits)}"
    if low is not None and high is not None and not math.isnan(low):
        text += f" [{fmt(low, digits)}, {fmt(high, digits)}]"
    return text


def latex_cell(mean, std=None, digits: int = 4) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "--"
    if std is None or (isinstance(std, float) and math.isnan(std)):
        return f"${mean:.{digits}f}$"
    return f"${mean:.{digits}f} \\pm {std:.{digits}f}$"


def latex_escape(text: str) -> str:
    for char, escaped in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"), ("#", r"\#"),
                          ("_", r"\_"), ("{", r"\{"), ("}", r"\}"), ("~", r"\textasciitilde{}"),
                          ("^", r"\textasciicircum{}")):
        text = text.replace(char, escaped)
    return text


def markdown(header: list[str], rows: list[list[str]], title: str, caption: str = "") -> str:
    lines = [f"# {title}", ""]
    if caption:
        lines += [caption, ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def latex(header: list[str], rows: list[list[str]], caption: str, label: str) -> str:
    """A booktabs table (``\\usepackage{booktabs}``); cells are already LaTeX."""
    spec = "l" * 1 + "r" * (len(header) - 1)
    lines = [
        r"\begin{table}[t]", r"\centering", r"\small",
        rf"\caption{{{latex_escape(caption)}}}", rf"\label{{{label}}}",
        rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
        " & ".join(latex_escape(h) for h in header) + r" \\", r"\midrule",
    ]
    lines += [" & ".join(row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_table(frame: pl.DataFrame, md_text: str, tex_text: str, csv_path, md_path, tex_path) -> None:
    """Write the three forms of one table, each atomically."""
    for path, writer in ((csv_path, lambda p: frame.write_csv(p, float_precision=6)),
                         (md_path, lambda p: Path(p).write_text(md_text)),
                         (tex_path, lambda p: Path(p).write_text(tex_text))):
        with atomic_path(path) as tmp:
            writer(tmp)
