"""The repeat guard of both searches (`no_repeat_ngram_size`), against a plain-Python reference.

The toy model here scores the next token from the last one only (a Markov chain over 7 tokens),
so unguarded searches run in cycles and repeat n-grams, as an under-trained translator does; the
guarded ones must never write an n-gram twice, must choose exactly what the reference chooses
among the allowed tokens, and must still report the model's own log-probabilities.
"""

import numpy as np
import pytest
import tensorflow as tf

from kdl_transformer import decoding
from tests.test_decoding import END, PAD, START, lp, strip


class MarkovModel:
    """Logits from a random table indexed by the last token; [END] unlikely at first, then
    likelier with every token written."""

    def __init__(self, seed=0, vocab_size=7, end_bias=0.4):
        rng = np.random.default_rng(seed)
        self.table = rng.normal(size=(vocab_size, vocab_size)).astype("float32") * 2.0
        self.table[:, END] -= 4.0
        self.end_bias = end_bias

    def next(self, token_ids, cache, index):
        bias = tf.one_hot(END, self.table.shape[1]) * self.end_bias * tf.cast(index, tf.float32)
        return tf.gather(self.table, token_ids[:, 0]) + bias, cache

    def log_probs(self, prefix):
        """Reference: log P(next | prefix) for a Python list prefix starting with [START]."""
        logits = self.table[prefix[-1]].astype("float64")
        logits[END] += self.end_bias * (len(prefix) - 1)
        logits[[PAD, START]] = -np.inf  # never generated
        logits -= logits.max()
        return logits - np.log(np.exp(logits).sum())


def start_cache(batch):
    return {"unused": tf.zeros([batch, 1])}, tf.fill([batch], START)


def banned(tokens, n):
    """Reference: the tokens that would complete an n-gram already in `tokens`."""
    if len(tokens) < n - 1:
        return set()
    prefix = tuple(tokens[len(tokens) - n + 1:])
    return {tokens[j + n - 1] for j in range(len(tokens) - n + 1)
            if tuple(tokens[j : j + n - 1]) == prefix}


def has_repeated_ngram(tokens, n):
    grams = [tuple(tokens[j : j + n]) for j in range(len(tokens) - n + 1)]
    return len(grams) != len(set(grams))


def guarded(model, tokens, n):
    step = model.log_probs([START] + tokens)
    for token in banned(tokens, n):
        step[token] = -np.inf
    return step


def reference_greedy(model, max_length, n):
    tokens = []
    while len(tokens) < max_length:
        tokens.append(int(np.argmax(guarded(model, tokens, n))))
        if tokens[-1] == END:
            break
    return tokens


def reference_beam(model, beam_size, alpha, max_length, n):
    """`test_decoding.reference_beam` with the guard: the best hypothesis."""
    alive, finished = [([], 0.0)], []
    for step in range(max_length):
        candidates = []
        for tokens, log_prob in alive:
            true = model.log_probs([START] + tokens)
            allowed = guarded(model, tokens, n)
            candidates += [(log_prob + true[t], tokens + [t]) for t in range(len(true))
                           if np.isfinite(allowed[t])]
        candidates.sort(key=lambda c: -c[0])
        candidates = candidates[: 2 * beam_size]
        finished += [(log_prob / lp(step + 1, alpha), tokens) for log_prob, tokens
                     in candidates[:beam_size] if tokens[-1] == END]
        finished = sorted(finished, key=lambda f: -f[0])[:beam_size]
        alive = [(t, log_prob) for log_prob, t in candidates if t[-1] != END][:beam_size]
        best_possible = max(log_prob for _, log_prob in alive) / lp(max_length, alpha)
        if len(finished) == beam_size and finished[-1][0] >= best_possible:
            break
    return finished[0][1]


def test_repeated_ngram_tokens_finds_what_would_repeat():
    history = tf.constant([[5, 6, 7, 5, 6, 0, 0], [4, 4, 4, 8, 4, 0, 0]], tf.int32)
    for index, n, rows in [(5, 3, [{7}, set()]), (5, 2, [{7}, {4, 8}]), (3, 2, [set(), {4}]),
                           (3, 1, [{5, 6, 7}, {4}]), (2, 3, [set(), set()])]:
        found = decoding.repeated_ngram_tokens(history, tf.constant(index), n, 9).numpy()
        assert [set(np.flatnonzero(row)) for row in found] == rows, (index, n)
        assert [banned(list(h[:index]), n) for h in history.numpy()] == rows


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 3])
def test_guarded_greedy_matches_the_reference_and_never_repeats(n, seed):
    model = MarkovModel(seed=seed)
    cache, start = start_cache(1)
    plain, _, _ = decoding.greedy_search(model.next, cache, start, END, 14)
    tokens, _, _ = decoding.greedy_search(model.next, cache, start, END, 14,
                                          no_repeat_ngram_size=n)
    found = strip(tokens[0].numpy())
    assert found == reference_greedy(model, 14, n)
    assert not has_repeated_ngram(found, n)
    assert has_repeated_ngram(strip(plain[0].numpy()), n)  # unguarded, the model does repeat


@pytest.mark.parametrize("n", [2, 3])
def test_guarded_beam_matches_the_reference_and_never_repeats(n):
    model, alpha = MarkovModel(seed=2), 1.0
    cache, start = start_cache(1)
    tokens, _, _, _ = decoding.beam_search(model.next, cache, start, END, 14, beam_size=3,
                                           alpha=alpha, no_repeat_ngram_size=n)
    assert strip(tokens[0, 0].numpy()) == reference_beam(model, 3, alpha, 14, n)
    for hypothesis in tokens[0].numpy():
        assert not has_repeated_ngram(strip(hypothesis), n)


def test_the_guard_changes_the_choice_not_the_reported_log_probs():
    model = MarkovModel(seed=1)

    def logits_fn(decoder_inputs):  # teacher forcing with the unguarded model
        return tf.stack([model.next(decoder_inputs[:, index : index + 1], None, index)[0]
                         for index in range(decoder_inputs.shape[1])], axis=1)

    cache, start = start_cache(3)
    greedy, greedy_log_probs, _ = decoding.greedy_search(model.next, cache, start, END, 10,
                                                         no_repeat_ngram_size=2)
    np.testing.assert_allclose(decoding.score_sequences(logits_fn, greedy, START)[0],
                               greedy_log_probs, rtol=1e-5)
    beam, _, beam_log_probs, _ = decoding.beam_search(model.next, cache, start, END, 10,
                                                      beam_size=3, no_repeat_ngram_size=2)
    scored = decoding.score_sequences(logits_fn, tf.reshape(beam, [-1, 10]), START)[0].numpy()
    reported = tf.reshape(beam_log_probs, [-1]).numpy()
    real = reported > decoding.NEG_INF / 2  # n-best slots that received a hypothesis
    assert real.sum() >= 3
    np.testing.assert_allclose(scored[real], reported[real], rtol=1e-5)


@pytest.mark.parametrize("bad", [-1, 1.5, "3"])
def test_a_bad_guard_size_is_refused(bad):
    with pytest.raises(ValueError, match="must be a whole number >= 0"):
        decoding.check_no_repeat_ngram_size(bad)
