"""Every figure of the package: attention heatmaps, head grids, learning curves, and the
attention maps of a review (classifier) and of a translation (translator).

Korean labels need a Hangul font; matplotlib's default DejaVu Sans has none
and draws empty boxes ("Glyph ... missing from font(s) DejaVu Sans").
`use_hangul_font` registers NanumGothic, which ships inside the pip package
`koreanize-matplotlib` (a dependency of this package; we only read its font
files and never import it, because importing it changes global settings).
"""

import importlib.util
import json
import math
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import font_manager

HANGUL_FONT_FAMILY = "NanumGothic"


def _bundled_font_files():
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(next(iter(spec.submodule_search_locations))) / "fonts"
    return sorted(folder.glob("*.ttf"))


def use_hangul_font():
    """Make matplotlib draw Hangul: register NanumGothic and put it first.

    Returns the font family name. Raises RuntimeError when no Hangul font can
    be found, rather than letting figures silently show boxes.
    """
    names = {font.name for font in font_manager.fontManager.ttflist}
    if HANGUL_FONT_FAMILY not in names:
        for path in _bundled_font_files():
            font_manager.fontManager.addfont(str(path))
        names = {font.name for font in font_manager.fontManager.ttflist}
    if HANGUL_FONT_FAMILY not in names:
        raise RuntimeError(
            "No Hangul font found: install the package dependency koreanize-matplotlib "
            "(pip install koreanize-matplotlib) or the Debian package fonts-nanum."
        )
    family = [HANGUL_FONT_FAMILY, "DejaVu Sans"]
    if matplotlib.rcParams["font.family"] != family:
        matplotlib.rcParams["font.family"] = family
    matplotlib.rcParams["axes.unicode_minus"] = False  # NanumGothic has no U+2212 minus sign
    return HANGUL_FONT_FAMILY


def _to_numpy(weights):
    return np.asarray(weights, dtype="float32")


def plot_attention(weights, x_labels, y_labels, title=None, ax=None, cmap="viridis"):
    """One attention heatmap: queries as rows (`y_labels`), keys as columns (`x_labels`).

    Args:
        weights: array (query_length, key_length); extra rows/columns beyond
            the labels (padding) are cut off.
        x_labels: key token strings.
        y_labels: query token strings.
        title: optional axes title.
        ax: optional matplotlib Axes to draw into.

    Returns:
        The matplotlib Figure.
    """
    use_hangul_font()
    weights = _to_numpy(weights)[: len(y_labels), : len(x_labels)]
    if ax is None:
        width = max(4.0, 0.45 * len(x_labels) + 1.5)
        height = max(3.0, 0.4 * len(y_labels) + 1.2)
        fig, ax = plt.subplots(figsize=(width, height), constrained_layout=True)
    fig = ax.figure
    image = ax.imshow(weights, cmap=cmap, vmin=0.0, aspect="auto")
    ax.set_xticks(range(len(x_labels)), labels=list(x_labels), rotation=90, fontsize=8)
    ax.set_yticks(range(len(y_labels)), labels=list(y_labels), fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02)
    return fig


def plot_attention_heads(scores, x_labels, y_labels, title=None, average=True, max_columns=4):
    """A grid with one heatmap per head (and their mean).

    Args:
        scores: array (heads, query_length, key_length).
        x_labels, y_labels: key and query token strings.
        title: figure title.
        average: add a panel with the mean over heads.

    Returns:
        The matplotlib Figure.
    """
    use_hangul_font()
    scores = _to_numpy(scores)
    panels = [(f"head {h}", scores[h]) for h in range(scores.shape[0])]
    if average:
        panels.append(("mean of heads", scores.mean(axis=0)))
    columns = min(max_columns, len(panels))
    rows = math.ceil(len(panels) / columns)
    cell_w = max(3.0, 0.35 * len(x_labels) + 1.5)
    cell_h = max(2.5, 0.3 * len(y_labels) + 1.2)
    fig, axes = plt.subplots(
        rows, columns, figsize=(cell_w * columns, cell_h * rows), constrained_layout=True, squeeze=False
    )
    for ax, (name, weights) in zip(axes.flat, panels):
        plot_attention(weights, x_labels, y_labels, title=name, ax=ax)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    return fig


def plot_token_importance(importance, tokens, title=None):
    """A bar chart of one score per token (e.g. attention rollout)."""
    use_hangul_font()
    importance = _to_numpy(importance)[: len(tokens)]
    fig, ax = plt.subplots(figsize=(max(5.0, 0.35 * len(tokens) + 1.5), 3.0), constrained_layout=True)
    ax.bar(range(len(tokens)), importance, color="tab:orange")
    ax.set_xticks(range(len(tokens)), labels=list(tokens), rotation=90, fontsize=8)
    ax.set_ylabel("importance")
    if title:
        ax.set_title(title)
    return fig


def plot_learning_curves(history, path=None, title=None):
    """Loss (and every other metric) per epoch, training vs validation.

    Args:
        history: dict metric -> list of per-epoch values (Keras `History.history`),
            or a path to a history.json.
        path: optional PNG path to save to.
    """
    use_hangul_font()
    if isinstance(history, (str, Path)):
        history = json.loads(Path(history).read_text())
    metrics = [name for name in history if not name.startswith("val_") and name != "learning_rate"]
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(4.5 * len(metrics), 3.4), constrained_layout=True, squeeze=False
    )
    for ax, name in zip(axes.flat, metrics):
        epochs = range(1, len(history[name]) + 1)
        ax.plot(epochs, history[name], "o-", label="train")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], "s-", label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    if path is not None:
        save_figure(fig, path)
    return fig


def save_figure(fig, path, dpi=120):
    """Save `fig` as PNG (creating folders) and close it; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def stack_images(paths, out):
    """Stack PNGs vertically (left-aligned, white padding) into one PNG."""
    import matplotlib.image

    images = [matplotlib.image.imread(path)[..., :3] for path in paths]
    width = max(image.shape[1] for image in images)
    padded = [np.pad(image, ((0, 0), (0, width - image.shape[1]), (0, 0)), constant_values=1.0)
              for image in images]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    matplotlib.image.imsave(out, np.concatenate(padded, axis=0))
    return out


def plot_review_attention(scores, importance, tokens, probability, out):
    """The classifier's attention maps of one review: one PNG per part, and all of them stacked.

    Args:
        scores: one (heads, T, T) array per encoder block, T >= len(tokens).
        importance: dict name -> (T,) per-token share (attention rollout, max-pool wins).
        tokens: the words shown: the first len(tokens) positions.
        probability: P(positive) of the review, for the titles.
        out: PNG path of the stacked image; `<out stem>_layer<i>.png` and
            `<out stem>_importance.png` hold the parts.

    Returns:
        `[out, *parts]`.
    """
    out, shown = Path(out), len(tokens)
    parts = []
    for index, layer_scores in enumerate(scores):
        figure = plot_attention_heads(
            _to_numpy(layer_scores)[:, :shown, :shown], tokens, tokens,
            title=f"encoder block {index}: self-attention (셀프 어텐션), P(positive)={probability:.2f}",
        )
        parts.append(save_figure(figure, out.with_name(f"{out.stem}_layer{index}.png")))
    figure = plot_attention(
        np.stack([_to_numpy(values)[:shown] for values in importance.values()]),  # (parts, shown)
        tokens, list(importance), title="per-token importance (share over the review)",
    )
    parts.append(save_figure(figure, out.with_name(f"{out.stem}_importance.png")))
    stack_images(parts, out)
    return [out, *parts]


def plot_translation_attention(maps, out, layer=-1):
    """Write the cross-attention heads (+ mean) of one layer to `out`, and the decoder
    self-attention (the causal triangle) to `out` with the suffix `_self`.

    Args:
        maps: the dict of `Translator.attention`.
        out: PNG path of the cross-attention figure.
        layer: which decoder layer (default: the last).

    Returns:
        `(cross_attention_path, self_attention_path)`; the second is None for a model without
        decoder self-attention (a GRU with additive attention: one map, its alignment).
    """
    out = Path(out)
    cross_maps = maps["cross_attention"]
    heads = cross_maps[layer].shape[0]
    name = "cross-attention (크로스 어텐션)" if maps["decoder_self_attention"] else "additive attention (정렬)"
    cross = plot_attention_heads(
        cross_maps[layer],
        maps["source_tokens"],
        maps["output_tokens"],
        title=f"{name}, decoder layer {layer % len(cross_maps)}: {maps['translation']}",
        average=heads > 1,
    )
    save_figure(cross, out)
    if not maps["decoder_self_attention"]:
        return out, None
    self_path = out.with_name(f"{out.stem}_self{out.suffix}")
    causal = plot_attention_heads(
        maps["decoder_self_attention"][layer],
        maps["decoder_input_tokens"],
        maps["decoder_input_tokens"],
        title="decoder self-attention (마스크드 셀프 어텐션)",
    )
    save_figure(causal, self_path)
    return out, self_path


def plot_chrf_by_length(buckets, out, title="chrF by source length (문장 길이별 chrF)", ylabel="chrF"):
    """chrF per source-length bucket, one line per model: where the context vector breaks.

    Args:
        buckets: dict model name -> `evaluation.chrf_by_source_length` result (bucket label ->
            {"chrf", "sentences"}); every model scored on the same sentences.
        out: PNG path.
        title, ylabel: the axes' title and y label.

    Returns:
        The `Path` written.
    """
    use_hangul_font()
    fig, ax = plt.subplots(figsize=(6.5, 3.8), constrained_layout=True)
    counts = next(iter(buckets.values()))
    labels = list(counts)
    for name, by_length in buckets.items():
        ax.plot(range(len(labels)), [by_length[b]["chrf"] for b in labels], marker="o", label=name)
    ax.set_xticks(range(len(labels)), [f"{b}\n({counts[b]['sentences']} sentences)" for b in labels])
    ax.set_xlabel("English words per source sentence (원문 길이)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, Path(out))
