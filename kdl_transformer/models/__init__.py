"""Models built from `kdl_transformer.layers`: the IMDB classifier and the translator."""

from kdl_transformer.models.classifier import ClassifierConfig  # noqa: F401
from kdl_transformer.models.classifier import build_classifier  # noqa: F401
from kdl_transformer.models.classifier import build_text_classifier  # noqa: F401
from kdl_transformer.models.translator import Seq2SeqTransformer  # noqa: F401
from kdl_transformer.models.translator import Translator  # noqa: F401
from kdl_transformer.models.translator import TranslatorConfig  # noqa: F401
