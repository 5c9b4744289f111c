"""Models built from `kdl_transformer.layers`: the IMDB classifiers, BERT, the translator networks.

Their configurations are in `kdl_transformer.configs`, their training objectives in
`kdl_transformer.objectives`, the translation facade in `kdl_transformer.translator`.
Importing any model also registers those objectives (loss, metric, learning-rate schedule),
so that a compiled model saved as `.keras` reloads, optimizer included, with no
`custom_objects`.
"""

from kdl_transformer import objectives  # noqa: F401  (registers what a saved model's compile names)
from kdl_transformer.models.architectures import build_translator_model  # noqa: F401
from kdl_transformer.models.bert import BertBackbone, BertClassifier, BertPretrainer  # noqa: F401
from kdl_transformer.models.bigrams import build_bigram_classifier  # noqa: F401
from kdl_transformer.models.classifier import TextClassifier  # noqa: F401
from kdl_transformer.models.classifier import build_classifier  # noqa: F401
from kdl_transformer.models.classifier import build_text_classifier  # noqa: F401
from kdl_transformer.models.seq2seq_gru import Seq2SeqGRU  # noqa: F401
from kdl_transformer.models.seq2seq_transformer import Seq2SeqTransformer  # noqa: F401
