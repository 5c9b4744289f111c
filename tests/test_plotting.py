"""Figures render, and Korean labels render with a real Hangul font (no missing glyphs)."""

import logging
import warnings

import matplotlib
import numpy as np

from kdl_transformer import plotting


def render_capturing_glyph_warnings(make_figure, path, caplog):
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        fig = make_figure()
        fig.canvas.draw()
        plotting.save_figure(fig, path)
    messages = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    return [m for m in messages if "Glyph" in m or "missing from font" in m]


def test_korean_labels_render_without_missing_glyphs(tmp_path, caplog):
    korean = ["고양이는", "사과를", "먹는다", "카페", "−1"]
    english = ["the", "cat", "eats", "an", "apple"]
    weights = np.random.default_rng(0).dirichlet(np.ones(5), size=5)
    missing = render_capturing_glyph_warnings(
        lambda: plotting.plot_attention(weights, english, korean, title="교차 어텐션"),
        tmp_path / "attention.png",
        caplog,
    )
    assert missing == []
    assert matplotlib.rcParams["font.family"][0] == "NanumGothic"
    assert (tmp_path / "attention.png").stat().st_size > 5000


def test_default_font_really_lacks_hangul(tmp_path, caplog):
    """The check above can fail: DejaVu Sans alone reports the missing glyphs."""
    import matplotlib.pyplot as plt

    def draw_with_default_font():
        with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
            fig, ax = plt.subplots()
            ax.set_title("고양이")
            fig.canvas.draw()
        return fig

    assert render_capturing_glyph_warnings(draw_with_default_font, tmp_path / "boxes.png", caplog)


def test_head_grid_has_one_panel_per_head_plus_mean(tmp_path):
    scores = np.random.default_rng(1).dirichlet(np.ones(4), size=(3, 6))  # (heads, q, k)
    fig = plotting.plot_attention_heads(scores, list("abcd"), list("uvwxyz"), title="heads")
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 4
    plotting.save_figure(fig, tmp_path / "heads.png")
    assert (tmp_path / "heads.png").exists()


def test_learning_curves_plot_train_and_validation(tmp_path):
    history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8], "val_accuracy": [0.4, 0.7]}
    fig = plotting.plot_learning_curves(history, tmp_path / "curves.png")
    assert len([ax for ax in fig.axes if ax.lines]) == 2
    assert (tmp_path / "curves.png").exists()


def test_head_grid_fills_its_rows_with_one_colour_scale_and_axis_titles():
    scores = np.random.default_rng(2).dirichlet(np.ones(5), size=(4, 3))  # 4 heads + mean = 5 panels
    scores[1, 0] = [0.96, 0.01, 0.01, 0.01, 0.01]
    fig = plotting.plot_attention_heads(scores, list("abcde"), list("xyz"), x_title="key: English",
                                        y_title="query: Korean")
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 5
    assert all(ax.axison for ax in fig.axes)  # no empty, switched-off panel
    rows = sorted({round(ax.get_position().y0, 3) for ax in panels})
    assert len(rows) == 2  # 3 + 2, at most 4 a row
    assert {ax.images[0].get_clim() for ax in panels} == {(0.0, float(np.float32(scores.max())))}
    assert len([ax for ax in fig.axes if not ax.images]) == 1  # one colour bar for the figure
    assert fig.get_supxlabel() == "key: English" and fig.get_supylabel() == "query: Korean"
    assert fig.get_figwidth() <= plotting.MAX_FIGURE_WIDTH + 1


def test_wide_attention_grid_stays_notebook_wide_and_short_hangul_labels_stay_horizontal():
    tokens = [f"word{i}" for i in range(40)]
    fig = plotting.plot_attention_heads(np.full((2, 40, 40), 1 / 40), tokens, tokens)
    assert fig.get_figwidth() * 120 <= 1400  # pixels at the saved 120 dpi
    fig = plotting.plot_attention(np.eye(3), ["카페", "에서", "."], ["나", "는", "."])
    assert {label.get_rotation() for label in fig.axes[0].get_xticklabels()} == {0.0}
    fig = plotting.plot_attention(np.eye(3), ["[START]" * 3, "여기", "."], ["나", "는", "."])
    assert [label.get_rotation() for label in fig.axes[0].get_xticklabels()] == [90.0, 0.0, 0.0]


def test_learning_curves_say_what_each_number_is(tmp_path):
    history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8], "epoch_seconds": [3, 3]}
    fig = plotting.plot_learning_curves(history, ylabels={"accuracy": "target subwords right"})
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "target subwords right"]


def test_block_diagrams_render_in_hangul(tmp_path, caplog):
    missing = render_capturing_glyph_warnings(plotting.plot_transformer_blocks, tmp_path / "b.png", caplog)
    assert missing == []
    fig = plotting.plot_transformer_blocks()
    texts = [[t.get_text() for t in ax.texts] for ax in fig.axes]
    # post-norm: the sum comes before its LayerNorm; pre-norm: LayerNorm feeds the attention
    assert texts[0].count("+") == 2 and texts[1].count("+") == 2
    assert sum("LayerNorm" in t for t in texts[0]) == 2 and sum("LayerNorm" in t for t in texts[1]) == 3
