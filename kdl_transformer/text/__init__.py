"""Text to ids: subword tokenizers, the book's TextVectorization, WordPiece for BERT, batches.

`tensorflow_text` (about a second to import) is loaded only when a `SubwordTokenizer` is
made or `normalize_strings` runs, not when this package is imported.
"""

from kdl_transformer.text.normalization import normalize_strings, normalize_text
from kdl_transformer.text.special_tokens import END_ID, PAD_ID, RESERVED_TOKENS, START_ID, UNK_ID
from kdl_transformer.text.subword_tokenizer import SubwordTokenizer
from kdl_transformer.text.translation_dataset import encode_translation_pairs, make_translation_dataset
from kdl_transformer.text.vectorization import (
    adapt_text_vectorization,
    lower_strip_line_breaks_and_punctuation,
    make_text_vectorization,
)
from kdl_transformer.text.word_dropout import word_dropout
from kdl_transformer.text.wordpiece import WordPieceVectorizer, train_wordpiece_vocabulary

__all__ = [
    "END_ID",
    "PAD_ID",
    "RESERVED_TOKENS",
    "START_ID",
    "UNK_ID",
    "SubwordTokenizer",
    "WordPieceVectorizer",
    "adapt_text_vectorization",
    "encode_translation_pairs",
    "lower_strip_line_breaks_and_punctuation",
    "make_text_vectorization",
    "make_translation_dataset",
    "normalize_strings",
    "normalize_text",
    "train_wordpiece_vocabulary",
    "word_dropout",
]
