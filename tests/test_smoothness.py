"""rnn_dyn.smoothness: Theorem 1's bounds and the measured smoothness report.

Its command line (``rnn-dyn smoothness``) is tested in test_cli.py.
"""

import collections
import math
import sys

import jax
import numpy as np
import pytest

import rnn_dyn as rd
from rnn_dyn import _validate
from rnn_dyn.examples import regime_example
from rnn_dyn.smoothness import lemma2_constants, s_curve, theorem1_bounds


@pytest.mark.parametrize("lip_f", [0.5, 1.0, 1.3])
def test_s_curve_equals_its_sum_and_closed_forms(lip_f):
    t = np.arange(30)
    direct = np.array(
        [math.sqrt(sum(lip_f ** (2 * k) for k in range(tt + 1))) for tt in t]
    )
    np.testing.assert_allclose(s_curve(lip_f, t), direct, rtol=1e-12)
    if lip_f == 1.0:
        np.testing.assert_allclose(s_curve(1.0, t), np.sqrt(t + 1))


def _direct(lip_f, lip_g, dlf, dlg, n_max, c, L_y, R):
    """The supplement's definitions, summed literally."""
    S = lambda t: math.sqrt(sum(lip_f ** (2 * k) for k in range(t + 1)))
    M = lambda t: lip_g * S(t) * R
    T = lambda t: c.k4 * (dlg * M(t) + lip_g**2)
    P = lambda t, e: (
        lip_f ** (t - e)
        * (lip_g * dlf * sum(S(j) for j in range(e, t + 1)) + lip_f * dlg * S(t))
    )
    Q = lambda t, e: (
        lip_f ** (t - e)
        * (
            c.k4 * M(t) * lip_g * dlf * sum(S(j) for j in range(e, t + 1))
            + lip_f * T(t) * S(t)
        )
    )
    LJ = lambda t: sum(P(t, e) for e in range(1, t + 1)) + dlg * S(t)
    LJy = lambda t: sum(Q(t, e) for e in range(1, t + 1)) + T(t) * S(t)
    L_V = [
        lip_g
        / N
        * sum((c.k0 + c.k1 * L_y + c.k2 * M(t)) * S(t) for t in range(1, N + 1))
        for N in range(1, n_max + 1)
    ]
    L_Vg = [
        1 / N * sum(c.k3 * L_y * LJ(t) + LJy(t) for t in range(1, N + 1))
        for N in range(1, n_max + 1)
    ]
    return np.array(L_V), np.array(L_Vg)


@pytest.mark.parametrize("lip_f", [0.6, 1.0, 1.2])
@pytest.mark.parametrize("loss", ["mse", "bce_with_logits"])
def test_theorem1_bounds_equal_direct_summation(lip_f, loss):
    c = lemma2_constants(loss, 2)
    got = theorem1_bounds(
        lip_f, 0.9, 0.4, 0.3, n_max=12, constants=c, target_bound=1.5, radius=2.0
    )
    L_V, L_Vg = _direct(lip_f, 0.9, 0.4, 0.3, 12, c, 1.5, 2.0)
    np.testing.assert_allclose(got.L_V, L_V, rtol=1e-12)
    np.testing.assert_allclose(got.L_V_grad, L_Vg, rtol=1e-12)


def test_theorem1_bounds_grow_as_the_three_regimes():
    c = lemma2_constants("mse", 1)
    kw = dict(constants=c, target_bound=1.0, radius=1.0, n_max=400)
    contract = theorem1_bounds(0.5, 1.0, 1.0, 1.0, **kw)
    neutral = theorem1_bounds(1.0, 1.0, 1.0, 1.0, **kw)
    expand = theorem1_bounds(1.05, 1.0, 1.0, 1.0, **kw)
    # bounded: converges; polynomial: L_V ~ N (M(t)S(t) ~ t), L'_V ~ N^3
    assert contract.L_V[-1] / contract.L_V[199] < 1.01
    np.testing.assert_allclose(
        np.log(neutral.L_V[-1] / neutral.L_V[199]) / np.log(2), 1.0, atol=0.05
    )
    np.testing.assert_allclose(
        np.log(neutral.L_V_grad[-1] / neutral.L_V_grad[199]) / np.log(2), 3.0, atol=0.1
    )
    # exponential: L_V ~ L_f^{2N}/N, L'_V ~ L_f^{3N}/N
    n = expand.n
    rate = np.log(n[-1] * expand.L_V[-1] / (n[-101] * expand.L_V[-101])) / 100
    np.testing.assert_allclose(rate, 2 * np.log(1.05), rtol=0.02)
    rate_grad = (
        np.log(n[-1] * expand.L_V_grad[-1] / (n[-101] * expand.L_V_grad[-101])) / 100
    )
    np.testing.assert_allclose(rate_grad, 3 * np.log(1.05), rtol=0.02)


def test_bce_property_1_as_printed_fails_near_zero():
    # |l(ŷ) - l(ẑ)| for y = 0 is ≈ ½|ŷ - ẑ| near 0, while K_2·max(|ŷ|,|ẑ|)·|ŷ - ẑ| → 0.
    softplus = lambda z: math.log1p(math.exp(z))
    for eps in (1e-2, 1e-4, 1e-6):
        lhs = abs(softplus(eps) - softplus(-eps))
        needed_k2 = lhs / (eps * 2 * eps)
        assert needed_k2 > 0.2 / eps  # grows without bound
    assert lemma2_constants("bce_with_logits", 4).k0 == 2.0
    with pytest.raises(ValueError, match="Lemma 2 covers"):
        lemma2_constants("cross_entropy", 3)


def test_classify_growth_on_known_curves():
    from rnn_dyn.smoothness import classify_growth

    n = np.array([10, 20, 50, 100, 200, 400])
    assert classify_growth(n, 3 - np.exp(-n / 5.0)).kind == "bounded"
    g = classify_growth(n, 0.5 * n**2.0)
    assert g.kind == "polynomial" and abs(g.degree - 2) < 1e-9
    g = classify_growth(n, 2 * 1.03**n)
    assert g.kind == "exponential" and abs(g.rate - np.log(1.03)) < 1e-9
    # a steep power law is called exponential (Theorem 1's degrees are ≤ 3)
    assert classify_growth(n, n**8.0).kind == "exponential"
    overflowed = np.array([1.0, 1e50, 1e120, 1e250, np.inf, np.inf])
    assert classify_growth(n, overflowed).kind == "exponential"
    # no kind from data that is not there: NaN, or under three finite values
    with_nan = classify_growth(n, np.where(n > n[2], np.nan, n))
    assert with_nan.kind == "undetermined" and with_nan.nonfinite == 3
    early = classify_growth(n, np.array([1.0, 1e300, *[np.inf] * 4]))
    assert early.kind == "undetermined" and early.nonfinite == 4
    with pytest.raises(ValueError, match="at least 3"):
        classify_growth(n[:2], n[:2])


def test_classify_growth_recovers_the_regimes_of_the_bounds():
    from rnn_dyn.smoothness import classify_growth

    c = lemma2_constants("mse", 1)
    kw = dict(constants=c, target_bound=1.0, radius=1.0, n_max=400)
    pick = np.array([25, 50, 100, 200, 400]) - 1
    kinds = {}
    for name, lip_f in [("contractive", 0.5), ("neutral", 1.0), ("expanding", 1.05)]:
        b = theorem1_bounds(lip_f, 1.0, 1.0, 1.0, **kw)
        kinds[name] = (
            classify_growth(b.n[pick], b.L_V[pick]),
            classify_growth(b.n[pick], b.L_V_grad[pick]),
        )
    assert kinds["contractive"][0].kind == kinds["contractive"][1].kind == "bounded"
    assert (
        kinds["neutral"][0].kind == "polynomial"
        and abs(kinds["neutral"][0].degree - 1) < 0.1
    )
    assert (
        kinds["neutral"][1].kind == "polynomial"
        and abs(kinds["neutral"][1].degree - 3) < 0.3
    )
    assert kinds["expanding"][0].kind == kinds["expanding"][1].kind == "exponential"


@pytest.mark.slow  # 45 s (contractive) and 90 s (chaotic) of compiling
@pytest.mark.parametrize(
    "system, lengths, regime, growth",
    [
        ("contractive", (5, 10, 20, 40), "contractive", "bounded"),
        # exponential growth needs long enough N to tell from a power law
        ("chaotic-lstm", (20, 50, 100, 150), "expanding", "exponential"),
    ],
)
def test_measure_smoothness_regimes_and_theorem1_holds(
    system, lengths, regime, growth, getkey
):
    model, theta, x0, us = regime_example(system, max(lengths), key=getkey())
    report = rd.smoothness.measure_smoothness(
        model, theta, x0, us, lengths=lengths, radius=0.05, num_samples=3, key=getkey()
    )
    assert report.regime == regime
    assert report.growth_L_V.kind == growth
    # Theorem 1: the measured constants (lower bounds) never exceed the bounds.
    assert np.all(report.L_V <= report.bound_L_V)
    assert np.all(report.L_V_grad <= report.bound_L_V_grad)
    # The regime comes from max ‖A_t‖ along the trajectory, matched by a dense norm.
    xs = rd.simulate(model, theta, x0, us).states
    dense = max(
        np.linalg.norm(
            np.asarray(jax.jacfwd(lambda x, u=u: model.f(theta, x, u))(x)), 2
        )
        for x, u in zip(xs, us, strict=True)
    )
    np.testing.assert_allclose(report.L_f_state, dense, rtol=1e-6)


def test_neutral_example_has_an_orthogonal_state_matrix(getkey):
    model, theta, x0, us = regime_example("neutral", 10, key=getkey())
    np.testing.assert_allclose(theta.a @ theta.a.T, np.eye(4), atol=1e-12)
    assert np.all(us == 0)


def test_measure_smoothness_validates_its_arguments_once(monkeypatch, getkey):
    # Each check of rnn_dyn._validate is counted wherever a module bound it
    # (``from ._validate import check_params``): the public boundary checks
    # (params, x0, us, lengths, radius) once, and the kernels of simulate,
    # jacobian_norms, jacobian_lipschitz and cost_smoothness check nothing.
    calls = collections.Counter()
    for name in [n for n in vars(_validate) if n.startswith("check_")]:
        original = getattr(_validate, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        for module in list(sys.modules.values()):
            if getattr(module, "__name__", "").startswith("rnn_dyn") and (
                getattr(module, name, None) is original
            ):
                monkeypatch.setattr(module, name, counted)
    # The first case of the regimes test above, whose kernels are compiled.
    model, theta, x0, us = regime_example("contractive", 40, key=getkey())
    rd.smoothness.measure_smoothness(
        model,
        theta,
        x0,
        us,
        lengths=(5, 10, 20, 40),
        radius=0.05,
        num_samples=3,
        key=getkey(),
    )
    assert calls["check_params"] == 1 and calls["check_state"] == 1
    assert calls["check_inputs"] == 1 and calls["check_finite_params"] == 1
    assert max(calls.values()) == 1, calls
