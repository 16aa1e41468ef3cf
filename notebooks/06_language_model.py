# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A word-level language model as a dynamical system
#
# The last experiment of Ribeiro et al. (AISTATS 2020, Supp. Figs. 5-7) trains
# word-level language models on WikiText-2 and watches, epoch by epoch, what
# the recurrent state settles into in two settings:
#
# - under a **constant word**: $x_{t+1} = f(x_t, E w)$, the core of the model
#   with its input held at the embedding of one word;
# - in **feedback**: the most probable next word is fed back as the next
#   input, $x_{t+1} = f(x_t, E \operatorname{argmax}(D h(x_t) + b))$, an
#   autonomous map (what greedy text generation iterates).
#
# The state is high-dimensional, so the figures show projections of the hidden
# vector $h$: its mean over units, and its component along a word's decoder
# row $D_w / \lVert D_w \rVert$ (that word's logit, up to bias and norm).
#
# The tools:
#
# - `rnn_dyn.tasks.read_corpus` reads a WikiText directory (`train.txt`,
#   `valid.txt`, `test.txt`, one vocabulary, `<eos>` per line);
# - `rnn_dyn.train.fit(TrainConfig(task="lm", ...))` trains with truncated BPTT
#   (the state carried across windows) and records the projected orbits every
#   `orbit_every` epochs;
# - `plotting.orbit_grid` draws them as in the paper: rows are projections,
#   columns are the constant words and their feedback versions;
# - `LanguageModel.constant_input` and `LanguageModel.feedback()` turn the
#   trained model into maps that `rd.lyapunov_spectrum` and
#   `rd.classify_attractor` take as they are.
#
# The offline copy of WikiText-2 in `../shared/data/wikitext-2/` has only
# `valid.txt` and `test.txt`, so we train on `valid.txt` and split `test.txt`
# in halves for validation and test (`train_split="valid"`). Without that
# folder the notebook writes a small synthetic corpus instead. QUICK mode
# (as `make test` runs it) trains on a small slice.

# %%
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import rnn_dyn as rd
from rnn_dyn import plotting
from rnn_dyn.tasks import read_corpus
from rnn_dyn.train import Run, TrainConfig, fit

QUICK = os.environ.get("RNN_DYN_QUICK") == "1"
START = time.perf_counter()
WORK = tempfile.TemporaryDirectory()  # run directory, removed at the end

# The offline copy, seen from notebooks/ or from the repository root.
COPIES = [Path(p) / "shared/data/wikitext-2" for p in ("../..", "..")]
DATA = next((p for p in COPIES if (p / "valid.txt").is_file()), None)
if DATA is None:
    # A synthetic corpus: sentences from a small grammar, with <unk>.
    DATA = Path(WORK.name) / "corpus"
    DATA.mkdir()
    rng = np.random.default_rng(0)
    subjects = ["the cat", "a dog", "the <unk>", "my friend", "the river"]
    verbs = ["is", "was", "runs", "sleeps", "looks"]
    rest = ["on the mat", "in the house", "near the river", "very old", "here"]
    for split, n in (("valid", 6000), ("test", 3000)):
        lines = [
            " ".join([rng.choice(subjects), rng.choice(verbs), rng.choice(rest), "."])
            for _ in range(n)
        ]
        (DATA / f"{split}.txt").write_text("\n".join(lines) + "\n")

corpus = read_corpus(DATA, splits=("valid", "test"))
print(
    f"{DATA}: {corpus.vocab_size} words; valid {corpus.splits['valid'].size} "
    f"tokens, test {corpus.splits['test'].size}"
)
print("'Valkyria' in the vocabulary:", "Valkyria" in corpus.words)
print("QUICK =", QUICK, "| device:", jax.devices()[0].device_kind)

# %% [markdown]
# "Valkyria", the third projection of the paper's figures, comes from the
# first article of WikiText-2's *train* split; it does not occur in the valid
# and test splits, so here the third projection is `<unk>`, as in the paper's
# Supp. Figs. 6-7.
#
# A reference for the perplexities below: a unigram model (word frequencies of
# the training tokens, add-one smoothing) scored on the same test tokens.

# %%
MAX_TOKENS = 12_000 if QUICK else None  # tokens of each split
BURN_IN = 300 if QUICK else 1500  # orbit burn-in (the paper's 1500)
N_SPECTRUM = 1000 if QUICK else 10_000  # measured steps of the spectra
N_TEXT = 400 if QUICK else 2000  # greedy steps before the printed text
config = TrainConfig(
    task="lm",
    data=str(DATA),
    train_split="valid",
    model="lstm",
    hidden=32 if QUICK else 128,
    batch_size=20,
    bptt=35 if QUICK else 70,
    dropout=0.0 if QUICK else 0.5,
    lr=3e-3,
    epochs=2 if QUICK else 10,
    schedule="plateau",
    patience=2,
    max_tokens=MAX_TOKENS,
    orbit_every=1,
    orbit_words=("the", "is"),
    orbit_projections=("mean", "is", "<unk>"),
    orbit_steps=BURN_IN + 100,
    orbit_burn_in=BURN_IN,
)
t0 = time.perf_counter()
result = fit(config, Path(WORK.name) / "lm", corpus=corpus)
print(f"{config.epochs} epochs in {time.perf_counter() - t0:.0f} s")

train_tokens = result.task.train
counts = np.bincount(train_tokens, minlength=corpus.vocab_size) + 1.0
unigram = -np.mean(np.log(counts[result.task.test] / counts.sum()))
last = result.history[-1]
print(
    f"perplexity: validation {np.exp(last['val_loss']):.1f}, "
    f"test {np.exp(result.test[0]['test_loss']):.1f}; "
    f"unigram on the same test tokens {np.exp(unigram):.1f}; "
    f"vocabulary {corpus.vocab_size}"
)
plotting.training_curves(result.history, title="LSTM language model")
plt.show()

# %% [markdown]
# The model learns well beyond word frequencies when the run is long enough
# (the full run below the QUICK one in the README); in QUICK mode a few epochs
# on a small slice only approach the unigram model.
#
# ## The attractors epoch by epoch
#
# `orbit.npz` holds, for each recorded epoch, the projections of $h$ after a
# burn-in of 1,500 steps (500 in QUICK mode), from 5 random initial states (std 1), under the
# constant words and in feedback mode: shape (steps, initial states, columns,
# projections, epochs).

# %%
run = Path(WORK.name) / "lm"
record = Run(run).orbits()
outputs, epochs = record.outputs, record.epochs
labels, names = list(record.labels), list(record.projections)
print("orbit.npz outputs:", outputs.shape, "columns:", labels)
plotting.orbit_grid(epochs, outputs, rows=names, columns=labels,
                    title="LSTM language model")  # fmt: skip
plt.show()

# %% [markdown]
# Each panel shows, per epoch, the values visited after the burn-in. A single
# dot per epoch and initial state is a fixed point; several dots a cycle; a
# vertical smear an orbit that does not repeat. What each column settles into
# at the last epoch, by the Lyapunov tools (in float64, from the first
# initial state of the recorder's kind):

# %%
lm = result.model
with jax.enable_x64(True):
    params64 = jax.tree.map(
        lambda a: jnp.asarray(a[0], jnp.float64), result.state.params
    )
    x0 = jax.random.normal(jax.random.key(1), (lm.state_size,), jnp.float64)
    feedback = lm.feedback()
    for word in config.orbit_words:
        u = lm.constant_input(params64, corpus.index(word))
        verdict = rd.classify_attractor(
            lm.core, params64.core, x0, u, n_steps=N_SPECTRUM, burn_in=N_SPECTRUM
        )
        spec = rd.lyapunov_spectrum(
            lm.core, params64.core, x0, jnp.broadcast_to(u, (N_SPECTRUM + 1000, u.size)),
            n_steps=N_SPECTRUM, burn_in=1000, k=3,
        )  # fmt: skip
        print(
            f"constant {word!r}: {verdict.kind} (period {verdict.period}), "
            f"lambda = {np.round(spec.exponents, 4)}"
        )
        start = jax.jit(lm.core.f)(params64.core, x0, u)  # first step with the word
        verdict = rd.classify_attractor(
            feedback, params64, start, n_steps=N_SPECTRUM, burn_in=N_SPECTRUM
        )
        spec = rd.lyapunov_spectrum(
            feedback, params64, start, n_steps=N_SPECTRUM, burn_in=1000, k=3
        )
        print(
            f"feedback from {word!r}: {verdict.kind} (period {verdict.period}), "
            f"lambda = {np.round(spec.exponents, 4)}"
        )

# %% [markdown]
# The feedback map is greedy generation: the words it visits are the model's
# most probable continuation of its own output. Its attractor is visible in
# the text: a fixed point repeats one word, a cycle repeats a phrase.


# %%
def greedy_words(params, x, word, steps):
    """The words of the feedback orbit that starts with ``word``."""
    words = [word]
    step = jax.jit(lambda x, w: lm.core.f(params.core, x, params.embedding[w]))
    for _ in range(steps):
        x = step(x, words[-1])
        words.append(int(feedback.word(params, x)))
    return words


with jax.enable_x64(True):
    for word in config.orbit_words:
        ids = greedy_words(params64, x0, corpus.index(word), N_TEXT + 60)
        print(f"{word!r} ->", " ".join(corpus.words[i] for i in ids[:25]), "...")
        tail = ids[N_TEXT:]
        print(
            f"   after {N_TEXT} steps: {' '.join(corpus.words[i] for i in tail[:20])}"
        )
        print(f"   distinct words in the last 60: {len(Counter(tail))}")

# %%
print(f"notebook ran in {time.perf_counter() - START:.0f} s")
WORK.cleanup()
