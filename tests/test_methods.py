import polars as pl
import pytest

from mmpcbench.completion.methods import BORROWING, KINDS, METHOD_INPUTS, borrowing_method
from mmpcbench.completion.pipeline import complete_by_borrowing


def test_every_registered_method_has_a_kind_and_known_inputs():
    for name, method in BORROWING.items():
        assert method.name == name and method.kind in KINDS
        assert set(method.inputs) <= set(METHOD_INPUTS), name


def test_an_unknown_method_is_named_with_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown completion method 'oracle'; known: \['empty', 'ground_truth'"):
        borrowing_method("oracle")


def test_a_method_without_its_inputs_says_which_are_missing(tmp_path):
    items = pl.DataFrame({"parent_asin": ["a", "b"], "text": ["x", "y"], "image_path": ["a.jpg", "b.jpg"]})
    items.write_parquet(tmp_path / "rec_items.parquet")
    with pytest.raises(ValueError, match=r"'retrieval' needs the input\(s\) \['query_embeddings', 'cq_items'\]"):
        complete_by_borrowing(task="i2t", method="retrieval", rec_items_path=tmp_path / "rec_items.parquet",
                              out_path=tmp_path / "out.parquet", inputs={})
    assert not (tmp_path / "out.parquet").exists()


def test_a_control_completes_through_the_family_interface(tmp_path):
    items = pl.DataFrame({"parent_asin": ["b", "a", "c"], "text": ["t_b", "t_a", "t_c"],
                          "image_path": ["b.jpg", "a.jpg", "c.jpg"]})
    items.write_parquet(tmp_path / "rec_items.parquet")
    frame = complete_by_borrowing(task="i2t", method="shuffled", rec_items_path=tmp_path / "rec_items.parquet",
                                  out_path=tmp_path / "out.parquet", seed=3)
    assert frame["parent_asin"].to_list() == ["a", "b", "c"]
    assert all(text != f"t_{asin}" for asin, text in zip(frame["parent_asin"], frame["text"]))
    assert sorted(frame["text"]) == ["t_a", "t_b", "t_c"]
