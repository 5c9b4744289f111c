"""The run configurations of every model, and the checks they share.

Each run of `kdl-transformer train` or `pretrain` is described by one dataclass, saved as
`config.json` in its run directory and read back by every later command (evaluate, predict,
translate, attention, export, resume, fine-tuning):

- `ClassifierConfig` (`configs.classifier`): the IMDB classifier (data, vectorizer, model,
  optimizer, schedule), from scratch, as bag of bigrams, or fine-tuned from a BERT run.
- `TranslatorConfig` (`configs.translator`): the English->Korean translator (data,
  tokenizers, model, training, decoding).
- `BertConfig` (`configs.bert`): BERT-style pretraining of the encoder on IMDB reviews.

All validate their values up front (`__post_init__`) with the small checks of
`configs.checks`, whose messages name the value and say what is allowed (`num_heads=3 does
not divide embed_dim=256`). The heads-divide-width check is the layers' own
(`layers.multi_head_attention.head_width`) and the length-penalty check the searches' own
(`decoding.check_length_penalty`), so that a config refuses exactly what the model or the
search would.
"""

from kdl_transformer.configs.bert import BertConfig
from kdl_transformer.configs.checks import (
    MONITORS,
    OPTIMIZERS,
    SCHEDULES,
    check_average_best,
    check_choice,
    check_positive_int,
    check_rate,
)
from kdl_transformer.configs.classifier import (
    BIGRAM_OUTPUT_MODES,
    CLASSIFIER_MODELS,
    TRUNCATIONS,
    ClassifierConfig,
)
from kdl_transformer.configs.translator import (
    ARCHITECTURES,
    DATASETS,
    SMALL_TRANSLATOR,
    TranslatorConfig,
)

__all__ = [
    "ARCHITECTURES",
    "BIGRAM_OUTPUT_MODES",
    "CLASSIFIER_MODELS",
    "DATASETS",
    "MONITORS",
    "OPTIMIZERS",
    "SCHEDULES",
    "SMALL_TRANSLATOR",
    "TRUNCATIONS",
    "BertConfig",
    "ClassifierConfig",
    "TranslatorConfig",
    "check_average_best",
    "check_choice",
    "check_positive_int",
    "check_rate",
]
