"""Does a code change alter training on one device? Compare two source trees, bit for bit.

Trains the demo translator (1,000 synthetic pairs) and the demo classifier (480 synthetic
reviews) for one epoch with each tree's `kdl_transformer`, in a fresh process each, and
compares the per-step logged losses and the final weights.

    git worktree add /tmp/before <commit>
    python benchmarks/one_device_identity.py /tmp/before .

Prints JSON and writes benchmarks/results/one_device_identity.json.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from common import write_result  # noqa: E402

TRAIN = r'''
import sys, numpy as np
sys.path.insert(0, sys.argv[1])
import keras
from kdl_transformer.configs import ClassifierConfig, TranslatorConfig
from kdl_transformer.datasets import make_reviews
from kdl_transformer.workflows import classifier, translator

class Record(keras.callbacks.Callback):
    def on_train_begin(self, logs=None): self.losses = []
    def on_train_batch_end(self, batch, logs=None): self.losses.append(float(logs["loss"]))
    def on_train_end(self, logs=None): self.weights = self.model.get_weights()

out, arrays = sys.argv[2], {}
record, config = Record(), TranslatorConfig.demo(synthetic_pairs=1000, epochs=1)
translator.train_run(out + "/translator", config, translator.load_splits(config), verbose=0,
                     extra_callbacks=[record])
arrays["translator_losses"] = np.array(record.losses)
arrays.update({f"translator_w{i}": w for i, w in enumerate(record.weights)})
record, config = Record(), ClassifierConfig.demo(epochs=1)
texts, labels = make_reviews(600, seed=0)
classifier.fit_classifier(config, (texts[:480], labels[:480]), (texts[480:], labels[480:]),
                          out + "/classifier", verbose=0, extra_callbacks=[record])
arrays["classifier_losses"] = np.array(record.losses)
arrays.update({f"classifier_w{i}": w for i, w in enumerate(record.weights)})
np.savez(out + "/arrays.npz", **arrays)
'''


def train(tree, out):
    subprocess.run([sys.executable, "-c", TRAIN, str(Path(tree).resolve()), out], check=True,
                   cwd=tempfile.gettempdir(), capture_output=True)
    return np.load(Path(out) / "arrays.npz")


def main():
    before_tree, after_tree = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as before_dir, tempfile.TemporaryDirectory() as after_dir:
        before, after = train(before_tree, before_dir), train(after_tree, after_dir)
        result = {}
        for model in ("translator", "classifier"):
            weights = [k for k in before if k.startswith(f"{model}_w")]
            result[model] = {
                "steps": len(before[f"{model}_losses"]),
                "max_loss_difference": float(np.abs(before[f"{model}_losses"] - after[f"{model}_losses"]).max()),
                "weight_tensors": len(weights),
                "max_weight_difference": max(float(np.abs(before[k] - after[k]).max()) for k in weights),
            }
    git = lambda tree: subprocess.run(["git", "-C", tree, "rev-parse", "--short", "HEAD"],
                                      capture_output=True, text=True).stdout.strip()
    write_result("one_device_identity", {"before": git(before_tree), "after": git(after_tree),
                                         "after_has_uncommitted_changes": bool(subprocess.run(
                                             ["git", "-C", after_tree, "status", "--porcelain", "kdl_transformer"],
                                             capture_output=True, text=True).stdout.strip()),
                                         **result})


if __name__ == "__main__":
    main()
