import csv

import numpy as np
import pytest

from tests.conftest import shared_data_or_skip, write_dataset
from training.datasets import DatasetError, load_dataset
from models.runtime.densities import empirical_saliency_map, fixation_map


def test_tiny_dataset_loads_with_splits(tiny_dataset):
    ds = load_dataset(tiny_dataset)
    assert len(ds) == 6
    train = load_dataset(tiny_dataset, "train")
    test = load_dataset(tiny_dataset, "test")
    assert set(train.images).isdisjoint(test.images)
    image = ds.images[0]
    paths = ds.scanpaths(image)
    assert len(paths) == 4 and all(p.shape[1] == 3 for p in paths.values())
    assert ds.fixations(image).shape == (sum(len(p) for p in paths.values()), 2)
    sal = ds.saliency_map(image)
    assert sal.shape == (120, 160) and np.isclose(sal.sum(), 1.0)
    assert ds.load_image(image).shape == (120, 160, 3)


def test_fixation_map_counts_duplicates():
    fmap = fixation_map(np.array([[1.2, 2.7], [1.9, 2.1], [0.0, 0.0]]), (4, 3))
    assert fmap[2, 1] == 2 and fmap[0, 0] == 1 and fmap.sum() == 3


def test_empirical_map_peaks_at_fixations():
    sal = empirical_saliency_map(np.array([[30.0, 20.0]]), (64, 48), sigma_px=3)
    assert np.unravel_index(sal.argmax(), sal.shape) == (20, 30)


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(tmp_path / "nope")


def _rewrite(root, mutate):
    rows = list(csv.reader(open(root / "fixations.csv")))
    mutate(rows)
    with open(root / "fixations.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)


@pytest.mark.parametrize("mutate, message", [
    (lambda rows: rows[3].__setitem__(3, "abc"), r"fixations.csv:4: .*numbers"),
    (lambda rows: rows[5].__setitem__(3, "999"), r"fixations.csv:6: .*outside"),
    (lambda rows: rows[2].pop(), r"fixations.csv:3: expected 6 fields"),
    (lambda rows: rows.__setitem__(0, ["img", "subject", "index", "x", "y", "duration_ms"]), "header"),
    (lambda rows: rows[4].__setitem__(0, "ghost.png"), "missing from images"),
])
def test_bad_rows_are_reported_with_their_line(tmp_path, mutate, message):
    root = write_dataset(tmp_path / "bad")
    _rewrite(root, mutate)
    with pytest.raises(DatasetError, match=message):
        load_dataset(root)


def test_unknown_split(tiny_dataset):
    with pytest.raises(DatasetError, match="unknown split"):
        load_dataset(tiny_dataset, "holdout")


def test_shared_osie_matches_its_readme():
    shared_data_or_skip("gaze", "osie")
    ds = load_dataset("osie")
    assert len(ds) == 700
    assert sum(len(ds.fixations(i)) for i in ds.images) == 98321
    assert {len(load_dataset("osie", s)) for s in ("train", "val", "test")} == {490, 70, 140}


def test_split_all_needs_no_splits_csv(tiny_dataset):
    (tiny_dataset / "splits.csv").unlink()
    ds = load_dataset(tiny_dataset, "all")
    assert ds.split == "all" and len(ds) == 6
    with pytest.raises(DatasetError, match="no splits.csv .*--split all"):
        load_dataset(tiny_dataset, "test")


def test_splits_csv_naming_another_dataset_is_an_error_that_says_so(tmp_path):
    root = write_dataset(tmp_path / "copy")
    rows = list(csv.reader(open(root / "splits.csv")))
    for row in rows[1:]:
        row[0] = "osie"
    with open(root / "splits.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    with pytest.raises(DatasetError, match=r"dataset column names 'osie' but not 'copy', the name of the folder"):
        load_dataset(root, "train")
    # A splits.csv in the parent that does name the folder is still found (the shared layout keeps one there).
    with open(tmp_path / "splits.csv", "w", newline="") as f:
        csv.writer(f).writerows([["dataset", "image", "split"], ["copy", "img00.png", "train"]])
    assert load_dataset(root, "train").images == ["img00.png"]
