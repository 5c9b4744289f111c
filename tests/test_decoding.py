"""Greedy and beam search on a toy step function whose logits depend on the whole prefix.

The prefix lives in the cache as a rolling hash, so a beam search that reordered the cache wrongly
would give different tokens than the plain-Python reference below (which recomputes every prefix).
The toy model gives [PAD] and [START] ordinary logits: the searches must never generate them, and
the reference renormalises over the other tokens as the searches do.
"""

import itertools
import math

import numpy as np
import pytest
import tensorflow as tf

from kdl_transformer import decoding

START, END, PAD = 2, 3, 0
MODULUS = 997


class ToyModel:
    """Logits from a random table indexed by a hash of the prefix; [END] likelier with length."""

    def __init__(self, vocab_size=7, seed=0, end_bias=0.4):
        rng = np.random.default_rng(seed)
        self.table = rng.normal(size=(MODULUS, vocab_size)).astype("float32") * 2.0
        self.end_bias = end_bias

    def next(self, token_ids, cache, index):
        prefix_hash = (cache["hash"] * 31 + token_ids[:, 0]) % MODULUS  # (B,)
        logits = tf.gather(self.table, prefix_hash)  # (B, V)
        bias = tf.one_hot(END, self.table.shape[1]) * self.end_bias * tf.cast(index, tf.float32)
        return logits + bias, {"hash": prefix_hash}

    def log_probs(self, prefix):
        """Reference: log P(next | prefix) for a Python list prefix starting with [START]."""
        h = 0
        for token in prefix:
            h = (h * 31 + token) % MODULUS
        logits = self.table[h].astype("float64")
        logits[END] += self.end_bias * (len(prefix) - 1)
        logits[[PAD, START]] = -np.inf  # never generated
        logits -= logits.max()
        return logits - np.log(np.exp(logits).sum())


def lp(length, alpha):
    return ((5 + length) / 6) ** alpha


def reference_beam(model, beam_size, alpha, max_length):
    """Plain-Python beam search with the same rules as `decoding.beam_search` (one sentence).

    Returns the n-best list as `(tokens, score)` pairs, best first.
    """
    alive = [([], 0.0)]
    finished = []  # (score, tokens, log_prob)
    max_pen = lp(max_length, alpha)
    for step in range(max_length):
        cands = []
        for tokens, logp in alive:
            step_lp = model.log_probs([START] + tokens)
            for tok in range(len(step_lp)):
                cands.append((logp + step_lp[tok], tokens + [tok]))
        cands.sort(key=lambda c: -c[0])
        cands = cands[: 2 * beam_size]
        for pos, (logp, tokens) in enumerate(cands[:beam_size]):
            if tokens[-1] == END:
                finished.append((logp / lp(step + 1, alpha), tokens, logp))
        finished.sort(key=lambda f: -f[0])
        finished = finished[:beam_size]
        alive = [(t, lp_) for lp_, t in cands if t[-1] != END][:beam_size]
        best_possible = max(lp_ for _, lp_ in alive) / max_pen
        if len(finished) == beam_size and finished[-1][0] >= best_possible:
            break
    if finished:
        return [(tokens, score) for score, tokens, _ in finished]
    return [(tokens, logp / lp(len(tokens), alpha)) for tokens, logp in alive]


def reference_greedy(model, max_length):
    tokens, logp = [], 0.0
    while len(tokens) < max_length:
        step_lp = model.log_probs([START] + tokens)
        tok = int(np.argmax(step_lp))
        tokens.append(tok)
        logp += step_lp[tok]
        if tok == END:
            break
    return tokens, logp


def start_cache(seeds):
    """A batch of 'sentences': each starts from its own hash so they decode differently."""
    return {"hash": tf.constant(seeds, tf.int32)}, tf.fill([len(seeds)], START)


def strip(row):
    return [int(t) for t in row if t != PAD]


@pytest.mark.parametrize("seed", [0, 1])
def test_greedy_matches_reference(seed):
    model = ToyModel(seed=seed)
    cache, start = start_cache([0])
    tokens, log_probs, lengths = decoding.greedy_search(model.next, cache, start, END, 12)
    ref_tokens, ref_lp = reference_greedy(model, 12)
    assert strip(tokens[0].numpy()) == ref_tokens
    assert lengths[0] == len(ref_tokens)
    np.testing.assert_allclose(log_probs[0], ref_lp, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("beam_size,alpha", [(1, 0.6), (2, 0.0), (3, 0.6), (4, 1.0), (5, 0.6)])
@pytest.mark.parametrize("seed", [0, 3])
def test_beam_matches_reference(beam_size, alpha, seed):
    model = ToyModel(seed=seed)
    cache, start = start_cache([0])
    tokens, scores, _, _ = decoding.beam_search(
        model.next, cache, start, END, 10, beam_size=beam_size, alpha=alpha
    )
    reference = reference_beam(model, beam_size, alpha, 10)  # the whole n-best list
    for rank, (ref_tokens, ref_score) in enumerate(reference):
        assert strip(tokens[0, rank].numpy()) == ref_tokens
        np.testing.assert_allclose(scores[0, rank], ref_score, rtol=1e-5, atol=1e-4)
    assert np.all(scores[0, len(reference) :].numpy() < decoding.NEG_INF / 2)  # empty slots


def test_beam_size_one_is_greedy():
    for seed in range(6):
        model = ToyModel(seed=seed)
        cache, start = start_cache([0, 5, 17, 40])
        greedy, greedy_lp, greedy_len = decoding.greedy_search(model.next, cache, start, END, 15)
        beam, _, beam_lp, beam_len = decoding.beam_search(
            model.next, cache, start, END, 15, beam_size=1
        )
        np.testing.assert_array_equal(beam[:, 0].numpy(), greedy.numpy())
        np.testing.assert_array_equal(beam_len[:, 0].numpy(), greedy_len.numpy())
        np.testing.assert_allclose(beam_lp[:, 0], greedy_lp, rtol=1e-5)


def test_batched_equals_one_by_one():
    """Stopped sentences are frozen, so batch neighbours never change a translation."""
    model = ToyModel(seed=2, end_bias=0.2)
    seeds = [0, 5, 17, 40, 99]
    cache, start = start_cache(seeds)
    batched, batched_scores, _, _ = decoding.beam_search(
        model.next, cache, start, END, 12, beam_size=3
    )
    for row, seed in enumerate(seeds):
        cache, start = start_cache([seed])
        alone, alone_scores, _, _ = decoding.beam_search(
            model.next, cache, start, END, 12, beam_size=3
        )
        assert strip(alone[0, 0].numpy()) == strip(batched[row, 0].numpy())
        np.testing.assert_allclose(alone_scores[0, 0], batched_scores[row, 0], rtol=1e-6)


A, B = 4, 5  # two ordinary tokens of the state-machine models below (vocabulary of 6)


def state_machine(rows, edges, vocab_size=6):
    """A toy model that moves between states; returns `(next_fn, cache, start_tokens)`.

    Args:
        rows: one `{token: probability}` dict per state (other tokens get 1e-9); state 0 is
            "after [START]".
        edges: `{(state, token): next_state}`; any other transition goes to a final state
            where [END] is certain.
    """

    def log_probs(probs):
        p = np.full(vocab_size, 1e-9)
        for token, value in probs.items():
            p[token] = value
        return np.log(p / p.sum()).astype("float32")

    table = tf.constant(np.stack([log_probs(p) for p in rows] + [log_probs({END: 1.0})]))
    transitions = np.full((len(rows) + 1, vocab_size), len(rows), np.int32)
    for (state, token), next_state in edges.items():
        transitions[state, token] = next_state
    transitions = tf.constant(transitions)

    def next_fn(token_ids, cache, index):
        token, state = token_ids[:, 0], cache["state"]
        moved = tf.gather_nd(transitions, tf.stack([state, token], axis=1))
        state = tf.where(token == START, state, moved)
        return tf.gather(table, state), {"state": state}

    return next_fn, {"state": tf.zeros([1], tf.int32)}, tf.fill([1], START)


def test_beam_finds_the_sequence_greedy_misses():
    """Greedy takes "a" (0.6) then a flat step (0.3 for [END]); beam keeps 'b' (0.4) followed by a sure [END]."""
    next_fn, cache, start = state_machine(
        rows=[{A: 0.6, B: 0.4}, {END: 0.3, A: 0.25, B: 0.25, 1: 0.2}, {END: 0.99, A: 0.01}],
        edges={(0, A): 1, (0, B): 2},
    )
    greedy, greedy_lp, _ = decoding.greedy_search(next_fn, cache, start, END, 5)
    beam, _, beam_lp, _ = decoding.beam_search(next_fn, cache, start, END, 5, beam_size=2)
    assert strip(greedy[0].numpy()) == [A, END]
    assert strip(beam[0, 0].numpy()) == [B, END]
    assert float(beam_lp[0, 0]) > float(greedy_lp[0])


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_beam_stops_only_when_its_n_best_list_is_final(alpha):
    """Two short hypotheses end first, but the alive "a a" keeps a high probability and ends better.

    Step 1 ends [END] (0.25); step 2 ends "b [END]" (0.18): two finished hypotheses for two
    beams, which stopped the search under the old rule (K finished). "a a" (0.5445) can still
    beat the worse of them, so the search goes on and "a a [END]" (0.539) comes first.
    """
    next_fn, cache, start = state_machine(
        rows=[{A: 0.55, END: 0.25, B: 0.2}, {A: 0.99, END: 0.01}, {END: 0.9, A: 0.1},
              {END: 0.99, A: 0.01}],
        edges={(0, A): 1, (0, B): 2, (1, A): 3},
    )
    tokens, scores, _, _ = decoding.beam_search(
        next_fn, cache, start, END, 6, beam_size=2, alpha=alpha
    )
    assert [strip(t) for t in tokens[0].numpy()] == [[A, A, END], [END]]
    expected = [math.log(0.55 * 0.99 * 0.99) / lp(3, alpha), math.log(0.25) / lp(1, alpha)]
    np.testing.assert_allclose(scores[0], expected, rtol=1e-5)


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.5])
def test_n_best_scores_are_sorted_and_length_normalised(alpha):
    model = ToyModel(seed=5, end_bias=0.3)
    cache, start = start_cache([0, 5, 17, 40])
    _, scores, log_probs, lengths = decoding.beam_search(
        model.next, cache, start, END, 12, beam_size=4, alpha=alpha
    )
    assert np.all(np.diff(scores.numpy(), axis=1) <= 0)  # best first
    real = scores.numpy() > decoding.NEG_INF / 2
    expected = decoding.normalized_score(log_probs, lengths, alpha).numpy()
    np.testing.assert_allclose(scores.numpy()[real], expected[real], rtol=1e-6)


def favour_pad_and_start(model):
    """`model.next` with [PAD] and [START] far likelier than any token; [END] sure from index 3."""
    vocab = tf.range(model.table.shape[1])

    def next_fn(token_ids, cache, index):
        logits, cache = model.next(token_ids, cache, index)
        logits = tf.where((vocab == PAD) | (vocab == START), 20.0, logits)
        logits = tf.where(vocab == END, tf.where(index >= 3, 40.0, -30.0), logits)
        return logits, cache

    return next_fn


def test_pad_and_start_are_never_generated():
    next_fn = favour_pad_and_start(ToyModel(seed=1))
    cache, start = start_cache([0, 5, 17])
    greedy, _, greedy_lengths = decoding.greedy_search(next_fn, cache, start, END, 8)
    beam, _, beam_log_probs, beam_lengths = decoding.beam_search(
        next_fn, cache, start, END, 8, beam_size=3
    )
    for tokens in (greedy.numpy(), beam.numpy().reshape(-1, 8)):
        assert not np.isin(tokens[:, :3], [PAD, START]).any()
        np.testing.assert_array_equal(tokens[:, 3], END)  # the model said [END]: it ends there
        np.testing.assert_array_equal(tokens[:, 4:], PAD)
    np.testing.assert_array_equal(greedy_lengths.numpy(), 4)
    np.testing.assert_array_equal(beam_lengths.numpy(), 4)
    assert np.all(beam_log_probs.numpy() > -20)  # three real hypotheses per sentence


def test_searches_report_the_teacher_forced_log_probs():
    """score_sequences renormalises over the same tokens as the searches (no [PAD], no [START])."""
    model = ToyModel(seed=1)
    next_fn = favour_pad_and_start(model)
    seeds = [0, 5, 17]

    def logits_fn_for(seeds):
        def logits_fn(decoder_inputs):  # the cached step run over every position
            cache, logits = {"hash": tf.constant(seeds, tf.int32)}, []
            for index in range(decoder_inputs.shape[1]):
                step_logits, cache = next_fn(decoder_inputs[:, index : index + 1], cache, index)
                logits.append(step_logits)
            return tf.stack(logits, axis=1)

        return logits_fn

    cache, start = start_cache(seeds)
    greedy, greedy_log_probs, _ = decoding.greedy_search(next_fn, cache, start, END, 8)
    scored, _ = decoding.score_sequences(logits_fn_for(seeds), greedy, START)
    np.testing.assert_allclose(scored, greedy_log_probs, rtol=1e-5)

    beam, _, beam_log_probs, _ = decoding.beam_search(next_fn, cache, start, END, 8, beam_size=3)
    scored, _ = decoding.score_sequences(
        logits_fn_for(np.repeat(seeds, 3)), tf.reshape(beam, [-1, 8]), START
    )
    np.testing.assert_allclose(scored, tf.reshape(beam_log_probs, [-1]), rtol=1e-5)


def test_wide_beam_is_exhaustive():
    """With more beams than hypotheses, beam search returns the best normalised sequence."""
    model = ToyModel(vocab_size=5, seed=4, end_bias=0.0)
    max_length, alpha = 3, 0.6
    best = -math.inf
    for length in range(1, max_length + 1):
        for body in itertools.product([1, 4], repeat=length - 1):
            seq = list(body) + [END]
            logp = sum(model.log_probs([START] + seq[:i])[seq[i]] for i in range(len(seq)))
            best = max(best, logp / lp(length, alpha))
    cache, start = start_cache([0])
    _, scores, _, _ = decoding.beam_search(
        model.next, cache, start, END, max_length, beam_size=64, alpha=alpha
    )
    np.testing.assert_allclose(scores[0, 0], best, rtol=1e-5)


def test_unfinished_sentences_return_alive_hypotheses():
    model = ToyModel(seed=0, end_bias=-100.0)  # [END] never wins
    cache, start = start_cache([0, 1])
    tokens, scores, _, lengths = decoding.beam_search(
        model.next, cache, start, END, 4, beam_size=2
    )
    assert tokens.shape == (2, 2, 4)
    np.testing.assert_array_equal(lengths.numpy(), 4)
    assert np.all(tokens.numpy() != PAD)
    assert np.all(np.diff(scores.numpy(), axis=1) <= 0)  # best first


def test_search_runs_as_one_graph_loop():
    """Both searches trace into a tf.function with a While op (no unrolled copies)."""
    model = ToyModel(seed=0)

    @tf.function
    def run(seeds):
        cache = {"hash": seeds}
        start = tf.fill(tf.shape(seeds), START)
        return (
            decoding.greedy_search(model.next, cache, start, END, 30)[0],
            decoding.beam_search(model.next, cache, start, END, 30, beam_size=3)[0],
        )

    graph = run.get_concrete_function(tf.TensorSpec([None], tf.int32)).graph
    op_types = [op.type for op in graph.get_operations()]
    assert op_types.count("While") + op_types.count("StatelessWhile") == 2
    eager_greedy = decoding.greedy_search(
        model.next, {"hash": tf.constant([3])}, tf.constant([START]), END, 30
    )[0]
    np.testing.assert_array_equal(run(tf.constant([3]))[0].numpy(), eager_greedy.numpy())


def test_beam_size_must_be_positive():
    model = ToyModel()
    cache, start = start_cache([0])
    with pytest.raises(ValueError, match="beam_size=0"):
        decoding.beam_search(model.next, cache, start, END, 5, beam_size=0)


def test_negative_length_penalty_is_refused():
    model = ToyModel()
    cache, start = start_cache([0])
    with pytest.raises(ValueError, match="alpha=-0.5 must be >= 0: a negative exponent"):
        decoding.beam_search(model.next, cache, start, END, 5, alpha=-0.5)


def test_length_penalty_values():
    np.testing.assert_allclose(decoding.length_penalty(1, 0.6), 1.0)
    np.testing.assert_allclose(decoding.length_penalty(7, 1.0), 2.0)
    np.testing.assert_allclose(decoding.length_penalty(7, 0.0), 1.0)
