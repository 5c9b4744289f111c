"""kdl_transformer: the Transformer of Deep Learning with Python, chapter 11, as tested Keras 3 code.

Importing the package is light: it neither loads TensorFlow nor changes environment variables, so
that `kdl_transformer.quiet_tensorflow_logs()` can run first (the notebooks' first cell does):

    import kdl_transformer
    kdl_transformer.quiet_tensorflow_logs()  # before TensorFlow loads: no C++ start-up lines

`kdl_transformer.layers` loads on first use. If Keras is already imported, importing the package
loads it at once, which registers the layers for `keras.saving.load_model` as before.
"""

import importlib
import sys

from kdl_transformer.quiet import quiet_tensorflow_logs

__version__ = "0.1.0"

__all__ = ["__version__", "layers", "quiet_tensorflow_logs"]


def __getattr__(name):
    if name == "layers":
        return importlib.import_module("kdl_transformer.layers")
    raise AttributeError(f"module 'kdl_transformer' has no attribute {name!r}")


if "keras" in sys.modules or "tensorflow" in sys.modules:
    from kdl_transformer import layers  # noqa: E402,F401  (registers the layers' Keras names)
