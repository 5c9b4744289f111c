"""`Translator`: English->Korean translation as tokenizers + a seq2seq network + search.

The facade a user (or the CLI, a notebook, the SavedModel export) translates with:

- tokens: `encode_source` (English strings -> 0-padded ids, cut to the model's source
  length, with a warning), `encode_target`, `detokenize`;
- search: `search_tensors`, the greedy or beam search over the model's cached `next` step on
  tensors; `search_fn`, the same compiled once per search setting into one `tf.function`
  with a graph loop and reused across calls; `search` and `translate`, which batch lists of
  sentences through it;
- scores: `score_ids` and `score`, log P(target | source) under teacher forcing, for
  beam-search error analysis;
- `attention`, which hands over to `kdl_transformer.attention_maps.translation_attention`.

It holds everything it uses (no globals). The searches themselves are in
`kdl_transformer.decoding`, the model in `kdl_transformer.models.seq2seq_transformer`.
"""

import warnings

import numpy as np
import tensorflow as tf

from kdl_transformer import attention_maps, decoding
from kdl_transformer.quiet import filtered_stderr
from kdl_transformer.text.special_tokens import END_ID, PAD_ID, START_ID

SEARCH_METHODS = ("greedy", "beam")


def check_method(method):
    """Raise a ValueError unless `method` is one of `SEARCH_METHODS`."""
    if method not in SEARCH_METHODS:
        raise ValueError(f"method={method!r} is not one of {SEARCH_METHODS}.")


def _as_list(texts):
    if isinstance(texts, (str, bytes)):
        return [texts], True
    return list(texts), False


def _decode(strings):
    return [s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in strings]


class Translator:
    """English->Korean translation: tokenizers + a seq2seq network + search.

    Holds everything it uses; each search is compiled once per (method, beam size, repeat
    guard) into one `tf.function` with a graph loop, and reused across calls.

    Args:
        model: a trained `Seq2SeqTransformer` or `Seq2SeqGRU` (anything with `init_cache`,
            `next`, `step_cache_keys`, `forward` and the sequence lengths).
        source_tokenizer: English `SubwordTokenizer` (lowercasing).
        target_tokenizer: Korean `SubwordTokenizer`.
        beam_size: default beam width.
        length_penalty: default GNMT alpha.
        batch_size: sentences per search call.
        no_repeat_ngram_size: default repeat guard: n > 0 never writes the same n subwords
            twice in a translation (0: no guard; see `kdl_transformer.decoding`).

    Example:

    >>> from kdl_transformer.workflows.translator import load_translator
    >>> translator = load_translator("runs/translator")  # doctest: +SKIP
    >>> translator.translate(["I told Tom to buy a new computer."], method="beam")  # doctest: +SKIP
    ['난 톰한테 새 컴퓨터를 사라고 말했어.']  # what a well-trained model says (illustrative)
    """

    def __init__(
        self, model, source_tokenizer, target_tokenizer, beam_size=4, length_penalty=1.5,
        batch_size=64, no_repeat_ngram_size=3,
    ):
        self.model = model
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.beam_size = beam_size
        self.length_penalty = length_penalty
        self.batch_size = batch_size
        self.no_repeat_ngram_size = no_repeat_ngram_size
        self._searches = {}

    @property
    def no_repeat_ngram_size(self):
        """The default repeat guard of `search` and `translate` (0: none); checked when set."""
        return self._no_repeat_ngram_size

    @no_repeat_ngram_size.setter
    def no_repeat_ngram_size(self, n):
        self._no_repeat_ngram_size = decoding.check_no_repeat_ngram_size(n)

    @classmethod
    def from_config(cls, model, source_tokenizer, target_tokenizer, config):
        """A translator with the decoding defaults of a `TranslatorConfig` (beam size, length
        penalty, repeat guard)."""
        return cls(model, source_tokenizer, target_tokenizer, config.beam_size,
                   config.length_penalty, no_repeat_ngram_size=config.no_repeat_ngram_size)

    @property
    def max_length(self):
        """The most Korean tokens a translation can have ([END] included)."""
        return int(self.model.target_sequence_length)

    # ------------------------------------------------------------------ tokens
    def encode_source(self, texts):
        """English strings -> 0-padded ids (B, S) int32, cut to the model's source length.

        Warns (once per call) when a sentence is longer than the model accepts.
        """
        ids = self.source_tokenizer.tokenize(tf.constant(texts, tf.string))  # ragged (B, None)
        limit = int(self.model.source_sequence_length)
        lengths = ids.row_lengths().numpy()
        if len(lengths) and lengths.max() > limit:
            warnings.warn(
                f"{int((lengths > limit).sum())} input sentence(s) have more than {limit} "
                f"subwords (longest: {int(lengths.max())}); they were truncated to the model's "
                f"source_sequence_length={limit}.",
                stacklevel=3,
            )
        return ids[:, :limit].to_tensor(default_value=PAD_ID)

    def encode_target(self, texts):
        """Korean strings -> (B, T) ids ending with [END], 0-padded, cut to `max_length`."""
        ids = self.target_tokenizer.tokenize(tf.constant(texts, tf.string))
        ids = ids[:, : self.max_length - 1]
        end = tf.fill([ids.nrows(), 1], END_ID)
        with filtered_stderr():  # oneDNN's one-off "supports DT_INT64 only ..." line (see quiet.py)
            ids = tf.concat([ids, end], axis=1)
        return ids.to_tensor(default_value=PAD_ID)

    # ------------------------------------------------------------------ search
    def search_fn(self, method="greedy", beam_size=None, no_repeat_ngram_size=None):
        """The compiled search `(source_ids (B, S), max_length, alpha) -> dict of tensors`.

        The dict has "tokens" (B, T) of the best hypothesis ([END] included, 0-padded),
        "log_probs" (B,), "scores" (B,) (length-normalised with alpha) and "lengths" (B,).
        """
        check_method(method)
        beam_size = int(self.beam_size if beam_size is None else beam_size)
        key = (method, beam_size if method == "beam" else None,
               self._no_repeat(no_repeat_ngram_size))
        if key not in self._searches:
            self._searches[key] = tf.function(
                lambda ids, max_length, alpha: self.search_tensors(ids, max_length, alpha, *key),
                input_signature=[
                    tf.TensorSpec([None, None], tf.int32),
                    tf.TensorSpec([], tf.int32),
                    tf.TensorSpec([], tf.float32),
                ],
            )
        return self._searches[key]

    def _no_repeat(self, no_repeat_ngram_size):
        if no_repeat_ngram_size is None:
            return self.no_repeat_ngram_size
        return decoding.check_no_repeat_ngram_size(no_repeat_ngram_size)

    def search_tensors(self, source_ids, max_length, alpha, method="greedy", beam_size=None,
                       no_repeat_ngram_size=None):
        """The search on tensors, over `self.model.next`: what `search_fn` compiles.

        Pure TensorFlow, so it can be traced into any graph: `search_fn` wraps it in a
        `tf.function` and `kdl_transformer.export.export_translator` into the SavedModel's
        `serve` signature (tokenization and detokenization around it). Unlike `search`, it
        neither batches nor checks `max_length` and `alpha` (they may be graph tensors).

        Args:
            source_ids: int32 (B, S) English ids, 0-padded (from `encode_source`).
            max_length: int32 scalar, the most Korean tokens per sentence ([END] included),
                at most the decoder's `max_length`.
            alpha: float32 scalar, the GNMT length-penalty exponent (>= 0).
            method: "greedy" or "beam".
            beam_size: beam width for "beam" (default: the translator's).
            no_repeat_ngram_size: the repeat guard (default: the translator's).

        Returns:
            dict of tensors: "tokens" (B, T) of the best hypothesis ([END] included,
            0-padded), "log_probs" (B,), "scores" (B,) (length-normalised with alpha) and
            "lengths" (B,).
        """
        check_method(method)
        beam_size = int(self.beam_size if beam_size is None else beam_size)
        no_repeat = self._no_repeat(no_repeat_ngram_size)
        cache = self.model.init_cache(source_ids, max_length)
        start = tf.fill([tf.shape(source_ids)[0]], START_ID)
        if method == "greedy":
            tokens, log_probs, lengths = decoding.greedy_search(
                self.model.next, cache, start, END_ID, max_length, no_repeat_ngram_size=no_repeat
            )
            scores = decoding.normalized_score(log_probs, lengths, alpha)
        else:
            # The beams of a sentence share its encoder output (and, for the Transformer, the
            # cross-attention keys/values): repeat those once for the beams and keep them out of
            # the loop state, so that beam search reorders (gathers) only what `next` changes
            # (`model.step_cache_keys`: the self-attention cache, or the GRU states).
            step_keys = self.model.step_cache_keys
            shared = {key: value for key, value in cache.items() if key not in step_keys}
            shared = tf.nest.map_structure(lambda x: tf.repeat(x, beam_size, axis=0), shared)

            def step(token_ids, step_cache, index):
                logits, cache = self.model.next(token_ids, {**shared, **step_cache}, index)
                return logits, {key: cache[key] for key in step_keys}

            tokens, scores, log_probs, lengths = decoding.beam_search(
                step, {key: cache[key] for key in step_keys}, start, END_ID, max_length,
                beam_size=beam_size, alpha=alpha, no_repeat_ngram_size=no_repeat,
            )
            tokens, scores, log_probs, lengths = (
                tokens[:, 0], scores[:, 0], log_probs[:, 0], lengths[:, 0]
            )
        return {"tokens": tokens, "log_probs": log_probs, "scores": scores, "lengths": lengths}

    def _check_max_length(self, max_length):
        if max_length is None:
            return self.max_length
        if not 1 <= int(max_length) <= self.max_length:
            raise ValueError(
                f"max_length={max_length} is outside 1..{self.max_length}, the decoder's "
                "target_sequence_length; pass a smaller max_length."
            )
        return int(max_length)

    def search(self, texts, method="greedy", beam_size=None, length_penalty=None, max_length=None,
               no_repeat_ngram_size=None):
        """Search translations as token ids (the arguments are those of `translate`).

        Returns:
            dict of numpy arrays: "tokens" (N, T) int32 (0-padded, [END] included), "log_probs"
            (N,), "scores" (N,), "lengths" (N,). Empty or whitespace-only sentences get no
            tokens, log_prob 0 and length 0.
        """
        texts, _ = _as_list(texts)
        max_length = self._check_max_length(max_length)
        alpha = float(self.length_penalty if length_penalty is None else length_penalty)
        decoding.check_length_penalty(alpha, "length_penalty")
        run = self.search_fn(method, beam_size, no_repeat_ngram_size)
        n = len(texts)
        out = {
            "tokens": np.zeros((n, max_length), np.int32),
            "log_probs": np.zeros(n, np.float32),
            "scores": np.zeros(n, np.float32),
            "lengths": np.zeros(n, np.int32),
        }
        for start in range(0, n, self.batch_size):
            batch = texts[start : start + self.batch_size]
            source = self.encode_source(batch)
            nonempty = np.flatnonzero(np.any(source.numpy() != PAD_ID, axis=1))
            if nonempty.size == 0:
                continue  # nothing to translate in this batch
            if nonempty.size < len(batch):
                source = tf.gather(source, nonempty)
            result = run(source, tf.constant(max_length), tf.constant(alpha))
            rows = start + nonempty
            tokens = result["tokens"].numpy()
            out["tokens"][rows, : tokens.shape[1]] = tokens
            for name in ("log_probs", "scores", "lengths"):
                out[name][rows] = result[name].numpy()
        return out

    def detokenize(self, tokens):
        """(N, T) Korean ids -> list of N strings."""
        if len(tokens) == 0:
            return []
        return _decode(self.target_tokenizer.detokenize(tf.constant(tokens, tf.int32)).numpy())

    def translate(self, texts, method="greedy", beam_size=None, length_penalty=None, max_length=None,
                  no_repeat_ngram_size=None):
        """Translate English sentences into Korean.

        Args:
            texts: a string or a list of strings.
            method: "greedy" (탐욕 탐색) or "beam" (빔 서치).
            beam_size: beam width for "beam" (default: the translator's, 4).
            length_penalty: GNMT alpha >= 0 for ranking beams (default: the translator's, 1.5
                for a run with the default config; 0 = raw log-probability).
            max_length: the most Korean tokens per sentence (default: the decoder's maximum).
            no_repeat_ngram_size: n > 0 never writes the same n subwords twice in a
                translation; 0 allows repeats (default: the translator's).

        Returns:
            a string for a string, a list of strings for a list. Empty input gives "".
        """
        texts, single = _as_list(texts)
        found = self.search(texts, method, beam_size, length_penalty, max_length,
                            no_repeat_ngram_size)
        translations = self.detokenize(found["tokens"])
        return translations[0] if single else translations

    # ------------------------------------------------------------------ scores
    def score_ids(self, source_ids, target_ids):
        """log P(target | source) for id tensors; targets end with [END] and are 0-padded.

        Returns:
            `(log_probs (B,), lengths (B,))` as numpy arrays.
        """
        log_probs, lengths = decoding.score_sequences(
            lambda decoder_inputs: self.model([source_ids, decoder_inputs], training=False),
            target_ids,
            START_ID,
        )
        return log_probs.numpy(), lengths.numpy()

    def score(self, source_texts, target_texts, length_penalty=None):
        """log P(target | source) of each pair under the model (teacher forcing).

        The target is scored as the model would generate it: its subwords followed by [END].

        Args:
            source_texts: English strings.
            target_texts: Korean strings, one per source.
            length_penalty: None for the raw log-probability; a float alpha to divide by the
                GNMT length penalty, as beam search ranks hypotheses.

        Returns:
            numpy float32 array (N,).
        """
        source_texts, _ = _as_list(source_texts)
        target_texts, _ = _as_list(target_texts)
        if len(source_texts) != len(target_texts):
            raise ValueError(
                f"score got {len(source_texts)} source and {len(target_texts)} target sentences; "
                "pass one target per source."
            )
        results = []
        for start in range(0, len(source_texts), self.batch_size):
            end = start + self.batch_size
            source = self.encode_source(source_texts[start:end])
            target = self.encode_target(target_texts[start:end])
            log_probs, lengths = self.score_ids(source, target)
            if length_penalty is not None:
                log_probs = decoding.normalized_score(log_probs, lengths, length_penalty).numpy()
            results.append(log_probs)
        return np.concatenate(results) if results else np.zeros(0, np.float32)

    # ------------------------------------------------------------------ attention
    def attention(self, source_text, target_text=None, method="greedy"):
        """Attention maps of one translation (see `attention_maps.translation_attention`)."""
        return attention_maps.translation_attention(self, source_text, target_text, method)
