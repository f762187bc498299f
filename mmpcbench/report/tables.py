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


def markdown(header: list[str], rows: list[list[str]], title: str, caption: str = "",
             align: list[str] | None = None) -> str:
    """A GitHub-flavoured Markdown table under a ``# title``; ``align`` per column (``---`` or ``---:``),
    by default the first column left and the rest right."""
    align = align or ["---"] + ["---:"] * (len(header) - 1)
    lines = [f"# {title}", ""]
    if caption:
        lines += [caption, ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(align) + "|")
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


def significant(value: float, digits: int = 3) -> str:
    """``value`` rounded to ``digits`` significant digits, without an exponent (1234.5 → ``1,230``)."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    places = digits - 1 - math.floor(math.log10(abs(value)))
    return f"{round(value, places):,.{max(0, places)}f}"


def frame_cells(frame: pl.DataFrame, formats: dict | None = None) -> tuple[list[list[str]], list[list[str]], list[str]]:
    """Markdown and LaTeX cells of a plain frame (integers with thousands separators, ``formats``: column →
    a function of a value to its text, absent values (None, NaN) ``—``, text escaped for LaTeX) and the
    Markdown alignment of its columns (numbers right)."""
    formats = formats or {}

    def text(column, value):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "—"
        if column in formats:
            return formats[column](value)
        return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)

    md_rows, tex_rows = [], []
    for row in frame.iter_rows():
        cells = [text(column, v) for column, v in zip(frame.columns, row)]
        md_rows.append(cells)
        tex_rows.append([latex_escape(c) for c in cells])
    align = ["---:" if frame.schema[c].is_numeric() else "---" for c in frame.columns]
    return md_rows, tex_rows, align


def write_table(frame: pl.DataFrame, paths, *, title: str, label: str, caption: str = "",
                header: list[str] | None = None, md_rows: list[list[str]] | None = None,
                tex_rows: list[list[str]] | None = None, md_note: str = "",
                csv_float_precision: int | None = 6, formats: dict | None = None) -> None:
    """The one writer of every result table: ``frame`` as CSV (the numbers), and as Markdown (under
    ``# title``, the caption and ``md_note``) and a LaTeX booktabs table (the caption, ``label``), each
    written atomically to ``paths["csv"|"md"|"tex"]``. Without ``header``/rows the frame itself is shown,
    each column through ``formats`` (:func:`frame_cells`)."""
    align = None
    if header is None:
        header = list(frame.columns)
        md_rows, tex_rows, align = frame_cells(frame, formats)
    md_caption = f"{caption} {md_note}".strip()
    texts = {"md": markdown(header, md_rows, title, md_caption, align), "tex": latex(header, tex_rows, caption, label)}
    with atomic_path(paths["csv"]) as tmp:
        frame.write_csv(tmp, float_precision=csv_float_precision)
    for form, text in texts.items():
        with atomic_path(paths[form]) as tmp:
            Path(tmp).write_text(text)
