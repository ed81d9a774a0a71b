"""Every bundled model answers the fixed inputs of tests/reference_outputs.py as recorded before the redesign:
log-densities within 1e-4, scanpaths (x/W, y/H, seconds) within 1e-4."""
import numpy as np
import pytest

from tests.reference_outputs import FILE, compute

TOLERANCE = 1e-4
# Streams renamed since the recording: the equator prior's only stream was called "fused", which it is not.
RENAMED = {"panorama/equator-bias/fused": "panorama/equator-bias/prior"}


@pytest.fixture(scope="module")
def outputs():
    return compute()


def test_every_bundled_model_answers_as_recorded(outputs):
    recorded = {RENAMED.get(key, key): value for key, value in np.load(FILE).items()}
    assert set(outputs) == set(recorded), "a model or stream appeared or went missing"
    worst = {key: float(np.abs(outputs[key].astype(np.float64) - recorded[key]).max()) for key in recorded
             if outputs[key].shape == recorded[key].shape}
    assert all(outputs[k].shape == recorded[k].shape for k in recorded), \
        [k for k in recorded if outputs[k].shape != recorded[k].shape]
    assert max(worst.values()) <= TOLERANCE, {k: v for k, v in worst.items() if v > TOLERANCE}
