"""The gallery: completions a reader can look at (docs/report.md).

Per category, a seeded sample of CQ items (``gallery.items``; the same items for every method), one row
each: the original cover and title, then per completion method (MLLMs, GRPO adapters, the retrieval
baseline, the controls and the graded corruptions) the completed title (I→T) and the painted cover
(T→I; an MLLM's image prompt beneath it), the parse or generation status and the item's CQBench
scores. Below, per method and task, the best and the worst CQ item of the whole sample by one metric
(``gallery.extremes``: BERTScore for I→T, the CLIP-slot similarity for T→I — named by the encoder that
produced it, so a stand-in is never called CLIP).

The thumbnails (``gallery.thumbnail_px`` on the long side, JPEG) are written as files and embedded in
one static HTML page as data URLs: no external asset, no script, no network — the page is shown as it
is inside ``snakemake --report``. A cover that cannot be read is shown as a missing image, counted in
the page's header and in the log, never dropped silently.
"""

from __future__ import annotations

import base64
import html
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from mmpcbench.families import METRICS, TASKS
from mmpcbench.io import atomic_path
from mmpcbench.metrics.pipeline import read_summary
from mmpcbench.report.cqbench import metric_headers
from mmpcbench.seeds import derive_seed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GallerySettings:
    """``gallery`` in config: how many CQ items per category, the seed that draws them, the thumbnail
    size, and the metric that picks each method's best and worst item per task."""

    items: int = 6
    seed: int = 2026
    thumbnail_px: int = 160
    extremes: dict = field(default_factory=lambda: {"i2t": "bertscore", "t2i": "clip"})

    @classmethod
    def of(cls, config: dict | None) -> GallerySettings:
        config = dict(config or {})
        extremes = {**cls().extremes, **config.pop("extremes", {})}
        for task, metric in extremes.items():
            if task not in TASKS or metric not in TASKS[task].metrics():
                raise ValueError(f"config key 'gallery.extremes': {task}: {metric!r} is not a per-item metric of "
                                 f"that task; known: {TASKS[task].metrics() if task in TASKS else list(TASKS)}")
        return cls(**config, extremes=extremes)


@dataclass(frozen=True)
class MethodFiles:
    """What the gallery reads of one completion method in one category (paths; None where the method
    has no such file: only the MLLMs write T→I prompts)."""

    name: str
    kind: str
    titles: str            # I→T completions
    manifest: str          # T→I paintings
    i2t_scores: str
    t2i_scores: str
    prompts: str | None = None


def sample_items(asins: list[str], n: int, seed: int, category: str) -> list[str]:
    """``n`` CQ items of a category, drawn with a seed of their own, in ``parent_asin`` order."""
    ordered = sorted(asins)
    rng = np.random.default_rng(derive_seed(seed, "gallery", category))
    chosen = rng.choice(len(ordered), size=min(n, len(ordered)), replace=False)
    return [ordered[i] for i in sorted(chosen)]


class Thumbnails:
    """Writes each thumbnail once under ``folder`` and hands back its data URL (None: unreadable)."""

    def __init__(self, folder: Path, px: int):
        self.folder, self.px = Path(folder), px
        self.urls: dict[str, str | None] = {}
        self.unreadable: list[str] = []

    def __call__(self, source: Path | None, name: str) -> str | None:
        if source is None:
            return None
        if name in self.urls:
            return self.urls[name]
        from PIL import Image

        target = self.folder / f"{name}.jpg"
        try:
            with Image.open(source) as image:
                image = image.convert("RGB")
                image.thumbnail((self.px, self.px), Image.Resampling.LANCZOS)
                target.parent.mkdir(parents=True, exist_ok=True)
                with atomic_path(target) as tmp:
                    image.save(tmp, format="JPEG", quality=85)
        except (OSError, ValueError) as error:
            log.warning("gallery: %s cannot be read (%s): shown as missing", source, error)
            self.unreadable.append(str(source))
            self.urls[name] = None
            return None
        self.urls[name] = "data:image/jpeg;base64," + base64.b64encode(target.read_bytes()).decode("ascii")
        return self.urls[name]


def _by_asin(path, columns) -> dict[str, dict]:
    if path is None or not Path(path).exists():
        return {}
    frame = pl.read_parquet(path)
    keep = [c for c in columns if c in frame.columns]
    return {row["parent_asin"]: row for row in frame.select("parent_asin", *keep).iter_rows(named=True)}


def _number(value, digits: int) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


class _Page:
    """The HTML of a cell's parts; ``headers``: task → metric → column name (with its encoder)."""

    def __init__(self, headers: dict[str, dict[str, str]]):
        self.headers = headers

    def scores(self, task: str, row: dict | None) -> str:
        if not row:
            return '<div class="scores">no scores</div>'
        parts = [f"{html.escape(self.headers[task][m])} {_number(row.get(m), METRICS[m].digits)}"
                 for m in TASKS[task].metrics()]
        return f'<div class="scores">{" · ".join(parts)}</div>'

    @staticmethod
    def image(url: str | None, alt: str) -> str:
        if url is None:
            return f'<div class="missing">{html.escape(alt)}: no image</div>'
        return f'<img src="{url}" alt="{html.escape(alt)}">'

    @staticmethod
    def status(text: str | None) -> str:
        return f'<div class="status">{html.escape(str(text or "no completion"))}</div>'


STYLE = """
body{font-family:system-ui,sans-serif;font-size:13px;margin:12px;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:6px;vertical-align:top;width:180px}
th{background:#f3f3f3;position:sticky;top:0}img{display:block;max-width:160px;max-height:160px}
.title{font-weight:600;margin:4px 0}.prompt{font-style:italic;color:#555;margin:4px 0}
.status{color:#777;font-size:11px}.scores{font-size:11px;color:#245}.missing{color:#a00;font-size:11px}
.task{font-size:11px;text-transform:uppercase;color:#999;margin-top:6px}.beyond{color:#999}
"""


def write_gallery(category: str, cq_items_path, data_root, results_root, methods: list[MethodFiles],
                  settings: GallerySettings, thumbs_dir, html_path) -> dict:
    """Write one category's gallery page (and its thumbnails); return what it shows and counts."""
    data_root, results_root = Path(data_root), Path(results_root)
    cq = pl.read_parquet(cq_items_path, columns=["parent_asin", "title", "image_path"]).sort("parent_asin")
    originals = {r["parent_asin"]: r for r in cq.iter_rows(named=True)}
    chosen = sample_items(list(originals), settings.items, settings.seed, category)
    thumbs = Thumbnails(Path(thumbs_dir), settings.thumbnail_px)
    encoders = {task: {} for task in TASKS}  # what produced each model-based metric (its score summaries)
    for method in methods:
        for task, path in (("i2t", method.i2t_scores), ("t2i", method.t2i_scores)):
            summary = Path(path).with_suffix(".json")
            encoders[task].update(read_summary(summary).get("encoders", {}) if summary.exists() else {})
    headers = {task: metric_headers(task, encoders[task]) for task in TASKS}
    page = _Page(headers)
    loaded = {m.name: {
        "titles": _by_asin(m.titles, ["text", "parse_status"]),
        "prompts": _by_asin(m.prompts, ["text", "parse_status"]),
        "paintings": _by_asin(m.manifest, ["image_path", "status"]),
        "i2t": _by_asin(m.i2t_scores, ["status", *TASKS["i2t"].metrics()]),
        "t2i": _by_asin(m.t2i_scores, ["status", "generation_status", *TASKS["t2i"].metrics()]),
    } for m in methods}

    def original_cell(asin: str) -> str:
        item = originals[asin]
        url = thumbs(data_root / item["image_path"] if item["image_path"] else None, f"{asin}/original")
        return (f'{page.image(url, "original cover")}<div class="title">{html.escape(item["title"] or "")}</div>'
                f'<div class="status">{html.escape(asin)}</div>')

    def title_block(method: MethodFiles, asin: str) -> str:
        title = loaded[method.name]["titles"].get(asin)
        text = html.escape(title["text"] or "") if title and title.get("text") else "<em>(none)</em>"
        return (f'<div class="task">I→T title</div><div class="title">{text}</div>'
                f'{page.status(title and title.get("parse_status"))}{page.scores("i2t", loaded[method.name]["i2t"].get(asin))}')

    def cover_block(method: MethodFiles, asin: str) -> str:
        painting = loaded[method.name]["paintings"].get(asin)
        path = results_root / painting["image_path"] if painting and painting.get("image_path") else None
        url = thumbs(path, f"{asin}/{method.name}")
        prompt = loaded[method.name]["prompts"].get(asin)
        prompt_html = (f'<div class="prompt">{html.escape(prompt["text"] or "")}</div>'
                       if prompt and prompt.get("text") else "")
        return (f'<div class="task">T→I cover</div>{page.image(url, f"{method.name} cover")}{prompt_html}'
                f'{page.status(painting and painting.get("status"))}{page.scores("t2i", loaded[method.name]["t2i"].get(asin))}')

    def method_head(method: MethodFiles) -> str:
        beyond = "" if method.kind == "model" else ' <span class="beyond">‡</span>'
        return f'<th>{html.escape(method.name)}<br><span class="status">{html.escape(method.kind)}</span>{beyond}</th>'

    rows = []
    for asin in chosen:
        cells = "".join(f"<td>{title_block(m, asin)}{cover_block(m, asin)}</td>" for m in methods)
        rows.append(f"<tr><td>{original_cell(asin)}</td>{cells}</tr>")
    sample_table = (f'<table id="sample"><tr><th>original</th>{"".join(method_head(m) for m in methods)}</tr>'
                    + "".join(rows) + "</table>")

    extremes, shown = [], {}
    for task in TASKS:
        metric = settings.extremes[task]
        for method in methods:
            scored = [(row[metric], asin) for asin, row in loaded[method.name][task].items()
                      if row.get(metric) is not None and not math.isnan(row[metric])]
            if not scored:
                continue
            scored.sort()
            picks = {"best": scored[-1], "worst": scored[0]} if METRICS[metric].higher_is_better else {
                "best": scored[0], "worst": scored[-1]}
            shown[(task, method.name)] = {k: v[1] for k, v in picks.items()}
            block = title_block if task == "i2t" else cover_block
            cells = "".join(
                f'<td><div class="task">{which}: {html.escape(headers[task][metric])} '
                f'{_number(value, METRICS[metric].digits)}</div>{original_cell(asin)}{block(method, asin)}</td>'
                for which, (value, asin) in picks.items())
            extremes.append(f"<tr><th>{html.escape(method.name)} · {TASKS[task].label}</th>{cells}</tr>")
    extremes_table = ('<table id="extremes"><tr><th>method · task</th><th>best</th><th>worst</th></tr>'
                      + "".join(extremes) + "</table>")

    methods_note = ", ".join(f"{m.name} ({m.kind})" for m in methods)
    page_html = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>MMPCBench gallery: {html.escape(category)}</title>
<style>{STYLE}</style></head><body>
<h1>Gallery: {html.escape(category)}</h1>
<p>{len(chosen)} CQ items drawn with seed {settings.seed} (of {len(originals)}); per method: {html.escape(methods_note)}.
‡ = a method the paper does not have. Each cell: the completed title (I→T) with its parse status and
CQBench scores, then the painted cover (T→I) with the MLLM's prompt, its status and scores.
Unreadable images: {len(thumbs.unreadable)}.</p>
<h2 id="sample-heading">Sampled items</h2>
{sample_table}
<h2 id="extremes-heading">Best and worst item per method</h2>
<p>Over all {len(originals)} CQ items of the category: I→T by {html.escape(headers['i2t'][settings.extremes['i2t']])},
T→I by {html.escape(headers['t2i'][settings.extremes['t2i']])}.</p>
{extremes_table}
</body></html>
"""
    with atomic_path(html_path) as tmp:
        Path(tmp).write_text(page_html, encoding="utf-8")
    log.info("gallery %s: %d items × %d methods, %d best/worst pairs, %d thumbnails, %d unreadable images",
             category, len(chosen), len(methods), len(shown), len(thumbs.urls), len(thumbs.unreadable))
    return {"items": chosen, "extremes": shown, "unreadable": thumbs.unreadable, "thumbnails": len(thumbs.urls)}
