"""kdl_transformer: the Transformer of Deep Learning with Python, chapter 11, as tested Keras 3 code."""

import os

# Keep TensorFlow's C++ start-up chatter out of notebooks and the CLI (set before TF loads).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

from kdl_transformer import layers  # noqa: E402

__all__ = ["__version__", "layers"]
