"""The gallery page: seeded items, every method's title and cover with status and scores, best and worst."""

import json
import re

import polars as pl
import pytest
from PIL import Image

from mmpcbench.report.gallery import GallerySettings, MethodFiles, sample_items, write_gallery

ASINS = ["A1", "A2", "A3", "A4"]


def _image(path, colour):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (400, 300), colour).save(path)
    return path


def _method(root, name, kind, bert, clip, prompts=False, broken=None):
    results = root / "results"
    titles = pl.DataFrame({"parent_asin": ASINS, "text": [f"{name} title {a} <b>" for a in ASINS],
                           "parse_status": ["ok", "ok", "unparsed", "ok"]})
    (results / "completions").mkdir(parents=True, exist_ok=True)
    titles.write_parquet(results / f"completions/{name}.parquet")
    if prompts:
        titles.with_columns(pl.col("text").str.replace("title", "prompt")).write_parquet(
            results / f"completions/{name}-t2i.parquet")
    paintings = []
    for i, asin in enumerate(ASINS):
        path = _image(results / f"generated_images/{name}/{asin}.jpg", (40 * i, 100, 200))
        if asin == broken:
            path.write_bytes(b"not an image")
        paintings.append(str(path.relative_to(results)))
    pl.DataFrame({"parent_asin": ASINS, "image_path": paintings, "status": ["painted"] * 4}).write_parquet(
        results / f"generated_images/{name}/manifest.parquet")
    scores = {}
    for task, metrics, best in (("i2t", ("cosine", "euclidean", "overlap", "bertscore"), bert),
                                ("t2i", ("psnr", "ssim", "mse", "lpips", "clip"), clip)):
        frame = pl.DataFrame({"parent_asin": ASINS, "status": ["scored"] * 4,
                              **{m: [0.1 * (j + 1) for j in range(4)] for m in metrics}})
        frame = frame.with_columns(pl.Series(metrics[-1], best))
        scores[task] = results / f"scores/{task}/{name}.parquet"
        scores[task].parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(scores[task])
        encoders = {"bertscore": "package:MiniLM"} if task == "i2t" else {"clip": "package:effnet, not CLIP"}
        scores[task].with_suffix(".json").write_text(json.dumps({"encoders": encoders}))
    return MethodFiles(name=name, kind=kind, titles=str(results / f"completions/{name}.parquet"),
                       manifest=str(results / f"generated_images/{name}/manifest.parquet"),
                       i2t_scores=str(scores["i2t"]), t2i_scores=str(scores["t2i"]),
                       prompts=str(results / f"completions/{name}-t2i.parquet") if prompts else None)


@pytest.fixture
def catalogue(tmp_path):
    data = tmp_path / "data"
    paths = [str(_image(data / f"images/{a}.jpg", (10, 20 * i, 30)).relative_to(data)) for i, a in enumerate(ASINS)]
    pl.DataFrame({"parent_asin": ASINS, "title": [f"True title of {a}" for a in ASINS], "image_path": paths,
                  "description": ["x"] * 4}).write_parquet(tmp_path / "cq.parquet")
    methods = [_method(tmp_path, "mllm", "model", [0.5, 0.9, 0.1, 0.3], [0.2, 0.3, 0.8, 0.1], prompts=True),
               _method(tmp_path, "ground_truth", "control", [1.0] * 4, [1.0, 0.9, 0.8, 0.7], broken="A4")]
    return tmp_path, methods


def test_the_page_shows_each_sampled_item_with_every_methods_title_cover_status_and_scores(catalogue):
    root, methods = catalogue
    settings = GallerySettings.of({"items": 2, "seed": 3, "thumbnail_px": 64})
    shown = write_gallery("Cat", root / "cq.parquet", root / "data", root / "results", methods, settings,
                          root / "thumbs", root / "gallery.html")
    page = (root / "gallery.html").read_text()
    assert shown["items"] == sample_items(ASINS, 2, 3, "Cat") and len(shown["items"]) == 2
    for asin in shown["items"]:
        assert f"True title of {asin}" in page and f"mllm title {asin} &lt;b&gt;" in page  # escaped
        assert f"mllm prompt {asin}" in page
    assert "unparsed" in page  # A3, the worst I→T item, did not parse
    assert "BERTScore F1 (package:MiniLM)" in page and "not CLIP" in page and "| CLIP" not in page
    # best and worst by BERTScore (I→T) and by the CLIP slot (T→I), over all items
    assert shown["extremes"][("i2t", "mllm")] == {"best": "A2", "worst": "A3"}
    assert shown["extremes"][("t2i", "mllm")] == {"best": "A3", "worst": "A4"}
    # thumbnails: written as files, embedded as data URLs; no external asset of any kind
    thumbs = sorted(p.relative_to(root / "thumbs").as_posix() for p in (root / "thumbs").rglob("*.jpg"))
    assert f"{shown['items'][0]}/mllm.jpg" in thumbs and all(max(Image.open(root / "thumbs" / t).size) <= 64 for t in thumbs)
    assert page.count('src="data:image/jpeg;base64,') >= 2 * 3
    assert not re.search(r'(src|href)="(?!data:)', page) and "<script" not in page


def test_an_unreadable_cover_is_shown_missing_and_counted(catalogue):
    root, methods = catalogue
    settings = GallerySettings.of({"items": 4, "seed": 1})
    shown = write_gallery("Cat", root / "cq.parquet", root / "data", root / "results", methods, settings,
                          root / "thumbs", root / "gallery.html")
    page = (root / "gallery.html").read_text()
    assert shown["unreadable"] == [str(root / "results/generated_images/ground_truth/A4.jpg")]
    assert "Unreadable images: 1." in page and "ground_truth cover: no image" in page


def test_a_rerun_writes_the_same_bytes(catalogue):
    root, methods = catalogue
    pages = []
    for run in ("a", "b"):
        write_gallery("Cat", root / "cq.parquet", root / "data", root / "results", methods, GallerySettings(),
                      root / run, root / f"{run}.html")
        pages.append((root / f"{run}.html").read_bytes())
    assert pages[0] == pages[1]


def test_an_unknown_extremes_metric_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="gallery.extremes.*'bleu'.*bertscore"):
        GallerySettings.of({"extremes": {"i2t": "bleu"}})
