"""Greedy and beam search over a pure, cached decoding step.

Both searches are thin graph loops (`tf.while_loop`) over a step function

    next_fn(token_ids, cache, index) -> (logits, cache)

where `token_ids` (batch, 1) are the tokens at position `index` (an int32 scalar tensor), `logits`
(batch, vocab) score the token at position `index + 1`, and `cache` is any nested structure of
tensors whose first axis is the batch (for the translator: the decoder's self-attention key/value
cache, the cross-attention keys/values computed once per sentence, and the source padding mask;
see `Seq2SeqTransformer.init_cache`). One new token therefore costs one decoder step, never a
re-run of the whole model (the book's loop), and the loop runs inside one `tf.function`, so an
exported SavedModel carries one loop instead of `max_length` unrolled copies.

Beam search keeps two sets per sentence, as fairseq and tensor2tensor do: `beam_size` *alive*
hypotheses, ranked by their log-probability (all alive hypotheses have the same length), and up
to `beam_size` *finished* ones (ended by `[END]`), ranked by the length-normalised score of GNMT
(Wu et al., 2016):

    score(y) = log P(y | x) / lp(y),   lp(y) = ((5 + |y|) / 6) ** alpha

with `|y|` the number of generated tokens including `[END]`. `[END]` is only accepted when it is
among the `beam_size` best candidates of a step, so `beam_size=1` is exactly greedy search.

A sentence stops only when its n-best list is final: it holds `beam_size` finished hypotheses
and no alive one can still beat the worst of them. Adding a token never raises a
log-probability, and for `alpha >= 0` the penalty grows with length, so an alive hypothesis with
log-probability `a <= 0` can at best score `a / lp(max_length)`; the sentence stops when its
`beam_size`-th finished score reaches the best such bound. Once stopped it is frozen, so a
sentence gets the same translations alone or in any batch. The loop ends when every sentence has
stopped or `max_length` tokens were produced. A negative `alpha` would reward length without
bound (and void that bound), so it is refused.

Neither search ever generates `[PAD]` or `[START]`: their logits are set to `NEG_INF` at every
step, and the reported log-probabilities are renormalised over the other tokens, exactly as
`score_sequences` computes them.

`no_repeat_ngram_size=n > 0` forbids a hypothesis to write any n-gram it already holds (a guard
against the run-on repeats "2년 동안 2년 동안 ..." of an under-trained model): at each step
the token that would complete an earlier n-gram is not chosen. Only the choice changes, not the
model's log-probabilities the searches report and rank by, so `score_sequences` still gives the
same figures for what was found.
"""

from typing import NamedTuple

import tensorflow as tf

from kdl_transformer.layers.attention import large_negative_number

# A finite "minus infinity": -inf would give NaN in `-inf - -inf` and in `0 * -inf`.
NEG_INF = large_negative_number("float32")


def length_penalty(length, alpha):
    """GNMT length penalty `((5 + length) / 6) ** alpha` (float32; `alpha=0` gives 1)."""
    length = tf.cast(length, tf.float32)
    return tf.pow((5.0 + length) / 6.0, tf.cast(alpha, tf.float32))


def normalized_score(log_prob, length, alpha):
    """Length-normalised log-probability `log_prob / lp(length)`, as beam search ranks it."""
    return tf.cast(log_prob, tf.float32) / length_penalty(length, alpha)


def check_length_penalty(alpha, name="alpha"):
    """Raise a ValueError when the length-penalty exponent is negative (and known in Python).

    Args:
        alpha: float or scalar tensor; a tensor whose value is only known when the graph runs
            (a `tf.function` argument) is not checked.
        name: the argument's name, for the message.
    """
    value = tf.get_static_value(alpha)
    if value is not None and value < 0:
        raise ValueError(
            f"{name}={float(value):g} must be >= 0: a negative exponent favours ever longer "
            "hypotheses and breaks beam search's stopping bound."
        )


def _write_column(buffer, index, values):
    """`buffer[..., index] = values` for a (..., T) buffer, without Python indexing."""
    is_index = tf.equal(tf.range(tf.shape(buffer)[-1]), index)  # (T,)
    return tf.where(is_index, values[..., None], buffer)


def _mask_special_tokens(logits, start_tokens, pad_token_id):
    """float32 logits (..., V) with `[PAD]` and the start token set to `NEG_INF`.

    `start_tokens` has the leading shape of `logits` (one start token per row) or is a scalar.
    """
    vocab = tf.range(tf.shape(logits)[-1])  # (V,)
    start_tokens = tf.cast(start_tokens, tf.int32)[..., None]
    never = tf.equal(vocab, pad_token_id) | tf.equal(vocab, start_tokens)
    return tf.where(never, NEG_INF, tf.cast(logits, tf.float32))


def check_no_repeat_ngram_size(n):
    """`n` as an int >= 0, or a ValueError saying what to pass."""
    if int(n) != n or n < 0:
        raise ValueError(
            f"no_repeat_ngram_size={n!r} must be a whole number >= 0 (0 allows every repeat, "
            "3 forbids writing any 3 subwords twice)."
        )
    return int(n)


def repeated_ngram_tokens(history, index, n, vocab_size):
    """bool (R, V): the tokens that would make `history[:, :index] + [token]` end with an
    n-gram that already occurs in `history[:, :index]`.

    Args:
        history: int32 (R, T), each row's tokens; positions >= `index` are ignored.
        index: int32 scalar, the position about to be written.
        n: int >= 1 (static), the n-gram size.
        vocab_size: int32 scalar, V.
    """
    rows, length = tf.shape(history)[0], tf.shape(history)[1]
    starts = tf.range(tf.maximum(length - n + 1, 0))  # j: earlier n-gram history[j : j + n]
    match = tf.broadcast_to((starts + n - 1 < index)[None], [rows, tf.size(starts)])
    for i in range(n - 1):  # history[j + i] == the i-th of the last n - 1 tokens written
        current = tf.gather(history, tf.maximum(index - n + 1 + i, 0), axis=1)  # (R,)
        earlier = history[:, i : i + tf.size(starts)]
        match &= tf.equal(earlier, current[:, None])
    followers = history[:, n - 1 : n - 1 + tf.size(starts)]  # the token each earlier n-gram ends with
    row_ids = tf.broadcast_to(tf.range(rows)[:, None], tf.shape(followers))
    counts = tf.scatter_nd(
        tf.stack([row_ids, followers], axis=-1), tf.cast(match, tf.int32), [rows, vocab_size]
    )
    return counts > 0


def _block_repeats(values, history, index, n):
    """`values` (R, V) with the tokens that would repeat an n-gram of `history` set to NEG_INF."""
    if not n:
        return values
    banned = repeated_ngram_tokens(history, index, n, tf.shape(values)[-1])
    return tf.where(banned, NEG_INF, values)


def greedy_search(next_fn, cache, start_tokens, end_token_id, max_length, pad_token_id=0,
                  no_repeat_ngram_size=0):
    """Greedy search: the most likely token at every step, until `[END]`.

    Args:
        next_fn: callable `(token_ids (B, 1), cache, index) -> (logits (B, V), cache)`.
        cache: nested structure of tensors with batch-first shapes `(B, ...)`.
        start_tokens: int32 tensor (B,), the first decoder input of each sentence (`[START]`),
            never generated.
        end_token_id: int, the token that ends a sentence.
        max_length: int or int32 scalar tensor, the most tokens generated per sentence
            (`[END]` included).
        pad_token_id: int, written after `[END]`, never generated.
        no_repeat_ngram_size: int >= 0; n > 0 never writes an n-gram twice in a sentence.

    Returns:
        `(tokens, log_probs, lengths)`: tokens int32 (B, max_length), the generated tokens
        (`[END]` included, then padding); log_probs float32 (B,), log P(tokens | x) with
        `[PAD]` and `[START]` excluded from each step's softmax; lengths int32 (B,), the number
        of generated tokens (`[END]` included).
    """
    no_repeat = check_no_repeat_ngram_size(no_repeat_ngram_size)
    start_tokens = tf.cast(start_tokens, tf.int32)
    batch_size = tf.shape(start_tokens)[0]
    max_length = tf.cast(max_length, tf.int32)
    tokens = tf.fill([batch_size, max_length], tf.constant(pad_token_id, tf.int32))
    log_probs = tf.zeros([batch_size], tf.float32)
    finished = tf.zeros([batch_size], tf.bool)

    def cond(index, last, cache, tokens, log_probs, finished):
        return tf.logical_and(index < max_length, tf.logical_not(tf.reduce_all(finished)))

    def body(index, last, cache, tokens, log_probs, finished):
        logits, cache = next_fn(last[:, None], cache, index)
        logits = _mask_special_tokens(logits, start_tokens, pad_token_id)  # (B, V)
        allowed = _block_repeats(logits, tokens, index, no_repeat)
        token = tf.argmax(allowed, axis=-1, output_type=tf.int32)  # (B,)
        # log_softmax of the chosen token only: logit - logsumexp(logits).
        token_log_prob = tf.gather(logits, token, batch_dims=1) - tf.reduce_logsumexp(logits, -1)
        token = tf.where(finished, pad_token_id, token)
        log_probs += tf.where(finished, 0.0, token_log_prob)
        tokens = _write_column(tokens, index, token)
        finished = tf.logical_or(finished, tf.equal(token, end_token_id))
        # Finished rows keep feeding [END] (never padding, so no all-masked query row).
        last = tf.where(finished, end_token_id, token)
        return index + 1, last, cache, tokens, log_probs, finished

    _, _, _, tokens, log_probs, _ = tf.while_loop(
        cond,
        body,
        (tf.constant(0, tf.int32), start_tokens, cache, tokens, log_probs, finished),
    )
    lengths = tf.reduce_sum(tf.cast(tf.not_equal(tokens, pad_token_id), tf.int32), axis=-1)
    return tokens, log_probs, lengths


def beam_search(
    next_fn,
    cache,
    start_tokens,
    end_token_id,
    max_length,
    beam_size=4,
    alpha=0.6,
    pad_token_id=0,
    no_repeat_ngram_size=0,
):
    """Beam search ranked by GNMT length-normalised log-probability.

    The cache is given once per sentence and repeated `beam_size` times here (the encoder output
    and cross-attention keys/values are computed once per sentence, never per beam).

    Args:
        next_fn: callable `(token_ids (B*K, 1), cache, index) -> (logits (B*K, V), cache)`.
        cache: nested structure of tensors with batch-first shapes `(B, ...)`.
        start_tokens: int32 tensor (B,), the first decoder input of each sentence, never
            generated.
        end_token_id: int, the token that ends a hypothesis.
        max_length: int or int32 scalar tensor, the most tokens per hypothesis (`[END]` included).
        beam_size: int >= 1, hypotheses kept per sentence (K).
        alpha: float >= 0, the length-penalty exponent (0: rank by raw log-probability).
        pad_token_id: int, written after `[END]`, never generated.
        no_repeat_ngram_size: int >= 0; n > 0 never writes an n-gram twice in a hypothesis.

    Returns:
        `(tokens, scores, log_probs, lengths)`, the final n-best list, best first along axis 1:
        tokens int32 (B, K, max_length); scores float32 (B, K), the normalised scores used for
        ranking; log_probs float32 (B, K), log P(tokens | x) with `[PAD]` and `[START]`
        excluded from each step's softmax; lengths int32 (B, K). Slots that never received a
        hypothesis have scores near `NEG_INF`. A sentence with no finished hypothesis after
        `max_length` steps returns its alive hypotheses (no `[END]`).
    """
    if int(beam_size) < 1:
        raise ValueError(f"beam_size={beam_size} must be at least 1; use 1 for greedy search.")
    check_length_penalty(alpha)
    no_repeat = check_no_repeat_ngram_size(no_repeat_ngram_size)
    k = int(beam_size)
    start_tokens = tf.cast(start_tokens, tf.int32)
    batch_size = tf.shape(start_tokens)[0]
    max_length = tf.cast(max_length, tf.int32)
    beam_start_tokens = tf.repeat(start_tokens, k, axis=0)  # (B*K,), a sentence's beams contiguous

    def expand(state, logits):
        """The 2K best one-token extensions of each sentence's alive hypotheses."""
        logits = _mask_special_tokens(logits, beam_start_tokens, pad_token_id)
        step_log_probs = tf.nn.log_softmax(logits, axis=-1)  # (B*K, V)
        vocab_size = tf.shape(step_log_probs)[-1]
        history = tf.reshape(state.alive.tokens, [batch_size * k, -1])  # (B*K, T)
        step_log_probs = _block_repeats(step_log_probs, history, state.index, no_repeat)
        totals = state.alive.log_probs[:, :, None] + tf.reshape(
            step_log_probs, [batch_size, k, vocab_size]
        )  # (B, K, V)
        # 2K candidates: at most K of them (one per beam) are [END], so K alive ones remain.
        log_probs, flat = tf.math.top_k(tf.reshape(totals, [batch_size, k * vocab_size]), 2 * k)
        beam, token = flat // vocab_size, flat % vocab_size  # (B, 2K) each
        tokens = _write_column(tf.gather(state.alive.tokens, beam, batch_dims=1), state.index, token)
        return _Candidates(tokens, log_probs, beam, token)  # tokens (B, 2K, T)

    def keep_finished(state, candidates):
        """Merge the candidates ending in [END] (among the K best, of live sentences) into the K best."""
        is_end = tf.equal(candidates.token, end_token_id)
        accept = is_end & (tf.range(2 * k) < k)[None] & (candidates.log_probs > NEG_INF / 2)
        accept &= tf.logical_not(state.done)[:, None]
        length = state.index + 1
        new = _Finished(
            candidates.tokens,
            tf.where(accept, normalized_score(candidates.log_probs, length, alpha), NEG_INF),
            candidates.log_probs,
            tf.fill([batch_size, 2 * k], length),
        )
        merged = tf.nest.map_structure(lambda a, b: tf.concat([a, b], axis=1), state.finished, new)
        _, keep = tf.math.top_k(merged.scores, k=k)  # (B, K) of 3K
        return tf.nest.map_structure(lambda x: tf.gather(x, keep, batch_dims=1), merged)

    def keep_alive(candidates):
        """The K best candidates that did not end, and the cache rows they continue."""
        is_end = tf.equal(candidates.token, end_token_id)
        log_probs, pick = tf.math.top_k(tf.where(is_end, NEG_INF, candidates.log_probs), k=k)
        beam = tf.gather(candidates.beam, pick, batch_dims=1)  # (B, K)
        rows = tf.reshape(beam + tf.range(batch_size)[:, None] * k, [-1])  # (B*K,)
        last = tf.reshape(tf.gather(candidates.token, pick, batch_dims=1), [-1])
        return _Alive(tf.gather(candidates.tokens, pick, batch_dims=1), log_probs), rows, last

    def n_best_is_final(finished, alive):
        """K finished hypotheses, and no alive one can beat the K-th: a <= 0 scores <= a / lp(max)."""
        kth = finished.scores[:, k - 1]
        best_possible = tf.reduce_max(alive.log_probs, axis=1) / length_penalty(max_length, alpha)
        return (kth > NEG_INF / 2) & (kth >= best_possible)

    def body(state):
        logits, cache = next_fn(state.last[:, None], state.cache, state.index)
        candidates = expand(state, logits)
        finished = keep_finished(state, candidates)
        alive, rows, last = keep_alive(candidates)
        cache = tf.nest.map_structure(lambda x: tf.gather(x, rows), cache)
        done = state.done | n_best_is_final(finished, alive)
        return (_BeamState(state.index + 1, last, cache, alive, finished, done),)

    def cond(state):
        return (state.index < max_length) & tf.logical_not(tf.reduce_all(state.done))

    empty_tokens = tf.fill([batch_size, k, max_length], tf.constant(pad_token_id, tf.int32))
    no_scores = tf.fill([batch_size, k], NEG_INF)
    # Only beam 0 is live at first, so step 0 expands one hypothesis, not K copies of it.
    first_log_probs = tf.tile(tf.concat([[0.0], tf.fill([k - 1], NEG_INF)], 0)[None], [batch_size, 1])
    (state,) = tf.while_loop(cond, body, (_BeamState(
        index=tf.constant(0, tf.int32),
        last=beam_start_tokens,
        cache=tf.nest.map_structure(lambda x: tf.repeat(x, k, axis=0), cache),
        alive=_Alive(empty_tokens, first_log_probs),
        finished=_Finished(empty_tokens, no_scores, no_scores, tf.zeros([batch_size, k], tf.int32)),
        done=tf.zeros([batch_size], tf.bool),
    ),))

    # Sentences with no finished hypothesis return their alive ones, cut at max_length.
    finished, alive, steps = state.finished, state.alive, state.index
    has_finished = (finished.scores[:, 0] > NEG_INF / 2)[:, None]  # (B, 1)
    tokens = tf.where(has_finished[:, :, None], finished.tokens, alive.tokens)
    scores = tf.where(has_finished, finished.scores, normalized_score(alive.log_probs, steps, alpha))
    log_probs = tf.where(has_finished, finished.log_probs, alive.log_probs)
    lengths = tf.where(has_finished, finished.lengths, tf.fill([batch_size, k], steps))
    return tokens, scores, log_probs, lengths


class _Alive(NamedTuple):
    """The K alive hypotheses of each sentence: tokens (B, K, T), log_probs (B, K)."""

    tokens: tf.Tensor
    log_probs: tf.Tensor


class _Finished(NamedTuple):
    """The K best finished hypotheses of each sentence, best first (scores near NEG_INF: empty)."""

    tokens: tf.Tensor  # (B, K, T)
    scores: tf.Tensor  # (B, K), log_probs / lp(lengths)
    log_probs: tf.Tensor  # (B, K)
    lengths: tf.Tensor  # (B, K), [END] included


class _Candidates(NamedTuple):
    """The 2K best extensions of a step: tokens (B, 2K, T), log_probs, beam and new token (B, 2K)."""

    tokens: tf.Tensor
    log_probs: tf.Tensor
    beam: tf.Tensor
    token: tf.Tensor


class _BeamState(NamedTuple):
    """The `tf.while_loop` state of beam search."""

    index: tf.Tensor  # int32 scalar: the position fed at this step
    last: tf.Tensor  # (B*K,) the tokens fed at `index`
    cache: object  # next_fn's cache, rows (B*K, ...) aligned with the alive hypotheses
    alive: _Alive
    finished: _Finished
    done: tf.Tensor  # (B,) bool: the sentence's n-best list is final


def score_sequences(logits_fn, tokens, start_token_id, pad_token_id=0):
    """log P(tokens | x) by teacher forcing: one full decoder pass, no search.

    Used for the beam-search error analysis (compare log P(y*|x) with log P(y_hat|x)) and to
    check that the cached searches report the log-probabilities the full model gives: like the
    searches, it excludes `[PAD]` and `[START]` from every step's softmax.

    Args:
        logits_fn: callable `decoder_input_ids (B, T) -> logits (B, T, V)` (the source is bound
            inside, e.g. `lambda d: model([source_ids, d])`).
        tokens: int (B, T), the sequence to score as the searches return it: its tokens, then
            `[END]` if it has one, then padding.
        start_token_id: int, prepended as the first decoder input.
        pad_token_id: int.

    Returns:
        `(log_probs (B,) float32, lengths (B,) int32)`, lengths counting the non-padding tokens.
    """
    tokens = tf.cast(tokens, tf.int32)
    mask = tf.not_equal(tokens, pad_token_id)  # (B, T)
    start = tf.fill([tf.shape(tokens)[0], 1], tf.constant(start_token_id, tf.int32))
    decoder_inputs = tf.concat([start, tokens[:, :-1]], axis=1)  # shifted right
    decoder_inputs = tf.where(mask, decoder_inputs, pad_token_id)
    logits = _mask_special_tokens(logits_fn(decoder_inputs), start_token_id, pad_token_id)
    log_probs = tf.nn.log_softmax(logits, axis=-1)  # (B, T, V)
    token_log_probs = tf.gather(log_probs, tokens, batch_dims=2)  # (B, T)
    token_log_probs = tf.where(mask, token_log_probs, 0.0)
    return tf.reduce_sum(token_log_probs, axis=-1), tf.reduce_sum(tf.cast(mask, tf.int32), -1)
