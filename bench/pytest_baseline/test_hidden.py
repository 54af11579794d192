"""The usual staff setup, for comparison only: a hidden pytest file run once per submission.

No isolation, no framework: it imports the file named by $SUBMISSION into the test process and runs
the same 12 checks as the grader on the same sizes, comparing with the reference. bench/bench_speed.py
times it against the grader. Not part of the test suite (tests/ is).
"""

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "reference"))
import rnn_seq2one as ref  # noqa: E402

CONFIG = dict(input_size=3, hidden_size=4, output_size=2)
T = 5
NAMES = ("W", "R", "V", "bs", "by")


@pytest.fixture(scope="module")
def sub():
    spec = importlib.util.spec_from_file_location("submission", os.environ["SUBMISSION"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def setup(sub):
    rng = np.random.default_rng(0)
    model = sub.RNN(**CONFIG)
    weights = {n: rng.uniform(-0.6, 0.6, getattr(model, n).shape) for n in NAMES}
    for n, v in weights.items():
        setattr(model, n, v.copy())
    x = rng.normal(size=(T, CONFIG["input_size"]))
    d_loss = rng.normal(size=CONFIG["output_size"])
    return model, weights, x, d_loss


def test_init_shapes(sub):
    m = sub.RNN(**CONFIG)
    assert m.W.shape == (3, 4) and m.R.shape == (4, 4) and m.V.shape == (4, 2)
    assert m.bs.shape == (4,) and m.by.shape == (2,)


def test_init_values(sub):
    m = sub.RNN(**CONFIG)
    assert not m.bs.any() and not m.by.any() and np.abs(m.W).max() <= 0.2


def test_forward_shape(setup):
    model, _, x, _ = setup
    assert model.forward(x).shape == (2,)


def test_forward_values(setup):
    model, w, x, _ = setup
    np.testing.assert_allclose(model.forward(x), ref.forward(w, x)[0], rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_gradient(setup, name):
    model, w, x, d_loss = setup
    model.forward(x)
    got = model.backward(d_loss)["d_" + name]
    np.testing.assert_allclose(got, ref.backward(w, x, d_loss)["d_" + name], rtol=1e-6, atol=1e-9)


def test_update(setup):
    model, w, x, d_loss = setup
    model.forward(x)
    grads = model.backward(d_loss)
    model.update(0.1)
    np.testing.assert_allclose(model.W, w["W"] - 0.1 * grads["d_W"], rtol=1e-9)


def test_weights_io(sub, setup):
    model, w, _, _ = setup
    other = sub.RNN(**CONFIG)
    other.set_weights(model.get_weights())
    np.testing.assert_allclose(other.W, w["W"])


def test_numerical_gradient(sub, setup):
    model, w, x, _ = setup
    got = sub.get_numerical_gradient(model, x)
    want = ref.backward(w, x, np.ones(2))
    for name in NAMES:
        np.testing.assert_allclose(got["d_" + name], want["d_" + name], rtol=1e-4, atol=1e-6)
