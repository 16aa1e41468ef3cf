"""Shared test helpers: model instances, tolerances, finite differences, inputs.

Each helper here is used by more than one test file; one file's own helpers
stay in that file.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

import rnn_dyn as rd
from rnn_dyn.examples import chaotic_lstm

AD_RTOL = 1e-10  # AD route against AD route, float64
FD_RTOL = 1e-6  # AD against central differences with eps=1e-6, float64

# Small instances of every model; the gated cells with and without bias and readout.
ALL_MODELS = [
    rd.models.rnn(3, 4, readout=2),
    rd.models.rnn(2, 3, bias=False),
    rd.models.lstm(3, 4, readout=2),
    rd.models.lstm(2, 3, bias=False),
    rd.models.gru(3, 4, readout=2),
    rd.models.gru(2, 3),
    rd.models.slstm(2, 3, readout=1),
    rd.models.linear(4, 2, 3),
    rd.models.logistic(3.7),
    rd.models.henon(),
]


def model_id(model):
    return type(model).__name__


def tree_allclose(x, y, *, rtol, atol=0.0):
    """Return whether two pytrees have equal structure and allclose leaves."""
    xs, xd = jax.tree_util.tree_flatten(x)
    ys, yd = jax.tree_util.tree_flatten(y)
    return xd == yd and all(
        np.allclose(a, b, rtol=rtol, atol=atol) for a, b in zip(xs, ys, strict=True)
    )


def rel_err(x, y):
    """Max-norm relative error between two pytrees (flattened)."""
    a = ravel_pytree(x)[0].astype(jnp.float64)
    b = ravel_pytree(y)[0].astype(jnp.float64)
    return float(jnp.max(jnp.abs(a - b)) / jnp.maximum(jnp.max(jnp.abs(b)), 1e-300))


def fd_jacobian(fn, x, *, eps=1e-6):
    """Central-difference Jacobian of ``fn`` at the pytree ``x`` (flattened).

    All 2P perturbed evaluations run as one jitted vmap; shape `(out, P)`.
    """
    flat, unravel = ravel_pytree(x)
    flat_fn = lambda v: ravel_pytree(fn(unravel(v)))[0]
    steps = eps * jnp.eye(flat.shape[0], dtype=flat.dtype)
    diff = jax.jit(
        jax.vmap(lambda e: (flat_fn(flat + e) - flat_fn(flat - e)) / (2 * eps))
    )
    return diff(steps).T


def fd_directional(fn, x, v, *, eps=1e-6, order=2):
    """Central-difference derivative of ``fn`` at ``x`` along the pytree ``v``.

    ``order=4`` uses the five-point stencil, whose O(eps⁴) truncation error is
    needed where chaos makes the third derivative huge.
    """
    at = lambda h: fn(jax.tree_util.tree_map(lambda a, b: a + h * b, x, v))
    if order == 2:
        return jax.tree_util.tree_map(
            lambda a, b: (a - b) / (2 * eps), at(eps), at(-eps)
        )
    return jax.tree_util.tree_map(
        lambda a2, a1, m1, m2: (-a2 + 8 * a1 - 8 * m1 + m2) / (12 * eps),
        at(2 * eps),
        at(eps),
        at(-eps),
        at(-2 * eps),
    )


def random_problem(model, key, n_steps, *, loss="mse", last_only=False):
    """Return (params, x0, us, ys) for ``model`` with random inputs and targets."""
    kp, kx, ku, ky = jax.random.split(key, 4)
    params = model.init(kp)
    if isinstance(model, rd.models.Logistic | rd.models.Henon):
        x0 = model.initial_state(params)  # stay in the basin of the attractor
    else:
        x0 = 0.5 * jax.random.normal(kx, (model.state_size,))
    us = jax.random.normal(ku, (n_steps, model.input_size))
    shape = () if last_only else (n_steps,)
    if loss == "cross_entropy":
        ys = jax.random.randint(ky, shape, 0, model.output_size)
    elif loss == "bce_with_logits":
        ys = jax.random.bernoulli(ky, 0.5, (*shape, model.output_size)).astype(float)
    else:
        ys = jax.random.normal(ky, (*shape, model.output_size))
    return params, x0, us, ys


def chaotic(variant="authors"):
    return chaotic_lstm(variant)


def np_rng(key):
    """A NumPy generator seeded from a JAX key."""
    return np.random.default_rng(np.asarray(jax.random.key_data(key)))


def sigmoid(a):
    """The logistic function in NumPy."""
    return 1.0 / (1.0 + np.exp(-a))


def rotation(angle):
    """The 2×2 rotation by ``angle``."""
    c, s = np.cos(angle), np.sin(angle)
    return jnp.array([[c, -s], [s, c]])


def linear_params(a, b=None, c=None):
    """`LinearParams` of x' = a x + b u, y = c x with no feedthrough.

    By default no input (``b`` of shape (n, 0)) and one zero output row.
    """
    n = a.shape[0]
    b = jnp.zeros((n, 0)) if b is None else b
    c = jnp.zeros((1, n)) if c is None else c
    return rd.models.LinearParams(a=a, b=b, c=c, d=jnp.zeros((c.shape[0], b.shape[1])))


# A training run of a few seconds: short symbol sequences, a small LSTM.
SMALL = dict(
    task="symbols",
    model="lstm",
    hidden=8,
    seq_len=12,
    n_train=120,
    n_val=60,
    batch_size=20,
    lr=0.02,
)


def small_config(**overrides):
    """`TrainConfig` of `SMALL` with ``overrides``."""
    from rnn_dyn.train import TrainConfig

    return TrainConfig(**{**SMALL, **overrides})


SENTENCES = [
    "the cat is on the mat .",
    "a dog is in the house .",
    "the bird is on the tree .",
    "",
    " = Heading = ",
    "the <unk> is on the mat .",
]


def write_corpus(root, bom=False, splits=("train", "valid", "test"), repeat=40):
    """A small WikiText-like directory: structured sentences, blank lines."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i, split in enumerate(splits):
        lines = [SENTENCES[j] for j in rng.integers(0, len(SENTENCES), repeat)]
        lines.append(f"only in {split}")
        text = "\n".join(lines) + "\n"
        (root / f"{split}.txt").write_bytes(
            (b"\xef\xbb\xbf" if bom and i == 0 else b"") + text.encode()
        )
    return root
