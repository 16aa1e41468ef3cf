"""Training engine, tasks and orbit recorder, against independent references.

The ``rnn-dyn train``, ``orbit`` and ``history`` commands are tested in test_cli.py.
"""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import SMALL

import rnn_dyn as rd
from rnn_dyn.orbit import orbit_outputs
from rnn_dyn.tasks import sine, symbols
from rnn_dyn.train import TrainConfig, fit, read_history


def test_sine_targets_are_the_sine_of_the_running_sum():
    task = sine(50, n_train=5, n_val=3)
    for us, ys in (
        (task.train_inputs, task.train_targets),
        (task.val_inputs, task.val_targets),
    ):
        running = np.cumsum(us[..., 0], axis=1)
        np.testing.assert_allclose(ys[..., 0], np.sin(running), atol=1e-12)
    assert not set(task.val_inputs[:, 0, 0]) & set(task.train_inputs[:, 0, 0])
    np.testing.assert_allclose(
        task.train_inputs[[0, -1], 0, 0], [np.pi / 16, np.pi / 8]
    )


@pytest.mark.parametrize("seq_len", [20, 100, 150])
def test_symbols_class_is_the_ordered_pair_of_relevant_symbols(seq_len):
    task = symbols(seq_len, n_train=300, n_val=10, seed=3)
    codes = task.train_inputs.argmax(-1)
    assert np.all(task.train_inputs.sum(-1) == 1)
    scale = min(1.0, seq_len / 100)
    for row, label in zip(codes, task.train_targets, strict=True):
        where = np.flatnonzero(row < 2)
        assert where.size == 2  # exactly two relevant symbols
        assert int(9 * scale) <= where[0] < max(int(9 * scale) + 1, int(19 * scale))
        assert int(39 * scale) <= where[1] < max(int(39 * scale) + 1, int(49 * scale))
        assert label == 2 * row[where[0]] + row[where[1]]
    assert set(task.train_targets) == {0, 1, 2, 3}
    other = symbols(seq_len, n_train=300, n_val=10, seed=3)
    np.testing.assert_array_equal(other.train_inputs, task.train_inputs)


def test_training_loss_drops_on_short_symbols():
    result = fit(TrainConfig(**SMALL, epochs=40, seeds=(0,)))
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < 0.5 * losses[0]
    assert result.history[-1]["train_acc"] > 0.6


@pytest.mark.slow  # 20 s of compiling: the slow tier keeps make test under 15 min
def test_vmapped_seeds_equal_separate_runs_and_fill_the_run_directory(tmp_path):
    config = TrainConfig(**SMALL, epochs=2, seeds=(0, 5))
    together = fit(config, tmp_path)
    alone = fit(TrainConfig(**SMALL, epochs=2, seeds=(5,)))
    for a, b in zip(
        jax.tree_util.tree_leaves(together.state.params),
        jax.tree_util.tree_leaves(alone.state.params),
        strict=True,
    ):
        np.testing.assert_allclose(a[1], b[0], rtol=1e-10, atol=1e-12)
    rows = [r for r in together.history if r["seed"] == 5]
    np.testing.assert_allclose(
        [r["val_loss"] for r in rows],
        [r["val_loss"] for r in alone.history],
        rtol=1e-10,
    )
    # The run directory: history per epoch and seed, the config, and the
    # first seed's parameters at the top level as well as in seed_0/.
    history = read_history(tmp_path / "history.csv")
    assert [(r["epoch"], r["seed"]) for r in history] == [
        (1, 0),
        (1, 5),
        (2, 0),
        (2, 5),
    ]
    saved = json.loads((tmp_path / "config.json").read_text())
    assert TrainConfig.from_json(saved) == config
    like = together.model.init(jax.random.key(0))
    top = rd.load_params(tmp_path / "params.npz", like)
    first = rd.load_params(tmp_path / "seed_0" / "params.npz", like)
    fifth = rd.load_params(tmp_path / "seed_5" / "params.npz", like)
    for a, b, c, d in zip(
        *(
            jax.tree_util.tree_leaves(t)
            for t in (top, first, fifth, together.state.params)
        ),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(c, d[1])
    with pytest.raises(ValueError, match="already holds a run"):
        fit(config, tmp_path)


def test_learned_initial_state_moves_only_when_asked():
    config = dict(SMALL, task="sine", seq_len=30, n_train=10, n_val=2, batch_size=5)
    fixed = fit(TrainConfig(**config, epochs=2))
    learned = fit(TrainConfig(**config, epochs=2, learn_x0=True))
    x0 = fixed.model.initial_state(fixed.model.init(jax.random.key(0)))
    np.testing.assert_array_equal(fixed.state.x0[0], x0)
    assert float(jnp.abs(learned.state.x0[0] - x0).max()) > 1e-4
    assert np.isnan(fixed.history[-1]["val_acc"])  # regression: no accuracy


def test_schedules_set_the_learning_rate():
    multi = fit(TrainConfig(**SMALL, epochs=4, schedule="multistep", milestones=(2, 3)))
    np.testing.assert_allclose(
        [r["lr"] for r in multi.history], [0.02, 0.02, 0.002, 0.0002]
    )
    # A learning rate so small that the validation loss cannot improve by the
    # plateau's relative tolerance: after `patience` epochs it is cut.
    flat = dict(SMALL, lr=1e-12)
    plateau = fit(TrainConfig(**flat, epochs=6, schedule="plateau", patience=2))
    lrs = [r["lr"] for r in plateau.history]
    assert lrs[0] == 1e-12 and lrs[-1] < 1e-12


def test_orbit_record_equals_a_direct_simulation_of_the_checkpoint(tmp_path):
    config = TrainConfig(
        **SMALL,
        epochs=4,
        orbit_every=2,
        orbit_steps=40,
        orbit_burn_in=30,
        orbit_inits=3,
    )
    result = fit(config, tmp_path / "run")
    with np.load(tmp_path / "run" / "orbit.npz") as data:
        outputs, epochs, inits = data["outputs"], data["epochs"], data["inits"]
    np.testing.assert_array_equal(epochs, [0, 2, 4])
    assert outputs.shape == (10, 3, 6, 4, 3)
    model = result.model
    like = jax.tree_util.tree_map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), result.state.params
    )
    params = rd.load_params(tmp_path / "run" / "checkpoints" / "epoch_0002.npz", like)
    params = jax.tree_util.tree_map(lambda a: jnp.asarray(a[0]), params)
    for k, u in enumerate(np.eye(6)):
        us = jnp.broadcast_to(jnp.asarray(u), (40, 6))
        for i, x0 in enumerate(inits):
            ys = rd.simulate(model, params, jnp.asarray(x0), us).outputs[30:]
            np.testing.assert_allclose(outputs[:, i, k, :, 1], ys, rtol=1e-12)
    direct = orbit_outputs(
        model, params, jnp.eye(6), jnp.asarray(inits), steps=40, burn_in=30
    )
    np.testing.assert_allclose(direct, outputs[..., 1], rtol=1e-12)


@pytest.mark.slow  # 20 s of compiling: the slow tier keeps make test under 15 min
def test_slstm_stays_projected_and_ornn_stays_orthogonal_in_training():
    slstm = fit(TrainConfig(**dict(SMALL, model="slstm"), epochs=2))
    params = jax.tree_util.tree_map(lambda a: a[0], slstm.state.params)
    again = slstm.model.stabilize(params)
    for a, b in zip(
        jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(again), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-12)  # already within the bounds
    ornn = fit(TrainConfig(**dict(SMALL, model="ornn"), epochs=2))
    params = jax.tree_util.tree_map(lambda a: a[0], ornn.state.params)
    w = np.asarray(ornn.model.recurrent_matrix(params))
    np.testing.assert_allclose(w.T @ w, np.eye(w.shape[0]), atol=1e-12)
    assert np.isfinite(ornn.history[-1]["train_loss"])


def test_make_train_step_is_the_epoch_fit_runs(tmp_path):
    """One epoch by hand with the public step is `fit`'s first epoch, bit for bit."""
    from rnn_dyn.train import init_state, make_data, make_model, make_train_step

    config = TrainConfig(**SMALL, epochs=1)
    data = make_data(config)
    model = make_model(config, data)
    state = init_state(config, model)
    one = lambda a: a[0]
    step = make_train_step(config, model, data)
    key = jax.random.fold_in(jax.random.key(config.seeds[0]), 1)
    params, _, _, metrics = step(
        *jax.tree_util.tree_map(one, (state.params, state.x0, state.opt_state)),
        jnp.asarray(config.lr, jnp.float64),
        key,
    )
    result = fit(config)
    for a, b in zip(
        jax.tree_util.tree_leaves(params),
        jax.tree_util.tree_leaves(jax.tree_util.tree_map(one, result.state.params)),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    assert float(metrics["loss"]) == result.history[0]["train_loss"]


def test_run_reads_back_what_fit_wrote(tmp_path):
    """`Run`'s config, history, parameters, checkpoints and orbits, each checked."""
    from rnn_dyn.train import Run

    config = TrainConfig(
        **SMALL, epochs=3, seeds=(4, 7), orbit_every=2, orbit_steps=30, orbit_burn_in=20
    )
    result = fit(config, tmp_path)
    run = Run(tmp_path)
    assert run.config() == config and run.history() == result.history
    assert run.checkpoint_epochs() == [0, 2]
    last = jax.tree_util.tree_map(lambda a: a[1], result.state.params)
    for a, b in zip(
        jax.tree_util.tree_leaves(run.params(7)),
        jax.tree_util.tree_leaves(last),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    record = run.orbits(7)
    assert list(record.epochs) == [0, 2] and record.labels == result.task.orbit_labels
    at_2 = run.params(7, epoch=2)
    direct = orbit_outputs(
        result.model,
        at_2,
        jnp.asarray(result.task.orbit_inputs),
        jnp.asarray(record.inits),
        steps=30,
        burn_in=20,
    )
    np.testing.assert_allclose(record.outputs[..., 1], direct, rtol=1e-12)
    with pytest.raises(ValueError, match="holds no run"):
        Run(tmp_path / "nothing").config()


@pytest.mark.parametrize("task", ["sine", "symbols"])
def test_sum_reduction_differentiates_the_loss_summed_over_batch_and_steps(task):
    from rnn_dyn.train import init_state, make_data, make_model
    from rnn_dyn.train._step import _statics, batch_objective, sequence_arrays

    config = TrainConfig(**{**SMALL, "task": task, "n_train": 6, "n_val": 2})
    data = make_data(config)
    model = make_model(config, data)
    state = init_state(config, model)
    trainable = jax.tree_util.tree_map(lambda a: a[0], (state.params, state.x0))
    us, ys = sequence_arrays(data, "train", jnp.float64)
    # the same loss by hand: the sum over sequences of each one's summed steps
    outputs = jax.vmap(lambda u: rd.simulate(model, trainable[0], trainable[1], u))(us)
    if task == "symbols":  # cross-entropy of the last step only
        logp = jax.nn.log_softmax(outputs.outputs[:, -1])
        by_hand = -jnp.sum(jnp.take_along_axis(logp, ys[:, None], axis=1))
    else:  # squared error of every step
        by_hand = jnp.sum((outputs.outputs - ys) ** 2)
    grads = {}
    for reduction in ("mean", "sum"):
        statics = _statics(
            dataclasses.replace(config, loss_reduction=reduction), model, data
        )
        fn = jax.value_and_grad(batch_objective, argnums=2, has_aux=True)
        (objective, mean), grads[reduction] = fn(statics, model, trainable, us, ys)
        terms = us.shape[0] * (1 if task == "symbols" else us.shape[1])
        np.testing.assert_allclose(mean, by_hand / terms, rtol=1e-12)
        expected = by_hand if reduction == "sum" else by_hand / terms
        np.testing.assert_allclose(objective, expected, rtol=1e-12)
    for g_mean, g_sum in zip(
        *map(jax.tree_util.tree_leaves, grads.values()), strict=True
    ):
        np.testing.assert_allclose(g_mean, g_sum / terms, rtol=1e-10, atol=1e-300)


def test_without_shuffle_an_epoch_does_not_depend_on_its_key():
    from rnn_dyn.train import init_state, make_data, make_model, make_train_step

    def epoch(shuffle, seed):
        config = TrainConfig(**SMALL, epochs=1, shuffle=shuffle)
        data = make_data(config)
        model = make_model(config, data)
        state = jax.tree_util.tree_map(lambda a: a[0], init_state(config, model)[:3])
        step = make_train_step(config, model, data)
        return step(*state, jnp.asarray(config.lr), jax.random.key(seed))[0]

    same = lambda a, b: all(
        np.array_equal(x, y)
        for x, y in zip(*map(jax.tree_util.tree_leaves, (a, b)), strict=True)
    )
    assert same(epoch(False, 1), epoch(False, 2))  # the key orders nothing
    assert not same(epoch(True, 1), epoch(True, 2))
    with pytest.raises(ValueError, match="reads its windows in order"):
        TrainConfig(task="lm", data=".", shuffle=False)
    authors = TrainConfig(**SMALL, loss_reduction="sum", shuffle=False)
    assert TrainConfig.from_json(json.loads(json.dumps(authors.to_json()))) == authors


def test_authors_protocol_is_in_config_json_and_draws_their_orbits(tmp_path):
    """The authors' settings, read back from config.json, drive the orbit record.

    Expected values are the authors' code's (../shared/authors-settings.md §1),
    written out here rather than read from `PROTOCOLS`.
    """
    from rnn_dyn.train import Run

    sizes = dict(hidden=6, seq_len=20, n_train=40, n_val=10, batch_size=20)
    orbits = dict(orbit_every=1, orbit_steps=30, orbit_burn_in=20)
    config = TrainConfig(
        task="symbols", protocol="authors", epochs=2, **sizes, **orbits
    )
    result = fit(config, tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    authors = dict(protocol="authors", loss_reduction="sum", shuffle=False,
                   schedule="multistep", milestones=[500, 1000, 2000], gamma=0.25,
                   lr=1e-3, clip=0.25, orbit_inits=10, orbit_std=100,
                   orbit_shared_inits=False, orbit_untrained=False,
                   stabilize="authors", ornn_variant="authors")  # fmt: skip
    assert {k: saved[k] for k in authors} == authors
    assert Run(tmp_path).config() == config
    record = Run(tmp_path).orbits(0)
    assert list(record.epochs) == [1, 2]  # after each epoch; never untrained
    assert record.inits.shape == (10, 6, 12)  # 10 (h, c) drawn for each input
    assert 80 < np.std(record.inits) < 125  # N(0, 100²): 360 draws
    assert not np.any(record.inits[:, 0] == record.inits[:, 1])  # not shared
    params = Run(tmp_path).params(0)
    for k, u in enumerate(np.eye(6)):
        us = jnp.broadcast_to(jnp.asarray(u), (30, 6))
        for i in (0, 9):
            x0 = jnp.asarray(record.inits[i, k])
            ys = rd.simulate(result.model, params, x0, us).outputs[20:]
            np.testing.assert_allclose(record.outputs[:, i, k, :, -1], ys, rtol=1e-12)


@pytest.mark.parametrize("stabilize", ["authors", "linf"])
def test_slstm_training_applies_the_chosen_projection(stabilize):
    """authors: every column at its bound exactly; linf: every row within it."""
    result = fit(
        TrainConfig(**{**SMALL, "model": "slstm"}, epochs=1, stabilize=stabilize)
    )
    params = jax.tree_util.tree_map(lambda a: np.asarray(a[0]), result.state.params)
    h = SMALL["hidden"]
    blocks = [params.weight_hh[k * h : (k + 1) * h] for k in range(4)]
    blocks.append(params.weight_ih[h : 2 * h])  # the forget gate's input block
    for block, bound in zip(blocks, (0.395, 0.155, 0.099, 0.395, 0.25), strict=True):
        if stabilize == "authors":
            np.testing.assert_allclose(np.abs(block).sum(axis=0), bound, rtol=1e-12)
        else:
            assert np.abs(block).sum(axis=1).max() <= bound * (1 + 1e-12)
