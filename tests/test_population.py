"""Population metrics: the sampled viewers against the human viewers as distributions."""
import numpy as np
import pytest

from training.metrics.population import amplitudes, population_metrics, stacked_share


def path(points, durations):
    return np.column_stack([np.asarray(points, float), np.asarray(durations, float)])


HUMANS = [[path([[10, 10], [60, 10], [60, 50]], [100, 200, 300]), path([[20, 20], [20, 70]], [150, 250])]]
SIZE = [(100, 100)]


def test_a_population_against_itself_has_no_distance():
    m = population_metrics(HUMANS, HUMANS, SIZE, one_degree_px=24)
    assert m["duration_w1_ms"] == 0 and m["duration_ks"] == 0 and m["amplitude_ks"] == 0
    assert m["duration_sd_model"] == m["duration_sd_human"] == pytest.approx(np.std([100, 200, 300, 150, 250]))
    assert m["n_fix_mean_model"] == 2.5 and m["n_fix_sd_human"] == 0.5


def test_durations_shifted_by_100_ms_are_100_ms_apart():
    shifted = [[p + np.array([0, 0, 100]) for p in HUMANS[0]]]
    m = population_metrics(shifted, HUMANS, SIZE, one_degree_px=24)
    assert m["duration_w1_ms"] == pytest.approx(100) and m["duration_ks"] == pytest.approx(0.4)   # CDFs differ most between 150 and 200 ms
    assert m["amplitude_w1"] == 0                      # same places, same saccades


def test_near_constant_durations_show_in_the_sd_not_the_mean():
    constant = [[path(p[:, :2], np.full(len(p), 200.0)) for p in HUMANS[0]]]
    m = population_metrics(constant, HUMANS, SIZE, one_degree_px=24)
    assert m["duration_mean_model"] == pytest.approx(m["duration_mean_human"])
    assert m["duration_sd_model"] == 0 and m["duration_w1_ms"] > 40


def test_stacked_fixations_and_amplitudes():
    stacked = [[path([[50, 50], [52, 50], [53, 51], [90, 90]], [200] * 4)]]
    assert stacked_share(stacked, one_degree_px=24) == pytest.approx(2 / 3)
    assert amplitudes([[path([[0, 0], [60, 80]], [1, 1])]], [(60, 80)])[0] == pytest.approx(1.0)   # one diagonal


def test_the_scanpath_cli_writes_the_population(tiny_dataset):
    from training.evaluate_scanpaths import evaluate_scanpaths
    out = evaluate_scanpaths("saliency-sampler", str(tiny_dataset), "test", samples=10, progress=False,
                             population_only=True)
    population = out["population"]
    assert out["metrics"] == {} and out["samples"] == 10
    for key in ("duration_w1_ms", "duration_sd_model", "duration_sd_human", "amplitude_ks", "n_fix_mean_model",
                "n_fix_mean_human", "diversity_model", "diversity_human", "stacked_share_model", "stacked_share_human"):
        assert np.isfinite(population[key]), key
    human = evaluate_scanpaths("human", str(tiny_dataset), "test", progress=False)
    assert human["population"]["duration_w1_ms"] == 0 and "sequence_score" in human["metrics"]
