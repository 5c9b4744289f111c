"""The small value checks every run configuration shares, and the choices they allow.

Messages name the value and say what is allowed (`pooling='sum' is not one of (...)`), so
that a bad `--set key=value` is one clear sentence.
"""

OPTIMIZERS = ("adamw", "adam", "rmsprop")
SCHEDULES = ("constant", "cosine")
MONITORS = ("val_loss", "val_accuracy")


def check_choice(name, value, choices):
    """Raise a ValueError unless `value` is one of `choices` (a tuple, shown in the message)."""
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {choices}.")


def check_rate(name, value):
    """Raise a ValueError unless `value` (a dropout or a share) is in [0, 1)."""
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name}={value!r} must be in [0, 1).")


def check_positive_int(name, value):
    """Raise a ValueError unless `value` is an int >= 1 (a bool is not)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer.")


def check_average_best(value):
    """Checkpoint averaging: 0 (off) or a number of best epochs >= 2 (1 would average nothing)."""
    if value == 1 or value < 0:
        raise ValueError(
            f"average_best={value} must be 0 (off) or the number (>= 2) of best epochs to "
            "average."
        )
