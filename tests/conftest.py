"""Shared fixtures: the real-data folder, and a quiet, deterministic Keras."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@pytest.fixture(autouse=True)
def _seed():
    import keras

    keras.utils.set_random_seed(1234)


@pytest.fixture(scope="session")
def data_dir():
    """The folder of real datasets ($KDL_DATA_DIR).

    Tests that need it skip when it is not set, and fail instead under
    KDL_REQUIRE_DATA=1 (as CI sets), so a missing dataset cannot pass silently.
    """
    path = os.environ.get("KDL_DATA_DIR")
    required = os.environ.get("KDL_REQUIRE_DATA") == "1"
    if not path or not Path(path).is_dir():
        message = f"real datasets not found (KDL_DATA_DIR={path!r})"
        if required:
            pytest.fail(message + " but KDL_REQUIRE_DATA=1 requires them")
        pytest.skip(message)
    return Path(path)


@pytest.fixture
def global_dtype_policy():
    """Set a global Keras dtype policy for one test: `global_dtype_policy("mixed_bfloat16")`."""
    import keras

    previous = keras.config.dtype_policy()
    yield keras.config.set_dtype_policy
    keras.config.set_dtype_policy(previous)
