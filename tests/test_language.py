"""Word-level language model: corpus, batching, model, training, orbits.

Its command line (``rnn-dyn train lm``) is tested in test_cli.py.
"""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import write_corpus

import rnn_dyn as rd
from rnn_dyn._optim import optimizer
from rnn_dyn.models.language import language_model
from rnn_dyn.orbit import lm_orbits, projections
from rnn_dyn.tasks.wikitext import read_corpus, streams, windows
from rnn_dyn.train import TrainConfig, fit
from rnn_dyn.train import _lm as _train_lm

WIKITEXT = Path(__file__).resolve().parents[2] / "shared" / "data" / "wikitext-2"


def test_reader_tokenises_lines_with_eos_and_one_vocabulary(tmp_path):
    plain = read_corpus(write_corpus(tmp_path / "plain"))
    bom = read_corpus(write_corpus(tmp_path / "bom", bom=True))
    assert plain.words == bom.words  # the byte-order mark is not a word
    assert "\ufeff" not in "".join(bom.words)
    for split in ("train", "valid", "test"):
        np.testing.assert_array_equal(plain.splits[split], bom.splits[split])
        text = (tmp_path / "plain" / f"{split}.txt").read_text()
        expected = [w for line in text.splitlines() for w in (*line.split(), "<eos>")]
        assert [plain.words[i] for i in plain.splits[split]] == expected
    # One vocabulary over the splits, in order of first appearance.
    assert {"train", "valid", "test"} <= set(plain.words)
    assert plain.words.index("train") < plain.words.index("valid")
    assert plain.words.index("valid") < plain.words.index("test")
    assert plain.index("is") == plain.words.index("is")
    with pytest.raises(ValueError, match="'Valkyria' is not in the vocabulary"):
        plain.index("Valkyria")


def test_reader_names_a_missing_split_and_caches_on_request(tmp_path):
    root = write_corpus(tmp_path / "c", splits=("valid", "test"))
    with pytest.raises(ValueError, match=r"has no train\.txt .*--train-split valid"):
        read_corpus(root)
    with pytest.raises(ValueError, match="does not exist"):
        read_corpus(tmp_path / "nowhere")
    read_corpus(root, splits=("valid", "test"))
    assert not (root / ".rnn_dyn_corpus.npz").exists()  # only when asked
    first = read_corpus(root, splits=("valid", "test"), cache=True)
    assert (root / ".rnn_dyn_corpus.npz").exists()
    again = read_corpus(root, splits=("valid", "test"), cache=True)
    assert again.words == first.words
    np.testing.assert_array_equal(again.splits["test"], first.splits["test"])
    (root / "test.txt").write_text("new words here\n")  # the key changes
    changed = read_corpus(root, splits=("valid", "test"), cache=True)
    assert "new" in changed.words and changed.splits["test"].size == 4


@pytest.mark.parametrize("n, batch, bptt", [(1000, 7, 13), (101, 4, 5), (60, 1, 59)])
def test_windows_use_every_position_once_with_targets_shifted(n, batch, bptt):
    tokens = np.arange(n)  # token t is its own position
    data = streams(tokens, batch)
    length = n // batch
    np.testing.assert_array_equal(data[:, 0], np.arange(batch) * length)
    inputs, targets = windows(data, bptt)
    k = (length - 1) // bptt
    assert inputs.shape == targets.shape == (k, batch, bptt)
    np.testing.assert_array_equal(targets, inputs + 1)  # the next token
    used = np.sort(inputs.ravel())
    expected = np.sort(
        (np.arange(batch)[:, None] * length + np.arange(k * bptt)).ravel()
    )
    np.testing.assert_array_equal(used, expected)  # each position exactly once
    ins, outs, weights = _train_lm.eval_windows(tokens, bptt, np.float64, batch)
    scored = outs[weights > 0]
    assert scored.size == batch * (length - 1) == np.unique(scored).size
    np.testing.assert_array_equal(outs[weights > 0], ins[weights > 0] + 1)


def tiny_lm(getkey, vocab=11, model="lstm", embed=5, hidden=6, tied=False):
    core = getattr(rd.models, model)(embed, hidden)
    lm = language_model(core, vocab, tied=tied)
    return lm, lm.init(getkey())


def test_zero_decoder_gives_perplexity_equal_to_the_vocabulary(getkey):
    lm, params = tiny_lm(getkey, vocab=37)
    params = params._replace(
        decoder_weight=jnp.zeros_like(params.decoder_weight),
        decoder_bias=jnp.zeros_like(params.decoder_bias),
    )
    tokens = np.random.default_rng(1).integers(0, 37, 500)
    evals = _train_lm.eval_windows(tokens, 9, np.float64, 3)
    loss, _ = _train_lm.lm_evaluate(lm, params, lm.initial_state(params), *evals)
    assert float(jnp.exp(loss)) == pytest.approx(37, rel=1e-12)


def test_windows_with_carried_state_equal_one_long_unroll(getkey):
    lm, params = tiny_lm(getkey)
    tokens = np.random.default_rng(2).integers(0, 11, 301)
    x0 = lm.initial_state(params)
    logits, _ = lm.unroll(params, x0, jnp.asarray(tokens[:-1]))
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, tokens[1:])
    for window in (7, 50, 300):  # padding, several windows, one window
        evals = _train_lm.eval_windows(tokens, window, np.float64, 1)
        loss, _ = _train_lm.lm_evaluate(lm, params, x0, *evals)
        np.testing.assert_allclose(loss, jnp.mean(ce), rtol=1e-12)


@pytest.mark.slow  # 20 s of compiling: the slow tier keeps make test under 15 min
def test_epoch_with_bptt_covering_the_stream_is_one_step_on_the_full_gradient(getkey):
    lm, params = tiny_lm(getkey)
    tokens = np.random.default_rng(3).integers(0, 11, (2, 41))  # two streams
    x0 = lm.initial_state(params)
    opt = optax.chain(optax.clip_by_global_norm(0.25), optax.adam(0.01))

    def loss(p):
        logits, _ = jax.vmap(lambda t: lm.unroll(p, x0, t))(tokens[:, :-1])
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, 1:])
        return jnp.mean(ce)

    grads = jax.grad(loss)(params)
    with jax.numpy_dtype_promotion("standard"):  # optax's int32 step count
        updates, _ = opt.update(grads, opt.init(params), params)
    expected = optax.apply_updates(params, updates)
    inputs, targets = windows(tokens, 40)
    statics = _train_lm.LMStatics(clip=0.25, dropout=0.0, stabilize=None)
    opt_state = optimizer(0.25, 0.01).init(params)
    got, *_ = _train_lm.lm_epoch(
        statics, lm, params, x0, opt_state, jnp.asarray(0.01), getkey(), inputs, targets
    )
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    # With shorter windows the state is carried but the gradient truncated:
    # the first update differs from the full gradient's.
    short = windows(tokens, 20)
    truncated, *_ = _train_lm.lm_epoch(
        statics, lm, params, x0, opt_state, jnp.asarray(0.01), getkey(), *short
    )
    assert not np.allclose(truncated.embedding, expected.embedding)


def test_feedback_orbit_is_a_loop_of_argmax_steps(getkey):
    lm, params = tiny_lm(getkey, vocab=13, hidden=7)
    inits = jax.random.normal(getkey(), (2, lm.state_size))
    names = ("mean", "random", "w3")
    vocab = tuple(f"w{i}" for i in range(13))
    directions = projections(lm, params, names, vocab)
    words = np.array([4, 9])
    got = lm_orbits(lm, params, words, inits, directions, steps=30, burn_in=20)
    assert got.shape == (10, 2, 4, 3)
    for i, x0 in enumerate(inits):
        for j, word in enumerate(words):
            for fed_back in (False, True):
                x, w, rows = x0, int(word), []
                for _ in range(30):
                    x = lm.core.f(params.core, x, params.embedding[w])
                    h = x[: lm.hidden_size]
                    rows.append(np.asarray(directions @ h))
                    if fed_back:
                        w = int(
                            np.argmax(h @ params.decoder_weight.T + params.decoder_bias)
                        )
                column = j + len(words) * fed_back
                np.testing.assert_allclose(got[:, i, column], rows[20:], rtol=1e-10)


def test_named_projections_pick_the_token_row(getkey):
    lm, params = tiny_lm(getkey, vocab=5, embed=6, hidden=6, tied=True)
    vocab = ("a", "is", "Valkyria", "<unk>", "b")
    d = projections(lm, params, ("mean", "Valkyria", "is", "random2"), vocab)
    np.testing.assert_allclose(d[0], np.full(6, 1 / 6))
    for row, index in ((1, 2), (2, 1)):  # tied: the decoder is the embedding
        e = params.embedding[index]
        np.testing.assert_allclose(d[row], e / np.linalg.norm(e), rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(d[3]), 1.0)
    with pytest.raises(ValueError, match="'cat' is not 'mean', 'random"):
        projections(lm, params, ("cat",), vocab)


def test_feedback_model_steps_the_core_under_the_predicted_word(getkey):
    lm, params = tiny_lm(getkey, vocab=9)
    feedback = lm.feedback()
    x = jax.random.normal(getkey(), (lm.state_size,))
    word = int(feedback.word(params, x))
    h = x[: lm.hidden_size]
    assert word == int(np.argmax(params.decoder_weight @ h + params.decoder_bias))
    u = params.embedding[word]
    np.testing.assert_allclose(
        jax.jacfwd(feedback.f, argnums=1)(params, x, jnp.zeros(0)),
        jax.jacfwd(lm.core.f, argnums=1)(params.core, x, u),
        rtol=1e-12,
    )
    spec = rd.lyapunov_spectrum(feedback, params, x, n_steps=200, burn_in=10)
    assert np.isfinite(spec.exponents).all()


@pytest.mark.parametrize("model", ["slstm", "ornn"])
def test_language_model_training_keeps_each_core_on_its_constraint(model, tmp_path):
    root = write_corpus(tmp_path / "c")
    config = TrainConfig(task="lm", data=str(root), model=model, hidden=8, embed=4,
                         batch_size=4, bptt=10, epochs=2, lr=0.01,
                         dropout=0.0)  # fmt: skip
    result = fit(config)
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < losses[0]
    core = jax.tree.map(lambda a: a[0], result.state.params.core)
    if model == "slstm":
        restored = result.model.core.stabilize(core)
        for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(core), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12)  # already projected
    if model == "ornn":
        w = result.model.core.recurrent_matrix(core)
        np.testing.assert_allclose(w.T @ w, np.eye(8), atol=1e-12)


def test_language_model_resume_continues_exactly(tmp_path):
    root = write_corpus(tmp_path / "c", splits=("valid", "test"))
    config = TrainConfig(task="lm", data=str(root), train_split="valid", hidden=6,
                         batch_size=3, bptt=8, epochs=3, dropout=0.3,
                         schedule="plateau", orbit_every=1, orbit_steps=30,
                         orbit_burn_in=20, orbit_words=("is", "cat"))  # fmt: skip
    whole = fit(config, tmp_path / "whole")
    fit(TrainConfig(**{**config.to_json(), "epochs": 1, "orbit_words": ("is", "cat")}),
        tmp_path / "part")  # fmt: skip
    resumed = fit(config, tmp_path / "part", resume=True)
    for a, b in zip(
        jax.tree.leaves(whole.state), jax.tree.leaves(resumed.state), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    assert whole.test == resumed.test
    with np.load(tmp_path / "part" / "orbit.npz") as data:
        assert data["outputs"].shape == (10, 5, 4, 3, 4)
        assert list(data["labels"]) == ["is", "cat", "is (feedback)", "cat (feedback)"]
        assert list(data["projections"]) == ["mean", "is", "<unk>"]


@pytest.mark.slow
@pytest.mark.skipif(not WIKITEXT.is_dir(), reason="no offline WikiText-2 copy")
def test_small_lstm_learns_wikitext_valid_in_float32():
    config = TrainConfig(task="lm", data=str(WIKITEXT), train_split="valid", hidden=32,
                         batch_size=20, bptt=20, epochs=1, lr=3e-3,
                         dropout=0.0, max_tokens=80_000)  # fmt: skip
    with jax.enable_x64(False):
        result = fit(config)
    assert result.state.params.embedding.dtype == jnp.float32
    vocab = result.task.corpus.vocab_size
    steps = (80_000 // 20 - 1) // 20
    assert steps >= 190
    val_ppl = float(np.exp(result.history[-1]["val_loss"]))
    assert val_ppl < vocab / 10, (val_ppl, vocab)


@pytest.mark.slow  # 20 s of compiling: the slow tier keeps make test under 15 min
def test_training_windows_report_progress_within_the_epoch(tmp_path):
    from rnn_dyn.train import window_progress

    root = write_corpus(tmp_path / "c", splits=("valid", "test"))
    config = TrainConfig(task="lm", data=str(root), train_split="valid", hidden=4,
                         batch_size=2, bptt=5, epochs=2, seeds=(0, 1))  # fmt: skip
    seen = []
    with window_progress(seen.append):
        result = fit(config)
    windows_per_epoch = (result.task.train.size // 2 - 1) // 5
    assert len(seen) == 2 * windows_per_epoch  # once per window, not per seed
    assert sum(seen) == pytest.approx(2.0)


@pytest.mark.slow  # 20 s of compiling: the slow tier keeps make test under 15 min
def test_logit_orbits_recompute_from_the_saved_parameters(tmp_path):
    """The authors' protocol records the decoder's scores: recomputed here by hand.

    From params.npz alone: step the core under each constant word (and under
    the fed-back argmax) from the recorded initial states, form all |V|
    logits D h + b, and take their mean, the logit of "is", and the random
    mix w·z with w ~ U(0, 2)/|V|.
    """
    from rnn_dyn.train import Run

    root = write_corpus(tmp_path / "c", splits=("valid", "test"))
    config = TrainConfig(task="lm", protocol="authors", data=str(root),
                         train_split="valid", hidden=6, embed=4, batch_size=3,
                         bptt=8, epochs=2, orbit_every=1, orbit_steps=25,
                         orbit_burn_in=20,
                         orbit_projections=("mean", "is", "random1"))  # fmt: skip
    result = fit(config, tmp_path / "run")
    run = Run(tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (saved["orbit_space"], saved["orbit_word_pool"]) == ("logits", 800)
    assert (saved["orbit_inits"], saved["orbit_std"]) == (5, 100)
    record = run.orbits(0)
    assert record.space == "logits" and list(record.epochs) == [1, 2]
    assert record.inits.shape == (5, 2, 12)  # per word: (h, c) of 6 units each
    params = run.params(0)
    vocab = result.task.corpus.words
    v = len(vocab)
    key = jax.random.fold_in(jax.random.key(0), 1)
    mix = np.asarray(jax.random.uniform(key, (v,), jnp.float64, 0, 2)) / v
    decoder, bias = np.asarray(params.decoder_weight), np.asarray(params.decoder_bias)
    for j, word in enumerate(record.inputs):
        for fed_back in (False, True):
            for i in (0, 4):
                x, w, rows = jnp.asarray(record.inits[i, j]), int(word), []
                for _ in range(25):
                    x = result.model.core.f(params.core, x, params.embedding[w])
                    logits = decoder @ np.asarray(x[:6]) + bias
                    rows.append([logits.mean(), logits[vocab.index("is")],
                                 mix @ logits])  # fmt: skip
                    if fed_back:
                        w = int(np.argmax(logits))
                column = j + 2 * fed_back
                np.testing.assert_allclose(
                    record.outputs[:, i, column, :, -1],
                    rows[20:],
                    rtol=1e-9,
                    atol=1e-12,
                )
