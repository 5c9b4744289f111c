"""`SubwordTokenizer`: a SentencePiece (BPE) subword vocabulary usable in TensorFlow graphs.

Why SentencePiece BPE and not WordPiece (`benchmarks/tokenizer_choice.py`, results in
`benchmarks/results/tokenizers.json`): 8,000 pieces requested, trained on the Tatoeba training
split (4,588 pairs), measured on the test split (579 pairs):

| Korean (English)             | pieces      | tokens/sentence | exact round trip | [UNK] tokens  |
|------------------------------|-------------|-----------------|------------------|---------------|
| SentencePiece BPE (chosen)   | 8000 (8000) | 6.7 (7.4)       | 96.9% (99.7%)    | 0.46% (0.05%) |
| + byte_fallback=True         | 8000 (8000) | 6.8 (7.4)       | 100% (100%)      | 0 (0)         |
| SentencePiece unigram        | 3287 (2329) | 8.7 (8.1)       | 96.9% (99.7%)    | 0.36% (0.04%) |
| WordPiece, keras_hub learner | 2344 (696)  | 8.9 (10.0)      | 0.9% (0%)        | 0.35% (0.03%) |
| WordPiece, no count floor    | 8475 (2863) | 7.2 (8.4)       | 0.9% (0%)        | 0.43% (0.04%) |
| whitespace words             | 6970 (4037) | 4.0 (5.2)       | -                | 27% (11%) OOV |

- Round trip decides it: WordPiece splits on punctuation and joins tokens with spaces
  ("뛰어!" -> "뛰어 !"), so a translation never comes out as written; SentencePiece keeps
  spaces as pieces ("▁") and fails only on characters never seen in training (`[UNK]`).
- Fewer tokens per sentence; BPE rather than unigram, whose trainer stops far below the
  requested size on this small corpus; training takes 0.2 s against 4-6 s for WordPiece.
- Against it: a slightly higher [UNK] rate, and a slower op than tf-text's WordPiece (it
  does not matter when pairs are tokenized once, before training).

Training and tokenization normalise text alike (`normalize_strings`: NFC, whitespace
collapsed, lowercased for English); SentencePiece's own NFKC is off, so Hangul is never decomposed.
"""

import hashlib
import io
import json
import re
import types
import warnings
from pathlib import Path

import tensorflow as tf

from kdl_transformer.quiet import filtered_stderr
from kdl_transformer.text.normalization import normalize_strings
from kdl_transformer.text.special_tokens import END_ID, PAD_ID, RESERVED_TOKENS, START_ID, UNK_ID

MODEL_FILE = "sentencepiece.model"
VOCAB_FILE = "vocab.txt"
METADATA_FILE = "tokenizer.json"
_FORMAT = "kdl_transformer.SubwordTokenizer/sentencepiece"


class SubwordTokenizer(tf.Module):
    """Subword tokenizer (SentencePiece, BPE by default) with fixed reserved ids.

    Strings go in, int32 ids come out (and back), as TensorFlow ops: eagerly, in `tf.data`,
    in a `tf.function` and in an exported SavedModel (whose graph carries the SentencePiece
    model; loading it needs `import tensorflow_text` first), also after TensorFlow clears its
    caches (`keras.utils.set_random_seed`, `keras.backend.clear_session`).

    Reserved ids: `[PAD]`=0, `[UNK]`=1, `[START]`=2, `[END]`=3. `tokenize` never adds
    `[START]`/`[END]`; `detokenize` drops `[PAD]`, `[START]` and `[END]`. Characters never
    seen in training (emoji, Hanja, ...) become `[UNK]` (or UTF-8 byte pieces when trained
    with `byte_fallback=True`); `[UNK]` detokenizes as " ⁇ ".

    Args:
        model_proto: bytes, a serialized SentencePiece model whose first four pieces are
            the reserved tokens (as made by `SubwordTokenizer.train`).
        lowercase: bool, lowercase input before tokenizing (English: True; Korean: False).
        prefix: str put before every normalised input of `tokenize`, e.g. `"<2ko> "`, the
            target-language tag of a model trained in both directions (`text.directions`).
        metadata: dict or None, facts about the training run saved beside the model.
        name: str or None, the `tf.Module` name.

    Example:

    >>> tokenizer = SubwordTokenizer.train(["고양이는 사과를 먹는다.", "개는 빵을 먹었다."],
    ...                                    vocab_size=40)  # doctest: +SKIP
    >>> ids = tokenizer.tokenize(["고양이는 빵을 먹는다."])  # RaggedTensor (1, None) int32
    >>> tokenizer.detokenize(ids)  # [b"고양이는 빵을 먹는다."]
    """

    def __init__(self, model_proto, lowercase=False, prefix="", metadata=None, name=None):
        super().__init__(name=name)
        import sentencepiece as spm
        import tensorflow_text  # noqa: F401  (fails here, not in a later trace, when missing)

        processor = spm.SentencePieceProcessor(model_proto=model_proto)
        pieces = tuple(processor.id_to_piece(i) for i in range(processor.get_piece_size()))
        if pieces[: len(RESERVED_TOKENS)] != RESERVED_TOKENS:
            raise ValueError(
                f"The SentencePiece model starts with {list(pieces[:4])}, not the reserved tokens "
                f"{list(RESERVED_TOKENS)}; train it with SubwordTokenizer.train."
            )
        self._model_proto = bytes(model_proto)
        self._pieces = pieces
        self._piece_to_id = {piece: i for i, piece in enumerate(pieces)}
        self.lowercase = bool(lowercase)
        self.prefix = str(prefix)
        self.metadata = dict(metadata or {})
        # Eager helpers (`_sentencepiece`, `subword_sampling`), untracked by `tf.Module`.
        self._eager = types.SimpleNamespace(sentencepiece=None, sampler=None)
        self.model_asset = None  # a tf.saved_model.Asset once the model lives in a file

    # ------------------------------------------------------------------ training
    @classmethod
    def train(
        cls,
        texts,
        vocab_size=8000,
        lowercase=False,
        model_type="bpe",
        character_coverage=1.0,
        byte_fallback=False,
        max_sentence_length=8192,
        user_defined_symbols=(),
    ):
        """Train a tokenizer on `texts` (the training split only).

        When the corpus is too small for `vocab_size` pieces, the size is capped at the
        largest the corpus supports, a warning says so, and `metadata["vocabulary_size"]`
        records the size actually used beside `metadata["requested_vocabulary_size"]`.

        Args:
            texts: iterable of str (or a 1-D tf.string tensor / tf.data.Dataset of str).
            vocab_size: int, number of pieces including the four reserved tokens.
            lowercase: bool, lowercase the text (English: True; Korean: False).
            model_type: `"bpe"` (default) or `"unigram"`.
            character_coverage: float, share of characters kept as pieces; 1.0 keeps
                every character of the training text (right for Korean on small data).
            byte_fallback: bool, encode unknown characters as UTF-8 byte pieces (256 ids)
                instead of `[UNK]`.
            max_sentence_length: int, longer sentences (in bytes) are skipped by training.
            user_defined_symbols: strs that always stay one piece (tags such as "<2ko>").

        Returns:
            a `SubwordTokenizer`.
        """
        import sentencepiece as spm

        sentences = _normalized_sentences(texts, lowercase)
        if not sentences:
            raise ValueError("SubwordTokenizer.train got no non-empty text; pass the training sentences.")
        options = dict(
            model_type=model_type,
            character_coverage=character_coverage,
            byte_fallback=byte_fallback,
            normalization_rule_name="identity",  # NFC done by normalize_strings; no NFKC
            remove_extra_whitespaces=True,
            pad_id=PAD_ID, unk_id=UNK_ID, bos_id=START_ID, eos_id=END_ID,
            pad_piece="[PAD]", unk_piece="[UNK]", bos_piece="[START]", eos_piece="[END]",
            max_sentence_length=max_sentence_length,
            user_defined_symbols=list(user_defined_symbols),
            num_threads=1,  # deterministic and polite on shared machines
            minloglevel=2,
        )
        requested = int(vocab_size)
        size = requested
        for _ in range(3):
            model = io.BytesIO()
            try:
                spm.SentencePieceTrainer.train(
                    sentence_iterator=iter(sentences), model_writer=model, vocab_size=size, **options
                )
                break
            except RuntimeError as error:
                largest = _largest_allowed_size(str(error))
                required = _required_size(str(error))
                if required is not None:
                    raise ValueError(
                        f"vocab_size={size} is too small: the training text has {required - 4} "
                        f"distinct characters and 4 reserved tokens; use vocab_size >= {required} "
                        "or a character_coverage below 1.0."
                    ) from error
                if largest is None or largest >= size:
                    raise ValueError(
                        f"SentencePiece could not train vocab_size={size} on {len(sentences)} "
                        f"sentences: {error}"
                    ) from error
                size = largest
        else:  # pragma: no cover - sentencepiece kept lowering its limit
            raise ValueError(f"SentencePiece found no workable vocabulary size below {requested}.")
        if size != requested:
            warnings.warn(
                f"The training text supports only {size} subword pieces, fewer than the requested "
                f"vocab_size={requested}; using {size}.",
                stacklevel=2,
            )
        metadata = {
            "requested_vocabulary_size": requested,
            "vocabulary_size": size,
            "lowercase": bool(lowercase),
            "model_type": model_type,
            "character_coverage": character_coverage,
            "byte_fallback": bool(byte_fallback),
            "training_sentences": len(sentences),
            "user_defined_symbols": list(user_defined_symbols),
        }
        return cls(model.getvalue(), lowercase=lowercase, metadata=metadata)

    def with_options(self, lowercase=None, prefix=None):
        """The same vocabulary with another `lowercase` or `prefix` (`text.directions`)."""
        return type(self)(
            self._model_proto, self.lowercase if lowercase is None else lowercase,
            self.prefix if prefix is None else prefix, self.metadata,
        )

    # ------------------------------------------------------------------ ids
    @property
    def model_proto(self):
        """bytes, the serialized SentencePiece model."""
        return self._model_proto

    @property
    def vocabulary_size(self):
        """int, number of ids (reserved tokens included)."""
        return len(self._pieces)

    pad_id, unk_id, start_id, end_id = PAD_ID, UNK_ID, START_ID, END_ID

    def get_vocabulary(self):
        """list of str: the piece of every id, in id order."""
        return list(self._pieces)

    def id_to_token(self, token_id):
        """str piece for an int id (IndexError when out of range)."""
        token_id = int(token_id)
        if not 0 <= token_id < len(self._pieces):
            raise IndexError(f"token id {token_id} is outside 0..{len(self._pieces) - 1}.")
        return self._pieces[token_id]

    def token_to_id(self, token):
        """int id of a piece (`[UNK]`'s id for an unknown piece)."""
        return self._piece_to_id.get(token, UNK_ID)

    # ------------------------------------------------------------------ graph ops
    def normalize(self, strings):
        """tf.string tensor -> normalised tf.string tensor (NFC, spaces, lowercase), `prefix` first."""
        strings = normalize_strings(strings, lowercase=self.lowercase)
        return tf.strings.join([self.prefix, strings]) if self.prefix else strings

    def tokenize(self, strings, sampling=0.0):
        """Strings to ids.

        Args:
            strings: str, list of str, or tf.string tensor of shape () or (batch,).
            sampling: float in [0, 1): above 0, a random segmentation, new at every call
                (BPE-dropout for training, `kdl_transformer.text.subword_sampling`).

        Returns:
            int32 ids: a 1-D tensor for a scalar string, a `tf.RaggedTensor` of shape
            (batch, None) for a batch. An empty string gives an empty sequence.
        """
        if not 0.0 <= float(sampling) < 1.0:
            raise ValueError(f"sampling={sampling} must be in [0, 1) (0: the one best segmentation).")
        if sampling:
            from kdl_transformer.text import subword_sampling
            return subword_sampling.sample_ids(self, self.normalize(strings), float(sampling))
        return self._sentencepiece("tokenize", self.normalize(strings))

    def __call__(self, strings):
        return self.tokenize(strings)

    def detokenize(self, ids):
        """Ids to strings, dropping `[PAD]`, `[START]` and `[END]`.

        Args:
            ids: int tensor, dense or ragged, of shape (T,) or (batch, T); padded dense
                batches are fine.

        Returns:
            tf.string scalar for (T,) input, tf.string (batch,) for a batch.
        """
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.convert_to_tensor(ids)
        ids = tf.cast(ids, tf.int32)
        keep = (ids != PAD_ID) & (ids != START_ID) & (ids != END_ID)
        if isinstance(ids, tf.RaggedTensor):
            ids = tf.ragged.boolean_mask(ids, keep)
        elif ids.shape.rank == 1:
            ids = tf.boolean_mask(ids, keep)
        else:
            ids = tf.ragged.boolean_mask(ids, keep)  # (batch, T) -> (batch, None)
        return self._sentencepiece("detokenize", ids)

    def _sentencepiece(self, method, inputs):
        """Run `method` ("tokenize"/"detokenize") of a public `tf_text.SentencepieceTokenizer`.

        Why not one tf-text tokenizer for the object's lifetime: tf-text keeps the parsed model
        in a resource owned by the kernel that created it, and TensorFlow drops eager kernels
        whenever it clears its caches (`keras.utils.set_random_seed`, `tf.random.set_seed`,
        `keras.backend.clear_session`). Every later use of that resource, eagerly or from a
        `tf.function`/`tf.data` graph that captured it, then fails with `NotFoundError`
        "Resource ..._SentencepieceOp... does not exist". (keras-hub's `SentencePieceTokenizer`
        wraps the same tf-text tokenizer and fails the same way; tf-text's unresourced
        `FastSentencepieceTokenizer` gives other ids for BPE models.) So:

        - in a graph (`tf.function`, `tf.data.Dataset.map`, a SavedModel export) a tokenizer is
          built inside that graph: its model op is a node of the graph, every instantiation of
          the graph makes its own resource, and nothing eager is captured. (Building it under
          `tf.init_scope` would capture an eager resource and fail the same way.)
        - eagerly one tokenizer is reused, and rebuilt once when its resource was dropped.
        """
        import tensorflow_text as tf_text

        def build():
            return tf_text.SentencepieceTokenizer(model=self._model_proto, out_type=tf.int32)

        if not tf.executing_eagerly():
            return getattr(build(), method)(inputs)
        if self._eager.sentencepiece is not None:
            try:
                return getattr(self._eager.sentencepiece, method)(inputs)
            except tf.errors.NotFoundError:  # TensorFlow cleared its caches since it was built
                pass
        # Building it logs "normalizer.cc(51) LOG(INFO) ..." (no option silences it): filtered
        # as TensorFlow's own INFO lines are, under $TF_CPP_MIN_LOG_LEVEL.
        with filtered_stderr():
            self._eager.sentencepiece = build()
            return getattr(self._eager.sentencepiece, method)(inputs)

    # ------------------------------------------------------------------ files
    def save(self, directory):
        """Write `sentencepiece.model`, `vocab.txt` and `tokenizer.json` into `directory`.

        Afterwards the tokenizer's `model_asset` points at the saved model file, so a
        SavedModel that holds this tokenizer also copies the file into its assets.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / MODEL_FILE).write_bytes(self._model_proto)
        (directory / VOCAB_FILE).write_text("\n".join(self._pieces) + "\n", encoding="utf-8")
        metadata = {
            "format": _FORMAT,
            "model_file": MODEL_FILE,
            "vocabulary_file": VOCAB_FILE,
            "sha256": hashlib.sha256(self._model_proto).hexdigest(),
            "reserved_tokens": list(RESERVED_TOKENS),
            "normalization": "NFC, whitespace collapsed" + (", lowercased" if self.lowercase else ""),
            **self.metadata,
            "vocabulary_size": self.vocabulary_size,
            "lowercase": self.lowercase,
            "prefix": self.prefix,
        }
        (directory / METADATA_FILE).write_text(
            json.dumps(metadata, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        self.model_asset = tf.saved_model.Asset(str(directory / MODEL_FILE))
        return directory

    @classmethod
    def load(cls, directory):
        """Load a tokenizer written by `save`."""
        directory = Path(directory)
        metadata_path = directory / METADATA_FILE
        if not metadata_path.is_file():
            raise FileNotFoundError(
                f"{metadata_path} does not exist; pass a directory written by SubwordTokenizer.save."
            )
        metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
        if metadata.get("format") != _FORMAT:
            raise ValueError(f"{metadata_path} is not a SubwordTokenizer file (format={metadata.get('format')!r}).")
        model_path = directory / metadata["model_file"]
        model_proto = model_path.read_bytes()
        if hashlib.sha256(model_proto).hexdigest() != metadata["sha256"]:
            raise ValueError(f"{model_path} does not match the sha256 in {metadata_path}; the file was changed.")
        tokenizer = cls(model_proto, lowercase=metadata["lowercase"],
                        prefix=metadata.get("prefix", ""), metadata=metadata)
        tokenizer.model_asset = tf.saved_model.Asset(str(model_path))
        return tokenizer

    def __repr__(self):
        return (
            f"SubwordTokenizer(vocabulary_size={self.vocabulary_size}, lowercase={self.lowercase}"
            + (f", prefix={self.prefix!r})" if self.prefix else ")")
        )


def _normalized_sentences(texts, lowercase):
    """Normalise training text with the same TF ops that `tokenize` runs."""
    if isinstance(texts, tf.data.Dataset):
        texts = [t.decode("utf-8") for t in texts.as_numpy_iterator()]
    elif isinstance(texts, (tf.Tensor, tf.RaggedTensor)):
        texts = [t.decode("utf-8") for t in tf.reshape(texts, [-1]).numpy()]
    elif isinstance(texts, (str, bytes)):
        raise TypeError("texts must be a collection of sentences, not one string; wrap it in a list.")
    texts = list(texts)
    sentences = []
    for start in range(0, len(texts), 4096):
        batch = normalize_strings(tf.constant(texts[start : start + 4096], dtype=tf.string), lowercase)
        sentences.extend(s.decode("utf-8") for s in batch.numpy())
    return [s for s in sentences if s]


def _required_size(message):
    """The minimum size sentencepiece needs ("... smaller than required_chars. 40 vs 129"), or None."""
    match = re.search(r"smaller than required_chars\. \d+ vs (\d+)", message)
    return int(match.group(1)) if match else None  # counts the reserved tokens too


def _largest_allowed_size(message):
    """The size sentencepiece says the corpus supports ("... value <= 1234."), or None."""
    match = re.search(r"value <= (\d+)", message)
    return int(match.group(1)) if match else None

