"""BERT pretraining examples from reviews, as a tf.data pipeline: sentences, NSP pairs, packing, masks.

The reviews are tokenized once (`encode_corpus`) into one row of WordPiece ids per review
and the offsets where its sentences start (after ".", "!" or "?", `sentence_starts`).
`make_pretraining_dataset` then makes, every epoch anew, one example per review, batch by
batch with TensorFlow ops:

- next-sentence prediction (`nsp=True`): a cut at a random sentence start (the middle of a
  review without one); segment A is the text just before the cut (at most half the budget,
  so that A ends at the cut), segment B the text from the cut on (label 1, "B follows A"),
  or, with probability 1/2, a passage of another review from one of its sentence starts
  (label 0); the other review is always a different one.
- masked LM only (`nsp=False`): one segment, a window from a random sentence start (only
  starts that leave a full window, so a short review is read whole).

keras_hub's `MultiSegmentPacker` packs `[CLS] A [SEP] B [SEP]` (or `[CLS] X [SEP]`) and the
segment ids (0 up to the first [SEP], 1 after it; padding 0); keras_hub's
`MaskedLMMaskGenerator` picks `ceil(mask_rate * n)` of an example's n real tokens (never
[CLS], [SEP], [PAD]) and replaces 80% by [MASK], 10% by a random token, keeps 10%. Every batch is cut to its
longest example (unless `trim=False`: XLA compiles one shape). `describe_example` reads one
example of a batch back as pieces, segments and chosen positions (what became of each).

Randomness: the review order, the cuts and the partners are seeded (stateless ops, a new
seed every epoch from `tf.data.Dataset.random`); the mask generator draws new masks every
time the pipeline runs (dynamic masking, RoBERTa). The validation pipeline is cached, so
its examples and masks are the same every epoch and the epochs compare.
"""

import math
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from kdl_transformer.text.wordpiece import CLS_ID, HTML_LINE_BREAK, MASK_ID, PAD_ID, SEP_ID

SENTENCE_ENDS = (".", "!", "?")


class PretrainingCorpus(NamedTuple):
    """WordPiece ids of each review and its sentence starts (both ragged, one row per review)."""

    tokens: tf.RaggedTensor  # (N, None) int32
    starts: tf.RaggedTensor  # (N, None) int64, ascending, 0 first

    @property
    def size(self):
        return int(self.tokens.nrows())


def sentence_starts(tokens, end_ids):
    """Offsets where a sentence starts in each row of ragged `tokens`: 0, then after an end token.

    A run of end tokens ("...", "?!") ends one sentence; the next sentence starts at the
    first token that is not one.

    >>> sentence_starts(tf.ragged.constant([[7, 9, 5, 8, 5, 5, 6], [8]]), [5]).to_list()
    [[0, 3, 6], [0]]
    """
    flat = tokens.values  # (total,)
    positions = tf.ragged.range(tokens.row_lengths()).values  # (total,) offset within its row
    is_end = tf.reduce_any(flat[:, None] == tf.constant(list(end_ids), flat.dtype)[None, :], axis=1)
    after_end = tf.concat([[False], is_end[:-1]], axis=0) & ~is_end
    is_start = (positions == 0) | (after_end & (positions > 0))
    return tf.RaggedTensor.from_value_rowids(
        tf.boolean_mask(positions, is_start), tf.boolean_mask(tokens.value_rowids(), is_start),
        nrows=tokens.nrows(),
    )


def encode_corpus(texts, tokenizer, min_tokens=4, batch_size=512):
    """Tokenize reviews once for pretraining: a `PretrainingCorpus`.

    Args:
        texts: list of str (the pretraining reviews).
        tokenizer: a keras_hub `WordPieceTokenizer` (`make_wordpiece_tokenizer`).
        min_tokens: reviews with fewer WordPiece tokens are left out (no pair to make).
        batch_size: reviews tokenized per step.
    """
    if not texts:
        raise ValueError("encode_corpus got no texts; pass the pretraining reviews.")
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(list(texts), tf.string))
    dataset = dataset.batch(batch_size).map(
        lambda batch: tokenizer(tf.strings.regex_replace(batch, HTML_LINE_BREAK, " "))
    )
    tokens = tf.concat([batch for batch in dataset], axis=0)  # (N, None)
    tokens = tf.ragged.boolean_mask(tokens, tokens.row_lengths() >= min_tokens)
    vocabulary = tokenizer.get_vocabulary()
    end_ids = [vocabulary.index(token) for token in SENTENCE_ENDS if token in vocabulary]
    return PretrainingCorpus(tokens, sentence_starts(tokens, end_ids))


def _pick(candidates, u):
    """One element of each (non-empty) row of ragged `candidates`, uniformly by `u` in [0, 1)."""
    counts = candidates.row_lengths()  # (B,)
    index = tf.minimum(tf.cast(u * tf.cast(counts, tf.float32), tf.int64), counts - 1)
    return tf.gather(candidates.values, candidates.row_starts() + index)  # (B,)


class _Examples:
    """The per-batch example maker of `make_pretraining_dataset` (closes over the corpus)."""

    def __init__(self, corpus, sequence_length, nsp, masker, packer, trim):
        self.values = corpus.tokens.values  # (total,) int32
        self.row_starts = corpus.tokens.row_starts()  # (N,) int64
        self.lengths = corpus.tokens.row_lengths()  # (N,) int64
        self.starts = corpus.starts  # (N, None) int64
        self.size = corpus.size
        self.sequence_length = sequence_length
        self.nsp = nsp
        self.masker, self.packer = masker, packer
        self.trim = trim

    def segment(self, rows, begin, end):
        """Ragged (B, None): tokens[row][begin:end] of each review `row`."""
        offset = tf.gather(self.row_starts, rows)
        return tf.gather(self.values, tf.ragged.range(offset + begin, offset + end))

    def __call__(self, rows, seed):
        u = tf.random.stateless_uniform([4, tf.shape(rows)[0]], seed=seed)  # (4, B)
        length = tf.gather(self.lengths, rows)  # (B,)
        starts = tf.gather(self.starts, rows)  # (B, None), 0 first
        budget = self.sequence_length - 3 if self.nsp else self.sequence_length - 2
        if self.nsp:
            cuts = tf.ragged.boolean_mask(starts, starts > 0)
            has_cut = cuts.row_lengths() > 0
            safe_cuts = tf.ragged.boolean_mask(starts, (starts > 0) | ~has_cut[:, None])
            cut = tf.where(has_cut, _pick(safe_cuts, u[0]), length // 2)  # (B,)
            a_length = tf.minimum(cut, budget // 2)
            segment_a = self.segment(rows, cut - a_length, cut)  # ends at the cut
            is_next = u[1] < 0.5
            shift = 1 + tf.cast(u[2] * (self.size - 1), tf.int64)  # 1 .. N-1: another review
            partner = (rows + tf.minimum(shift, self.size - 1)) % self.size
            source = tf.where(is_next, rows, partner)
            begin = tf.where(is_next, cut, _pick(tf.gather(self.starts, partner), u[3]))
            end = tf.minimum(begin + budget - a_length, tf.gather(self.lengths, source))
            segments = (segment_a, self.segment(source, begin, end))
            label = tf.cast(is_next, tf.float32)[:, None]  # (B, 1)
        else:
            room = tf.maximum(length - budget, 0)[:, None]  # starts beyond it leave no full window
            begin = _pick(tf.ragged.boolean_mask(starts, starts <= room), u[0])
            segments = (self.segment(rows, begin, tf.minimum(begin + budget, length)),)
        token_ids, segment_ids = self.packer(segments)  # (B, T) int32 each
        if self.trim:  # cut the batch to its longest example
            longest = tf.reduce_max(tf.reduce_sum(tf.cast(token_ids != PAD_ID, tf.int32), axis=1))
            token_ids, segment_ids = token_ids[:, :longest], segment_ids[:, :longest]
        masked = self.masker(token_ids)
        # A random replacement may draw [PAD], which the padding mask would hide: use [MASK].
        inputs = tf.where((masked["token_ids"] == PAD_ID) & (token_ids != PAD_ID),
                          tf.constant(MASK_ID, token_ids.dtype), masked["token_ids"])
        x = {"token_ids": inputs, "segment_ids": segment_ids,
             "mask_positions": tf.cast(masked["mask_positions"], tf.int32)}
        y = {"mlm": tf.cast(masked["mask_ids"], tf.int32)}  # 0 where no token was chosen
        if self.nsp:
            y["nsp"] = label
        return x, y


def make_pretraining_dataset(corpus, vocabulary_size, sequence_length, batch_size, nsp=True,
                             mask_rate=0.15, mask_token_rate=0.8, random_token_rate=0.1,
                             max_predictions=None, training=True, seed=0, trim=True):
    """Batches of BERT pretraining examples `(x, y)` from a `PretrainingCorpus`.

    Args:
        corpus: a `PretrainingCorpus` (`encode_corpus`), at least 2 reviews with `nsp`.
        vocabulary_size: int, the WordPiece vocabulary size (random replacements).
        sequence_length: int, the most tokens of an example, [CLS] and [SEP]s included.
        batch_size: int, examples per batch.
        nsp: bool, sentence pairs with NSP labels; False: one segment per example.
        mask_rate, mask_token_rate, random_token_rate: the masking (see module docs).
        max_predictions: int, masked positions per example (padded with 0; extra ones
            dropped); default `ceil(mask_rate * sequence_length)`, always enough.
        training: reshuffle, new pairs and new masks every epoch; False: one fixed, cached
            set of examples (validation).
        seed: int, seeds the order, the cuts and the partners.
        trim: cut each batch to its longest example; False keeps every batch at
            `sequence_length` (one shape, for XLA).

    Returns:
        a `tf.data.Dataset` of `(x, y)`: x = {"token_ids", "segment_ids" (B, T) int32,
        "mask_positions" (B, P) int32}, y = {"mlm": original ids at the masked positions
        (B, P) int32, 0 = no prediction} plus, with `nsp`, "nsp": (B, 1) float32, 1 = B
        follows A.
    """
    import keras_hub

    if nsp and corpus.size < 2:
        raise ValueError(f"Next-sentence pairs need at least 2 reviews, got {corpus.size}.")
    if max_predictions is None:
        max_predictions = math.ceil(mask_rate * sequence_length)
    masker = keras_hub.layers.MaskedLMMaskGenerator(
        vocabulary_size=vocabulary_size, mask_selection_rate=mask_rate, mask_token_id=MASK_ID,
        mask_selection_length=max_predictions, unselectable_token_ids=[PAD_ID, CLS_ID, SEP_ID],
        mask_token_rate=mask_token_rate, random_token_rate=random_token_rate,
    )
    packer = keras_hub.layers.MultiSegmentPacker(
        sequence_length, start_value=CLS_ID, end_value=SEP_ID, pad_value=PAD_ID
    )
    examples = _Examples(corpus, sequence_length, nsp, masker, packer, trim)
    order = tf.data.Dataset.range(corpus.size)
    if training:
        order = order.shuffle(corpus.size, seed=seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=training).batch(2)
    dataset = tf.data.Dataset.zip(order.batch(batch_size), seeds)
    dataset = dataset.map(examples, num_parallel_calls=tf.data.AUTOTUNE)
    if not training:
        dataset = dataset.cache()
    return dataset.prefetch(tf.data.AUTOTUNE)


def join_pieces(pieces):
    """WordPiece strings back to text: "##" pieces join the piece before them.

    >>> join_pieces(["an", "un", "##forget", "##table", "film", "!"])
    'an unforgettable film !'
    """
    return " ".join(pieces).replace(" ##", "")


def describe_example(x, y, vocabulary, index=0):
    """What one example of a `make_pretraining_dataset` batch is made of, as plain Python.

    The chosen positions are read back from the batch: `y["mlm"]` holds the original id at
    each chosen position (0 in unused slots), `x["token_ids"]` what the model reads there.
    Each chosen token's `kind` says what it became: "[MASK]", "random" (another token) or
    "kept" (unchanged; a random draw of the token itself also reads as kept).

    Args:
        x, y: one batch of the dataset (tensors or arrays).
        vocabulary: list of str, the WordPiece vocabulary of the ids.
        index: which example of the batch.

    Returns:
        dict: "tokens" (the original pieces, padding dropped), "inputs" (the pieces the model
        reads), "segment_ids" (list of int), "segment_a"/"segment_b" (the text of each
        segment; "" for B without NSP), "masked" (one dict per chosen position, in order:
        "position", "original", "became", "kind") and "is_next" (True: B follows A; False:
        B is from another review; None without NSP).
    """
    inputs = np.asarray(x["token_ids"])[index]  # (T,)
    segment_ids = np.asarray(x["segment_ids"])[index]  # (T,)
    positions = np.asarray(x["mask_positions"])[index]  # (P,)
    targets = np.asarray(y["mlm"])[index]  # (P,), 0 = unused slot
    chosen, originals = positions[targets != PAD_ID], targets[targets != PAD_ID]
    original = inputs.copy()
    original[chosen] = originals
    length = int((original != PAD_ID).sum())
    pieces = [vocabulary[i] for i in original[:length]]
    masked = []
    for position in np.sort(chosen):
        before, after = int(original[position]), int(inputs[position])
        kind = "[MASK]" if after == MASK_ID else "kept" if after == before else "random"
        masked.append({"position": int(position), "original": vocabulary[before],
                       "became": vocabulary[after], "kind": kind})
    seps = [i for i, token in enumerate(original[:length]) if token == SEP_ID]
    second = pieces[seps[0] + 1 : seps[1]] if len(seps) > 1 else []
    is_next = None
    if "nsp" in y:
        is_next = bool(np.asarray(y["nsp"])[index, 0] > 0.5)
    return {
        "tokens": pieces,
        "inputs": [vocabulary[i] for i in inputs[:length]],
        "segment_ids": [int(s) for s in segment_ids[:length]],
        "segment_a": join_pieces(pieces[1 : seps[0]] if seps else pieces[1:]),
        "segment_b": join_pieces(second),
        "masked": masked,
        "is_next": is_next,
    }
