"""Subword regularisation: a random segmentation of every sentence, new at every pass (BPE-dropout).

A BPE vocabulary segments "coffee" one way only ("▁cof" "fee"). BPE-dropout (Provilkov et al.,
2020) skips each merge with probability `alpha` while segmenting, so the same word comes out
as "▁cof" "fee", "▁c" "o" "f" "fee" or "▁coffee" from one epoch to the next: the model sees
the pieces inside its pieces, which helps rare words and small corpora. Only training text is
sampled; translation uses the one best segmentation.

`SubwordTokenizer.tokenize(strings, sampling=alpha)` calls `sample_ids`; `seed(n)` makes the
sequence of segmentations reproducible (a translator run seeds it with its `seed`).
"""

import numpy as np
import tensorflow as tf

from kdl_transformer.quiet import filtered_stderr

# SentencePiece has one global seed, and once it is set every call samples the same way; so
# each call first draws a new SentencePiece seed from this generator.
_generator = np.random.default_rng()


def seed(value):
    """Restart the segmentations from `value` (an int): the same calls then sample alike."""
    global _generator
    _generator = np.random.default_rng(value)


def sample_ids(tokenizer, strings, alpha):
    """BPE-dropout ids (ragged int32) of `tokenizer`'s normalised `strings` (() or (batch,)).

    Runs the Python SentencePiece processor through `tf.py_function` (eagerly, in `tf.data`
    and in `tf.function`; not in an exported SavedModel); see `seed`. Not tf-text's sampling
    op (unseeded, too): its model resource
    is made, and logs an INFO line, again at every pass of a `tf.data` pipeline; one eager
    processor, made once per tokenizer, is quiet.
    """
    import sentencepiece as spm

    sampler = tokenizer._eager.sampler
    if sampler is None:
        with filtered_stderr():  # "normalizer.cc(51) LOG(INFO) precompiled_charsmap is empty"
            sampler = tokenizer._eager.sampler = spm.SentencePieceProcessor(
                model_proto=tokenizer.model_proto)

    def encode(batch):
        texts = [text.decode("utf-8") for text in batch.numpy()]
        spm.set_random_generator_seed(int(_generator.integers(1, 2**31 - 1)))
        ids = sampler.encode(texts, enable_sampling=True, alpha=alpha, nbest_size=-1,
                             num_threads=1)  # one thread: one sequence of draws
        return (tf.constant([i for row in ids for i in row], tf.int32),
                tf.constant([len(row) for row in ids], tf.int64))

    strings = tf.convert_to_tensor(strings, tf.string)
    values, lengths = tf.py_function(encode, [tf.reshape(strings, [-1])], [tf.int32, tf.int64])
    ids = tf.RaggedTensor.from_row_lengths(tf.ensure_shape(values, [None]),
                                           tf.ensure_shape(lengths, [None]))
    return ids[0] if strings.shape.rank == 0 else ids
