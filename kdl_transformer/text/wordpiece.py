"""The WordPiece vocabulary of the BERT encoder, and `WordPieceVectorizer`, its text -> ids layer.

BERT reads lowercased, accent-stripped text split on whitespace and punctuation, each word
cut into the longest vocabulary pieces ("##" marks a piece that continues a word):

    "An unforgettable film!" -> [CLS] an un ##forget ##table film ! [SEP]

The vocabulary is learnt on the pretraining reviews only (`train_wordpiece_vocabulary`,
keras_hub's `compute_word_piece_vocabulary`, which keeps pieces seen at least 10 times),
starts with the reserved tokens below, and is saved one token per line with the run
(`save_vocabulary` / `read_vocabulary`). Tokenization is keras_hub's `WordPieceTokenizer`
(`make_wordpiece_tokenizer`), the same in the pretraining pipeline and in the fine-tuned
classifier, whose `WordPieceVectorizer` runs it inside the model: raw strings in, padded
ids out, also in an exported SavedModel (which then needs `import tensorflow_text` for the
tokenizer's ops, but neither Keras nor this package).

    0 [PAD]   padding; masked out by every layer and never predicted
    1 [UNK]   a word no pieces spell; also what word dropout writes
    2 [CLS]   the first token of every input; its output is what BERT classifies
    3 [SEP]   ends each segment
    4 [MASK]  hides a token that the masked-LM head must predict
"""

import types
from pathlib import Path

import keras
import tensorflow as tf

BERT_RESERVED_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(len(BERT_RESERVED_TOKENS))
VOCABULARY_FILE = "vocabulary.txt"
TRUNCATIONS = ("head", "head_tail")
HTML_LINE_BREAK = r"<[bB][rR]\s*/?>"  # IMDB's `<br />`: the loader drops it, and so must the model
# keras_hub's WordPieceTokenizer and the vocabulary learner must split text the same way.
TEXT_RULES = dict(lowercase=True, strip_accents=True)


def train_wordpiece_vocabulary(texts, vocab_size, batch_size=1000):
    """Learn a WordPiece vocabulary of at most `vocab_size` tokens from `texts`.

    Args:
        texts: list of str (the pretraining reviews only).
        vocab_size: int, the most tokens, the reserved ones included.
        batch_size: texts per batch fed to the learner.

    Returns:
        list of str: the reserved tokens, then the pieces (single characters included).
    """
    import keras_hub

    texts = [text.replace("\n", " ") for text in texts]
    if not texts:
        raise ValueError("train_wordpiece_vocabulary got no texts; pass the pretraining reviews.")
    texts = tf.strings.regex_replace(tf.constant(texts, tf.string), HTML_LINE_BREAK, " ")
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(batch_size)
    vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
        dataset, vocab_size, reserved_tokens=list(BERT_RESERVED_TOKENS), **TEXT_RULES
    )
    # The learner may emit a whitespace piece, which no tokenizer can produce (text is split
    # on whitespace) and a vocabulary file, one token per line, cannot hold.
    return [token for token in vocabulary if token.strip() or token in BERT_RESERVED_TOKENS]


def save_vocabulary(path, vocabulary):
    """Write `vocabulary` to `path` (a file, or a folder for `vocabulary.txt`), one token per line."""
    path = Path(path)
    path = path / VOCABULARY_FILE if path.is_dir() else path
    path.write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    return path


def read_vocabulary(path):
    """Read a vocabulary written by `save_vocabulary`, checking its reserved tokens."""
    path = Path(path)
    path = path / VOCABULARY_FILE if path.is_dir() else path
    if not path.exists():
        raise FileNotFoundError(
            f"No WordPiece vocabulary at {path}; is {path.parent} a `kdl-transformer pretrain "
            "bert` run directory?"
        )
    vocabulary = path.read_text(encoding="utf-8").split("\n")[:-1]
    if tuple(vocabulary[: len(BERT_RESERVED_TOKENS)]) != BERT_RESERVED_TOKENS:
        raise ValueError(
            f"{path} starts with {vocabulary[:5]}, not the reserved tokens "
            f"{list(BERT_RESERVED_TOKENS)}; it is not a WordPiece vocabulary of this package."
        )
    return vocabulary


def make_wordpiece_tokenizer(vocabulary):
    """keras_hub's `WordPieceTokenizer` over `vocabulary`: strings -> ragged int32 pieces."""
    import keras_hub

    return keras_hub.tokenizers.WordPieceTokenizer(
        vocabulary=list(vocabulary), oov_token="[UNK]", dtype="int32", **TEXT_RULES
    )


def keep_head_and_tail(ids, budget):
    """Cut each row of ragged `ids` to `budget` tokens: its first quarter and its last three.

    Rows no longer than `budget` stay whole. "head+tail" truncation (Sun et al., 2019): the
    end of a review, where its verdict often is, survives the cut.

    >>> keep_head_and_tail(tf.ragged.constant([[1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2]]), 4)
    <tf.RaggedTensor [[1, 7, 8, 9], [1, 2]]>
    """
    head = budget // 4
    lengths = ids.row_lengths()  # (B,)
    positions = tf.ragged.range(lengths)  # (B, None): 0, 1, ..., length - 1
    keep = (positions < head) | (positions >= tf.expand_dims(lengths - (budget - head), 1))
    return tf.ragged.boolean_mask(ids, keep)


@keras.saving.register_keras_serializable(package="kdl_transformer")
class WordPieceVectorizer(keras.layers.Layer):
    """Raw reviews -> `[CLS] pieces [SEP]` ids padded with [PAD]: the BERT classifier's input layer.

    The WordPiece counterpart of the word classifier's `TextVectorization`: HTML line breaks
    become spaces (as the IMDB loader does), keras_hub's `WordPieceTokenizer` cuts the text,
    at most `sequence_length - 2` pieces are kept (`truncation`), and keras_hub's
    `MultiSegmentPacker` adds [CLS] and [SEP] and pads. TensorFlow only (like
    `TextVectorization`); the work always runs as a TensorFlow graph, also when the layer is
    called eagerly, so that keras_hub never takes its pure-Python path.

    Args:
        vocabulary: list of str, a vocabulary from `train_wordpiece_vocabulary`.
        sequence_length: int, the length of every output row ([CLS] and [SEP] included).
        truncation: "head" (the first pieces of a long review) or "head_tail" (its first
            quarter and last three quarters; `keep_head_and_tail`).

    Call arguments:
        inputs: string tensor (batch,).

    Returns:
        int64 tensor (batch, sequence_length).

    Example:

    >>> vectorizer = WordPieceVectorizer(vocabulary, sequence_length=8)  # doctest: +SKIP
    >>> vectorizer(tf.constant(["A fine film."]))  # [[2, 17, 250, 94, 10, 3, 0, 0]]
    """

    def __init__(self, vocabulary, sequence_length, truncation="head", **kwargs):
        super().__init__(**kwargs)
        vocabulary = list(vocabulary)
        if tuple(vocabulary[: len(BERT_RESERVED_TOKENS)]) != BERT_RESERVED_TOKENS:
            raise ValueError(
                f"The vocabulary starts with {vocabulary[:5]}, not the reserved tokens "
                f"{list(BERT_RESERVED_TOKENS)}; learn it with train_wordpiece_vocabulary."
            )
        if truncation not in TRUNCATIONS:
            raise ValueError(f"truncation={truncation!r} is not one of {TRUNCATIONS}.")
        if int(sequence_length) < 3:
            raise ValueError(f"sequence_length={sequence_length} must be at least 3 ([CLS] x [SEP]).")
        import keras_hub

        self.vocabulary = vocabulary
        self.sequence_length = int(sequence_length)
        self.truncation = truncation
        self.tokenizer = make_wordpiece_tokenizer(vocabulary)
        self.packer = keras_hub.layers.MultiSegmentPacker(
            self.sequence_length, start_value=CLS_ID, end_value=SEP_ID, pad_value=PAD_ID
        )
        # A graph function in a plain namespace: neither Keras nor tf.Module tracks it.
        self._graph = types.SimpleNamespace(encode=tf.function(
            self._encode, input_signature=[tf.TensorSpec([None], tf.string)]))
        self.built = True

    def _encode(self, texts):
        texts = tf.strings.regex_replace(texts, HTML_LINE_BREAK, " ")
        pieces = self.tokenizer(texts)  # (B, None) int32, ragged
        budget = self.sequence_length - 2
        if self.truncation == "head_tail":
            pieces = keep_head_and_tail(pieces, budget)
        token_ids, _ = self.packer((pieces[:, :budget],))  # (B, T), segment ids all 0
        return tf.cast(token_ids, "int64")

    def call(self, inputs):
        inputs = tf.convert_to_tensor(inputs, tf.string)
        return self._encode(inputs) if tf.inside_function() else self._graph.encode(inputs)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor((inputs.shape[0], self.sequence_length), dtype="int64")

    def get_vocabulary(self):
        return list(self.vocabulary)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary": list(self.vocabulary),
                "sequence_length": self.sequence_length,
                "truncation": self.truncation,
            }
        )
        return config
