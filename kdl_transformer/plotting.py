"""Every figure of the package: attention heatmaps, head grids, learning curves, and the
attention maps of a review (classifier) and of a translation (translator).

Every figure uses a real Hangul font (`kdl_transformer.hangul_font.use_hangul_font`, also
importable from here), so Korean labels are not drawn as empty boxes.
"""

import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np

from kdl_transformer.hangul_font import HANGUL_FONT_FAMILY, use_hangul_font  # noqa: F401

def _to_numpy(weights):
    return np.asarray(weights, dtype="float32")


MAX_PANELS_PER_ROW = 4
MAX_FIGURE_WIDTH = 10.0  # inches: about 1,200 px at the saved 120 dpi, a notebook's width


def _label_width(label, fontsize):
    """Rough width in inches of a tick label: a Hangul syllable is about twice a Latin letter."""
    ems = sum(0.9 if ord(char) >= 0x1100 else 0.5 if char == "▁" else 0.55 for char in str(label))
    return ems * fontsize / 72


def _rotate_long_tick_labels(ax, labels, fontsize):
    """Keep horizontal every x tick label that fits its column; turn the others upright."""
    fig = ax.figure
    column = 0.9 * ax.get_position().width * fig.get_figwidth() / max(len(labels), 1)
    for text, label in zip(ax.get_xticklabels(), labels):
        if _label_width(label, fontsize) > column:
            text.set_rotation(90)


def _row_sizes(panels, max_columns):
    """Panels per row: at most `max_columns`, as even as possible, so no panel is left empty."""
    rows = math.ceil(panels / max_columns)
    base, extra = divmod(panels, rows)
    return [base + 1] * extra + [base] * (rows - extra)


def plot_attention(weights, x_labels, y_labels, title=None, ax=None, cmap="viridis", vmax=None,
                   x_title="key (키)", y_title="query (쿼리)", colorbar=True,
                   colorbar_label="attention weight"):
    """One attention heatmap: queries as rows (`y_labels`), keys as columns (`x_labels`).

    Args:
        weights: array (query_length, key_length); extra rows/columns beyond
            the labels (padding) are cut off.
        x_labels: key token strings.
        y_labels: query token strings.
        title: optional axes title.
        ax: optional matplotlib Axes to draw into.
        vmax: top of the colour scale (default: the largest weight); pass one value to every
            panel of a figure for one shared scale.
        x_title, y_title: axis titles (None: none).
        colorbar: draw a colour bar beside this axes, labelled `colorbar_label`.

    Returns:
        The matplotlib Figure.
    """
    use_hangul_font()
    weights = _to_numpy(weights)[: len(y_labels), : len(x_labels)]
    if ax is None:
        width = min(MAX_FIGURE_WIDTH, max(4.0, 0.3 * len(x_labels) + 2.0))
        height = max(3.0, 0.3 * len(y_labels) + 1.5)
        fig, ax = plt.subplots(figsize=(width, height), constrained_layout=True)
    fig = ax.figure
    image = ax.imshow(weights, cmap=cmap, vmin=0.0, vmax=vmax, aspect="auto")
    fontsize = 8 if len(x_labels) <= 30 else 6
    ax.set_xticks(range(len(x_labels)), labels=list(x_labels), fontsize=fontsize)
    _rotate_long_tick_labels(ax, x_labels, fontsize)
    ax.set_yticks(range(len(y_labels)), labels=list(y_labels), fontsize=8 if len(y_labels) <= 30 else 6)
    if x_title:
        ax.set_xlabel(x_title, fontsize=9)
    if y_title:
        ax.set_ylabel(y_title, fontsize=9)
    if title:
        ax.set_title(title, fontsize=9)
    if colorbar:
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02, label=colorbar_label)
    return fig


def plot_attention_heads(scores, x_labels, y_labels, title=None, average=True,
                         max_columns=MAX_PANELS_PER_ROW, x_title="key (키)", y_title="query (쿼리)"):
    """A grid with one heatmap per head (and their mean), readable at notebook width.

    At most `max_columns` panels a row, rows as even as possible (5 panels: 3 + 2, centred) so
    no panel is empty, one colour scale and one colour bar for the whole figure, the axis
    titles once for the figure, and horizontal key labels wherever they fit.

    Args:
        scores: array (heads, query_length, key_length).
        x_labels, y_labels: key and query token strings.
        title: figure title.
        average: add a panel with the mean over heads.
        x_title, y_title: what the columns (keys) and rows (queries) are.

    Returns:
        The matplotlib Figure.
    """
    use_hangul_font()
    scores = _to_numpy(scores)[:, : len(y_labels), : len(x_labels)]
    panels = [(f"head {h}", scores[h]) for h in range(scores.shape[0])]
    if average and len(panels) > 1:
        panels.append(("mean of heads", scores.mean(axis=0)))
    rows = _row_sizes(len(panels), max_columns)
    columns = max(rows)
    cell_w = min(MAX_FIGURE_WIDTH / columns, max(2.6, 0.3 * len(x_labels) + 1.2))
    cell_h = min(cell_w * 1.2, max(2.4, 0.25 * len(y_labels) + 1.2))
    fig = plt.figure(figsize=(cell_w * columns + 0.8, cell_h * len(rows) + 0.9), constrained_layout=True)
    grid = fig.add_gridspec(len(rows), 2 * columns)  # half columns, to centre a shorter row
    vmax = max(float(weights.max()) for _, weights in panels)
    panel_iter = iter(panels)
    for row, count in enumerate(rows):
        offset = columns - count
        for index in range(count):
            name, weights = next(panel_iter)
            ax = fig.add_subplot(grid[row, offset + 2 * index: offset + 2 * index + 2])
            plot_attention(weights, x_labels, y_labels, title=name, ax=ax, vmax=vmax,
                           x_title=None, y_title=None, colorbar=False)
    fig.colorbar(fig.axes[0].images[0], ax=fig.axes, shrink=0.8, label="attention weight")
    fig.supxlabel(x_title, fontsize=10)
    fig.supylabel(y_title, fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
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


def plot_learning_curves(history, path=None, title=None, ylabels=None):
    """Loss (and every other metric) per epoch, training vs validation.

    Args:
        history: dict metric -> list of per-epoch values (Keras `History.history`),
            or a path to a history.json.
        path: optional PNG path to save to.
        title: optional figure title.
        ylabels: dict metric -> y-axis label, saying what the number is (e.g. "accuracy" of a
            translator is the share of correctly predicted target subwords); default: the name.
    """
    use_hangul_font()
    if isinstance(history, (str, Path)):
        history = json.loads(Path(history).read_text())
    ylabels = ylabels or {}
    metrics = [name for name in history
               if not name.startswith("val_") and name not in ("learning_rate", "epoch_seconds")]
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(min(MAX_FIGURE_WIDTH, 4.5 * len(metrics)), 3.4),
        constrained_layout=True, squeeze=False,
    )
    for ax, name in zip(axes.flat, metrics):
        epochs = range(1, len(history[name]) + 1)
        ax.plot(epochs, history[name], "o-", markersize=3, label="train")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], "s-", markersize=3, label="validation")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_ylabel(ylabels.get(name, name))
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
            x_title="key (키): the word looked at", y_title="query (쿼리): the word being recomputed",
        )
        parts.append(save_figure(figure, out.with_name(f"{out.stem}_layer{index}.png")))
    figure = plot_attention(
        np.stack([_to_numpy(values)[:shown] for values in importance.values()]),  # (parts, shown)
        tokens, list(importance), title="per-token importance (share over the review)",
        x_title="review word", y_title=None, colorbar_label="share of the review",
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
        x_title="key (키): English subword", y_title="query (쿼리): Korean subword being written",
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
        x_title="key (키): earlier Korean subword (decoder input)",
        y_title="query (쿼리): Korean subword being written",
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


# A Transformer block as the boxes it is made of: ("box", label), ("add",) where a residual
# connection joins, ("branch",) where it leaves the main path.
_POST_NORM = [
    ("branch",), ("box", "multi-head attention\n멀티 헤드 어텐션"), ("add",), ("box", "LayerNorm\n층 정규화"),
    ("branch",), ("box", "feed-forward\n피드포워드"), ("add",), ("box", "LayerNorm\n층 정규화"),
]
_PRE_NORM = [
    ("branch",), ("box", "LayerNorm\n층 정규화"), ("box", "multi-head attention\n멀티 헤드 어텐션"), ("add",),
    ("branch",), ("box", "LayerNorm\n층 정규화"), ("box", "feed-forward\n피드포워드"), ("add",),
]
_BOX_COLOURS = {"multi": "#fdd9b5", "Layer": "#fff3b0", "feed": "#cfe2f3"}


def _draw_block(ax, parts, title, output_note):
    from matplotlib.patches import Circle, FancyBboxPatch

    y, previous, branches = 0.0, 0.0, []
    ax.text(0, y, "x (block input)", ha="center", va="center", fontsize=9)
    for part in parts:
        if part[0] == "branch":  # the residual leaves the main path here
            branches.append(y + 0.45)
            continue
        y += 1.0
        ax.annotate("", (0, y - 0.32), (0, previous + 0.3), arrowprops={"arrowstyle": "->"})
        if part[0] == "box":
            colour = next(c for key, c in _BOX_COLOURS.items() if part[1].startswith(key))
            ax.add_patch(FancyBboxPatch((-1.25, y - 0.3), 2.5, 0.6, boxstyle="round,pad=0.02",
                                        facecolor=colour, edgecolor="black"))
            ax.text(0, y, part[1], ha="center", va="center", fontsize=8)
        else:  # the residual connection joins: output = input + sublayer(input)
            start = branches.pop()
            ax.add_patch(Circle((0, y), 0.2, facecolor="white", edgecolor="black"))
            ax.text(0, y, "+", ha="center", va="center", fontsize=11)
            ax.plot([0, -1.8, -1.8], [start, start, y], color="tab:green")
            ax.annotate("", (-0.2, y), (-1.8, y), arrowprops={"arrowstyle": "->", "color": "tab:green"})
        previous = y
    ax.annotate("", (0, y + 0.7), (0, y + 0.3), arrowprops={"arrowstyle": "->"})
    ax.text(0, y + 0.95, output_note, ha="center", va="bottom", fontsize=9)
    ax.text(-1.9, 0.9, "residual\n잔차 연결", color="tab:green", ha="right", va="center", fontsize=8)
    ax.set_xlim(-3.2, 1.8)
    ax.set_ylim(-0.5, y + 1.8)
    ax.set_title(title, fontsize=10)
    ax.axis("off")


def plot_transformer_blocks(out=None):
    """Post-norm and pre-norm Transformer blocks side by side (`norm_first=False` / `True`).

    Post-norm (the 2017 paper and the book) normalises after each residual sum; pre-norm
    normalises the input of each sublayer, so the residual path runs from the block's input to
    its output untouched and a stack of them needs one final LayerNorm.

    Args:
        out: optional PNG path to save to.

    Returns:
        The matplotlib Figure (closed when saved).
    """
    use_hangul_font()
    fig, axes = plt.subplots(1, 2, figsize=(8.5, 5.6), constrained_layout=True)
    _draw_block(axes[0], _POST_NORM, "post-norm (norm_first=False)\nthe paper, the book", "block output")
    _draw_block(axes[1], _PRE_NORM, "pre-norm (norm_first=True)",
                "block output\n(a final LayerNorm after the last block)")
    if out is not None:
        save_figure(fig, out)
    return fig
