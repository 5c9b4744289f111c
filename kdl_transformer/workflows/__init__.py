"""Train, evaluate, inspect and export each model: the functions behind the CLI and the notebooks."""
