"""Text metrics of CQBench: one row per (reference, hypothesis) pair.

Definitions (the authors' released ``CQBench`` scripts, which the paper does not spell out):

- **normalisation** (TF-IDF, token overlap, and what counts as empty), option ``normaliser``:
  ``ascii`` (the authors, the paper config): lowercase, every character outside ``[a-zA-Z0-9\\s]`` to a
  space (so non-ASCII letters are dropped: "Pokémon" → "pok mon", a Japanese title → empty), whitespace
  collapsed and stripped; ``unicode`` (ours): the same, but letters and digits of every script are
  kept (every Unicode ``\\W`` and ``_`` to a space). A table scored with ``unicode`` says so;
- **cosine**: cosine of the TF-IDF vectors of the pair, with scikit-learn's ``TfidfVectorizer`` (English
  stop words, unigrams and bigrams, at most 1,000 features, smooth idf, L2 rows) fitted **per pair** on
  ``[reference, hypothesis]`` (``tfidf_fit="pair"``), or once on every reference and hypothesis
  (``tfidf_fit="corpus"``);
- **euclidean**: ``1 / (1 + ‖a − b‖₂)`` of the same L2-normalised TF-IDF rows;
- **overlap**: Jaccard index of the two sets of whitespace-separated words (stop words kept);
- **bertscore**: BERTScore F1 (``bert-score``, no idf weighting, no baseline rescaling) on the raw texts,
  with bert-score's default English model (roberta-large, layer 17) unless ``bertscore.model`` names one.

Defined values: a missing hypothesis (None, or nothing left after normalisation) gives null in every
column — the caller's scoring policy decides (zero or excluded). A hypothesis with words but no TF-IDF
term (only stop words) scores cosine 0 and euclidean 0.5 (a zero vector against a unit one), as the
authors. Two degenerate pairs follow option ``degenerate``:

- an **empty reference** (nothing left after normalisation) with a present hypothesis;
- **no TF-IDF term** in either text (only stop words: scikit-learn cannot fit an empty vocabulary).

``degenerate: zero`` (the authors, the paper config): the first scores 0 on every metric, the second
0 for cosine and euclidean (the authors' bare ``except``), and both count in the means;
``degenerate: excluded`` (ours): NaN there, left out of the means. Either way the pairs are counted
(``counts`` of :func:`text_scores`, the score summary and every table caption). BERTScore is never
asked to embed an empty text (bert-score 0.3.13 fails on one with transformers 5).

The per-pair fit is computed for all pairs at once with sparse matrices: within a pair a term's document
frequency is 1 or 2, so its smooth idf is ``ln(3/2) + 1`` or ``1``. It equals scikit-learn's per-pair fit
to floating-point rounding (a test checks 1e-9); a pair with more distinct terms than ``max_features``
(where the fit would drop its rarest terms) is fitted with scikit-learn itself, and counted in the log.
"""

from __future__ import annotations

import logging
import math
import re
from collections import defaultdict

import numpy as np
import polars as pl

from mmpcbench.cost import loading
from mmpcbench.encoders import resolve_model_path
from mmpcbench.families import METRICS, metrics_completing, resolve
from mmpcbench.metrics.frames import pair_frame, requested
from mmpcbench.models import shared

log = logging.getLogger(__name__)

DEFAULTS = {
    "tfidf_fit": "pair",
    "max_features": 1000,
    "ngram_range": (1, 2),
    "stop_words": "english",
    "normaliser": "ascii",
    "degenerate": "zero",
    "bertscore": {"model": None, "num_layers": None, "batch_size": 64, "device": "cpu"},
}
NORMALISERS = {
    "ascii": re.compile(r"[^a-zA-Z0-9\s]"),  # the authors: non-ASCII letters become spaces
    "unicode": re.compile(r"[\W_]"),  # ours: letters and digits of every script are kept
}
DEGENERATE = ("zero", "excluded")
_WHITESPACE = re.compile(r"\s+")


def normalise_text(text: str | None, normaliser: str = "ascii") -> str:
    """Lowercase; every character the ``normaliser`` does not keep to a space (see the module
    docstring); whitespace collapsed and stripped."""
    if normaliser not in NORMALISERS:
        raise ValueError(f"unknown text normaliser {normaliser!r}; known: {sorted(NORMALISERS)}")
    if text is None:
        return ""
    return _WHITESPACE.sub(" ", NORMALISERS[normaliser].sub(" ", text.lower())).strip()


def text_options(options: dict) -> dict:
    """The options with the defaults filled in, checked (unknown keys named)."""
    merged = {**DEFAULTS, **options}
    merged["bertscore"] = {**DEFAULTS["bertscore"], **(options.get("bertscore") or {})}
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown text metric options {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    if merged["tfidf_fit"] not in ("pair", "corpus"):
        raise ValueError(f"tfidf_fit must be 'pair' or 'corpus', not {merged['tfidf_fit']!r}")
    if merged["normaliser"] not in NORMALISERS:
        raise ValueError(f"unknown text normaliser {merged['normaliser']!r}; known: {sorted(NORMALISERS)}")
    if merged["degenerate"] not in DEGENERATE:
        raise ValueError(f"degenerate must be one of {list(DEGENERATE)}, not {merged['degenerate']!r}")
    return merged


def _vectorizer(options: dict, **kwargs):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(stop_words=options["stop_words"], ngram_range=tuple(options["ngram_range"]),
                           max_features=options["max_features"], **kwargs)


def tfidf_pair_exact(reference: str, hypothesis: str, options: dict | None = None) -> tuple[float, float]:
    """(cosine, euclidean) of one normalised pair with scikit-learn fitted on the pair: the reference
    definition the vectorised version must equal (NaN, NaN when neither text has a term)."""
    options = text_options(options or {})
    try:
        rows = _vectorizer(options).fit_transform([reference, hypothesis]).toarray()
    except ValueError:  # empty vocabulary: no term in either text
        return math.nan, math.nan
    a, b = rows
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    cosine = float(a @ b / (na * nb)) if na > 0 and nb > 0 else 0.0
    return cosine, float(1.0 / (1.0 + np.linalg.norm(a - b)))


def _tfidf_pairs(references: list[str], hypotheses: list[str], options: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per-pair TF-IDF cosine and euclidean for all pairs at once (see the module docstring)."""
    from sklearn.feature_extraction.text import CountVectorizer

    n = len(references)
    cosine, euclidean = np.full(n, np.nan), np.full(n, np.nan)
    if n == 0:
        return cosine, euclidean
    counter = CountVectorizer(stop_words=options["stop_words"], ngram_range=tuple(options["ngram_range"]))
    try:
        counter.fit(references + hypotheses)
    except ValueError:  # no term anywhere
        return cosine, euclidean
    ref = counter.transform(references).astype(np.float64).tocsr()
    hyp = counter.transform(hypotheses).astype(np.float64).tocsr()
    ref_on, hyp_on = (ref > 0).astype(np.float64), (hyp > 0).astype(np.float64)
    # idf per (pair, term): 1 where both texts hold the term (df = 2), ln(3/2) + 1 where one does
    both = ref_on.multiply(hyp_on)
    idf_one = math.log(3.0 / 2.0) + 1.0
    ref_w = ref.multiply(ref_on * idf_one - both * (idf_one - 1.0)).tocsr()
    hyp_w = hyp.multiply(hyp_on * idf_one - both * (idf_one - 1.0)).tocsr()
    cosine, euclidean = _row_similarities(ref_w, hyp_w)
    # pairs whose vocabulary exceeds max_features: scikit-learn's own truncation
    limit = options["max_features"]
    if limit is not None:
        vocabulary = np.diff(((ref_on + hyp_on) > 0).tocsr().indptr)
        over = np.flatnonzero(vocabulary > limit)
        for i in over:
            cosine[i], euclidean[i] = tfidf_pair_exact(references[i], hypotheses[i], options)
        if len(over):
            log.info("%d pairs have more than %d TF-IDF terms: fitted one by one", len(over), limit)
    return cosine, euclidean


def _tfidf_corpus(references: list[str], hypotheses: list[str], options: dict) -> tuple[np.ndarray, np.ndarray]:
    """TF-IDF fitted once on every reference and hypothesis; cosine and euclidean per pair."""
    n = len(references)
    try:
        vectorizer = _vectorizer(options).fit(references + hypotheses)
    except ValueError:
        return np.full(n, np.nan), np.full(n, np.nan)
    return _row_similarities(vectorizer.transform(references), vectorizer.transform(hypotheses))


def _row_similarities(ref, hyp) -> tuple[np.ndarray, np.ndarray]:
    """Cosine and ``1 / (1 + ‖a/|a| − b/|b|‖)`` of matching rows of two sparse TF-IDF matrices; a zero
    row stays the zero vector (cosine 0, distance 1 to a unit row); NaN where neither row has a term."""
    ref_norm = np.sqrt(np.asarray(ref.multiply(ref).sum(axis=1)).ravel())
    hyp_norm = np.sqrt(np.asarray(hyp.multiply(hyp).sum(axis=1)).ravel())
    ref_unit, hyp_unit = _unit_rows(ref, ref_norm), _unit_rows(hyp, hyp_norm)
    cosine = np.asarray(ref_unit.multiply(hyp_unit).sum(axis=1)).ravel()
    # the distance from the difference itself: exactly 0 for identical rows
    euclidean = 1.0 / (1.0 + _row_distance(ref_unit, hyp_unit))
    has_term = (ref_norm > 0) | (hyp_norm > 0)
    return np.where(has_term, cosine, np.nan), np.where(has_term, euclidean, np.nan)


def _unit_rows(matrix, norms: np.ndarray):
    from scipy.sparse import diags

    return diags(1.0 / np.where(norms > 0, norms, 1.0)) @ matrix


def _row_distance(a, b) -> np.ndarray:
    """Euclidean distance between matching rows of two sparse matrices."""
    diff = (a - b).tocsr()
    return np.sqrt(np.asarray(diff.multiply(diff).sum(axis=1)).ravel())


def token_overlap(reference: str, hypothesis: str) -> float:
    """Jaccard index of the word sets of two normalised texts (NaN when both are empty)."""
    a, b = set(reference.split()), set(hypothesis.split())
    union = a | b
    return len(a & b) / len(union) if union else math.nan


class BertScorer:
    """BERTScore F1 with one model loaded once (``model``: a hub id, a local folder or ``package:<module>``;
    None = bert-score's default English model). A local model needs ``num_layers``.

    bert-score's own batched ``score`` pads the pairs of a batch to one length and masks padded
    similarities to 0 before the greedy max, so a token whose best match is a negative cosine gets 0
    instead — a pair's score then depends on its batch mates (up to 0.004 F1 with MiniLM; roberta-large's
    similarities are almost never negative). Here the embeddings come from bert-score in batches, and
    the matching is done per pair without padding: every pair scores what bert-score gives it alone
    (a test checks it)."""

    @loading("BERTScore")
    def __init__(self, model: str | None = None, num_layers: int | None = None, batch_size: int = 64,
                 device: str = "cpu"):
        import bert_score

        from mmpcbench.models import offline_hint

        kwargs = {"lang": "en", "batch_size": batch_size, "device": device, "num_layers": num_layers}
        if model:
            kwargs["model_type"] = resolve_model_path(model)
        self.batch_size = batch_size
        self.model = model or "roberta-large (bert-score's English default)"
        if num_layers:
            self.model += f", layer {num_layers}"
        try:
            self.scorer = bert_score.BERTScorer(**kwargs)
        except Exception as error:
            raise RuntimeError(f"cannot load the BERTScore model {self.model!r}{offline_hint()}: {error}") from error

    def f1(self, references: list[str], hypotheses: list[str]) -> np.ndarray:
        """BERTScore F1 per pair: bert-score's token embeddings (computed in batches, deduplicated) and
        its greedy matching, done per pair so padding never enters a max (see ``BertScorer``)."""
        from bert_score.utils import get_bert_embedding

        if not references:
            return np.zeros(0)
        tokenizer = self.scorer._tokenizer
        idf_dict = defaultdict(lambda: 1.0)  # bert-score without idf: every token 1, [CLS]/[SEP] 0
        idf_dict[tokenizer.sep_token_id] = 0
        idf_dict[tokenizer.cls_token_id] = 0
        # longest first, ties by the text itself: a set's order changes with the process's hash seed, and
        # a batch's padding changes the model's float32 sums (up to 4e-8 F1 between reruns otherwise)
        sentences = sorted(set(references) | set(hypotheses), key=lambda s: (-len(s), s))
        stats = {}
        for start in range(0, len(sentences), self.batch_size):
            batch = sentences[start : start + self.batch_size]
            # bert-score leaves the idf weights on the CPU and the embeddings on its device: the per-pair
            # matching below runs on the CPU in float64 whatever the device (found by `make gpu-smoke`)
            embedding, mask, idf = (t.cpu() for t in get_bert_embedding(batch, self.scorer._model, tokenizer,
                                                                        idf_dict, device=self.scorer.device))
            lengths = mask.sum(dim=1)
            for i, sentence in enumerate(batch):
                n = int(lengths[i])
                vectors = embedding[i, :n].double()
                weights = idf[i, :n].double()
                stats[sentence] = (vectors / vectors.norm(dim=-1, keepdim=True), weights / weights.sum())
        out = np.zeros(len(references))
        for k, (reference, hypothesis) in enumerate(zip(references, hypotheses)):
            ref, ref_w = stats[reference]
            hyp, hyp_w = stats[hypothesis]
            similarity = hyp @ ref.T
            precision = float((similarity.max(dim=1).values * hyp_w).sum())
            recall = float((similarity.max(dim=0).values * ref_w).sum())
            f1 = 2 * precision * recall / (precision + recall) if precision + recall != 0 else 0.0
            out[k] = 0.0 if math.isnan(f1) else f1
        return out


class TextPairs:
    """The pairs of one scoring call that a text metric scores: present hypotheses with a non-empty
    reference. ``references``/``hypotheses``: the raw texts; ``normalised_references``/``normalised_hypotheses``:
    after ``normalise_text``; ``options``: the text options; the TF-IDF similarities and the BERTScore
    model are computed or loaded once, on first use, for every metric that needs them."""

    def __init__(self, references, hypotheses, normalised_references, normalised_hypotheses, options: dict,
                 scorer: BertScorer | None = None):
        self.references, self.hypotheses = references, hypotheses
        self.normalised_references, self.normalised_hypotheses = normalised_references, normalised_hypotheses
        self.options, self._scorer, self._tfidf = options, scorer, None

    def __len__(self) -> int:
        return len(self.references)

    @property
    def tfidf(self) -> tuple[np.ndarray, np.ndarray]:
        """(cosine, euclidean) per pair, NaN where neither text has a TF-IDF term."""
        if self._tfidf is None:
            fit = _tfidf_pairs if self.options["tfidf_fit"] == "pair" else _tfidf_corpus
            self._tfidf = fit(self.normalised_references, self.normalised_hypotheses, self.options)
        return self._tfidf

    @property
    def no_tfidf_term(self) -> np.ndarray:
        """The pairs with no TF-IDF term in either text (none counted unless a TF-IDF metric ran)."""
        return np.isnan(self._tfidf[0]) if self._tfidf is not None else np.zeros(len(self), dtype=bool)

    @property
    def scorer(self) -> BertScorer:
        if self._scorer is None:
            self._scorer = shared(BertScorer, **self.options["bertscore"])
        return self._scorer


def tfidf_cosine(pairs: TextPairs) -> np.ndarray:
    return pairs.tfidf[0]


def tfidf_euclidean(pairs: TextPairs) -> np.ndarray:
    return pairs.tfidf[1]


def word_overlap(pairs: TextPairs) -> np.ndarray:
    return np.array([token_overlap(r, h) for r, h in zip(pairs.normalised_references, pairs.normalised_hypotheses)],
                    dtype=np.float64)


def bertscore_f1(pairs: TextPairs) -> np.ndarray:
    return pairs.scorer.f1(list(pairs.references), list(pairs.hypotheses))


def text_scores(references: list[str], hypotheses: list[str | None], metrics=None, scorer: BertScorer | None = None,
                counts: dict | None = None, **options) -> pl.DataFrame:
    """Score each hypothesis against its reference: one column per text metric of ``families.METRICS``
    (``cosine, euclidean, overlap, bertscore`` and any an extension adds; or the subset ``metrics``),
    one row per pair, in input order. ``options``: ``tfidf_fit``, ``max_features``, ``ngram_range``,
    ``stop_words``, ``normaliser``, ``degenerate``, ``bertscore`` (``model``, ``num_layers``,
    ``batch_size``, ``device``); ``scorer`` reuses a loaded BERTScore model. A missing hypothesis gives
    nulls; degenerate pairs (and a metric's NaN) follow ``degenerate`` and are counted in ``counts`` (a
    dict: ``empty_reference``, ``no_tfidf_term``), see the module docstring."""
    metrics = requested(metrics, tuple(metrics_completing("text")), "text", len(references), len(hypotheses),
                        "hypotheses")
    options = text_options(options)
    norm_ref = [normalise_text(r, options["normaliser"]) for r in references]
    norm_hyp = [normalise_text(h, options["normaliser"]) for h in hypotheses]
    present = np.array([bool(h) for h in norm_hyp], dtype=bool)
    keep = np.flatnonzero(present)
    # among the present pairs: those with a reference left to compare with
    usable = np.array([bool(norm_ref[i]) for i in keep], dtype=bool)
    pairs = keep[usable]
    fill = 0.0 if options["degenerate"] == "zero" else math.nan
    columns = {m: np.full(len(keep), fill) for m in metrics}
    scored = TextPairs([references[i] for i in pairs], [hypotheses[i] for i in pairs], [norm_ref[i] for i in pairs],
                       [norm_hyp[i] for i in pairs], options, scorer)
    for metric in metrics:
        values = np.asarray(resolve(METRICS[metric].compute)(scored), dtype=np.float64)
        columns[metric][usable] = np.where(np.isnan(values), fill, values)
    if counts is not None:
        counts.update(empty_reference=int((~usable).sum()), no_tfidf_term=int(scored.no_tfidf_term.sum()))
    return pair_frame(columns, metrics, present)
