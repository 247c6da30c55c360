"""Widgets of notebook 08, driven headless: set a control, check the figure's state."""
import numpy as np
import pytest
import torch
from matplotlib.ticker import NullLocator

from nncourse import Linear, Sequential
from nncourse.attention import scaled_dot_product_attention
from nncourse.text import CharVocab
from nncourse.at_scale.gpt import GPT, GPTConfig
from nncourse.transformer import LayerNorm, PositionalEmbedding, TransformerBlock, sinusoidal_positional_encoding
from nncourse.widgets.attention import (
    AttentionExplorer, PositionalEncodingWidget, StampedText, gpt_attention, sequential_attention, token_label,
)
from widget_support import assert_same_as_full_redraw, matplotlib_ticks

DIGITS = 10


def _numpy_model():
    return Sequential(Linear(DIGITS, 8, bias=False, seed=0), PositionalEmbedding(12, 8, seed=1),
                      TransformerBlock(8, 2, seed=2), TransformerBlock(8, 2, seed=3), LayerNorm(8))


def _encode_digits(text):
    if not text.isdigit():
        raise ValueError(f"only digits, got {text!r}")
    return np.eye(DIGITS)[[int(c) for c in text]][None]  # (1, T, 10)


@pytest.fixture
def explorer():
    return AttentionExplorer(sequential_attention(_numpy_model(), _encode_digits), "31415", causal=False)


def test_sequential_attention_returns_each_blocks_weights():
    model = _numpy_model()
    tokens, weights = sequential_attention(model, _encode_digits)("2718", False)
    assert tokens == list("2718") and weights.shape == (2, 2, 4, 4)
    np.testing.assert_allclose(weights.sum(-1), 1)
    # layer 0's weights are those of its own attention on its own input
    x = model[1].forward(model[0].forward(_encode_digits("2718")))
    block = model[2]
    qkv = block.norm1.forward(x) @ block.self_attn.params["in_proj_weight"].T + block.self_attn.params["in_proj_bias"]
    q, k, v = (t.reshape(1, 4, 2, 4).transpose(0, 2, 1, 3) for t in np.split(qkv, 3, axis=-1))
    np.testing.assert_allclose(weights[0], scaled_dot_product_attention(q, k, v)[1][0], atol=1e-12)
    _, causal = sequential_attention(model, _encode_digits)("2718", True)
    assert np.all(np.triu(causal, k=1) == 0)


def test_explorer_menus_and_query_change_the_picture(explorer):
    np.testing.assert_array_equal(explorer.heat.get_array(), explorer.weights[0, 0])
    png = explorer.to_png()
    with explorer.hold():
        explorer.layer.value, explorer.head.value = 1, 1
    np.testing.assert_array_equal(explorer.heat.get_array(), explorer.weights[1, 1])
    assert explorer.ax_heat.title.get_text().startswith("layer 1, head 1")
    # the red frame sits on thumbnail (1, 1) of the mosaic
    step = len(explorer.tokens) + explorer._gap()
    assert explorer.selected.get_bbox().bounds == (step - 0.5, step - 0.5, len(explorer.tokens), len(explorer.tokens))
    np.testing.assert_array_equal(explorer.thumbnail(1, 1), explorer.weights[1, 1])
    explorer.query.value = 2
    heights = [max(y for _, y in path.vertices) for path in explorer.bars.get_paths()]
    np.testing.assert_allclose(heights, explorer.weights[1, 1, 2])
    assert explorer.row.get_y() == 1.5
    assert "Query 2 ('4')" in explorer.status.value
    assert explorer.to_png() != png


def test_explorer_causal_box_removes_the_upper_triangle(explorer):
    assert np.any(np.triu(explorer.weights, k=1) > 0)
    explorer.causal.value = True
    assert np.all(np.triu(explorer.weights, k=1) == 0)
    assert np.all(np.triu(explorer.heat.get_array(), k=1) == 0)
    assert "(causal)" in explorer.ax_heat.title.get_text()
    for i in range(2):
        for h in range(2):
            np.testing.assert_array_equal(explorer.thumbnail(i, h), explorer.weights[i, h])
    repainted = explorer.render().copy()  # the thumbnails were painted into the cached background ...
    explorer.invalidate()
    np.testing.assert_array_equal(repainted, explorer.render())  # ... exactly as a full redraw draws them
    gaps = np.ma.getmaskarray(explorer.thumbs.get_array())  # between the thumbnails: masked (transparent)
    assert gaps.sum() == explorer.thumbs.get_array().size - explorer.weights[:, :, 0].size * len(explorer.tokens)


def test_explorer_new_text_resizes_and_bad_text_is_reported(explorer):
    explorer.query.value = 4
    explorer.text.value = "271"
    assert explorer.tokens == list("271") and explorer.weights.shape[2:] == (3, 3)
    assert explorer.query.max == 2 and explorer.query.value == 2
    for ticks in explorer.token_ticks.values():  # heatmap keys and queries, bar keys
        assert ticks.labels == list("271")
    assert len(explorer.bars.get_paths()) == 3
    explorer.text.value = "abc"
    assert "Cannot read this text" in explorer.status.value and "only digits" in explorer.status.value
    assert explorer.tokens == list("271")  # the last good picture stays
    explorer.text.value = "1" * 13  # longer than the model's 12 positions: the model's own error shows
    assert "longer than max_len=12" in explorer.status.value and explorer.tokens == list("271")


def test_explorer_text_is_cut_to_max_tokens():
    model = _numpy_model()
    w = AttentionExplorer(sequential_attention(model, _encode_digits), "123456789", max_tokens=6)
    assert w.tokens == list("123456")


def test_explorer_errors():
    with pytest.raises(TypeError, match="attend must be a function"):
        AttentionExplorer("not a function", "abc")
    with pytest.raises(ValueError, match="only digits"):
        AttentionExplorer(sequential_attention(_numpy_model(), _encode_digits), "abc")
    with pytest.raises(ValueError, match=r"weights \(layers, heads, T, T\)"):
        AttentionExplorer(lambda text, causal: (list(text), np.ones((len(text), len(text)))), "abc")


def test_gpt_attention_adapter_and_labels():
    vocab = CharVocab("abc ,$\n")
    model = GPT(GPTConfig(vocab_size=vocab.size, block_size=16, n_layer=2, n_head=2, n_embd=8, dropout=0.0))
    attend = gpt_attention(model, vocab)
    tokens, weights = attend("ab c", True)
    assert tokens == list("ab c") and weights.shape == (2, 2, 4, 4)
    expected = model.attention_maps(torch.from_numpy(vocab.encode("ab c"))[None])[:, 0].numpy()
    np.testing.assert_allclose(weights, expected)
    w = AttentionExplorer(attend, "a $b\nc", causal=True)
    assert w.token_ticks["bar x"].labels == ["a", "␣", r"\$", "b", "\\n", "c"]
    w.causal.value = False
    assert np.any(np.triu(w.weights, k=1) > 0)
    assert token_label(" ") == "␣"


def test_explorer_new_text_redraws_what_a_fresh_explorer_shows():
    attend = sequential_attention(_numpy_model(), _encode_digits)
    explorer = AttentionExplorer(attend, "31415926", causal=False)
    explorer.to_png()
    for text in ["2718", "141421356", "577"]:
        explorer.text.value = text
        T = len(text)
        assert explorer.ax_heat.get_xlim() == (-0.5, T - 0.5) and explorer.ax_heat.get_ylim() == (T - 0.5, -0.5)
        for ticks in explorer.token_ticks.values():
            assert ticks.labels == list(text)
            np.testing.assert_array_equal(ticks.positions, np.arange(T))
        np.testing.assert_array_equal(explorer.heat.get_array(), attend(text, False)[1][0, 0])
        for i in range(2):
            for h in range(2):
                np.testing.assert_array_equal(explorer.thumbnail(i, h), explorer.weights[i, h])
        assert_same_as_full_redraw(explorer)  # thumbnails, their L/h labels, token labels, axis titles
    fresh = AttentionExplorer(attend, "577", causal=False)
    with fresh.hold():
        fresh.query.value = explorer.query.value
    np.testing.assert_array_equal(explorer.render(), fresh.render())


def test_gpt_attention_runs_on_one_thread_and_gives_the_thread_count_back():
    vocab = CharVocab("abc ")
    model = GPT(GPTConfig(vocab_size=vocab.size, block_size=8, n_layer=1, n_head=2, n_embd=8, dropout=0.0))
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        _, weights = gpt_attention(model, vocab)("abc", True)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert weights.shape == (1, 2, 3, 3) and model.training  # the model's mode is left as it was


def test_positional_encoding_widget_follows_the_sliders():
    w = PositionalEncodingWidget(d_model=16, max_len=30, position=5)
    np.testing.assert_allclose(w.pe_image.get_array(), sinusoidal_positional_encoding(30, 16))
    pe = sinusoidal_positional_encoding(30, 16)
    np.testing.assert_allclose(w.sim_image.get_array(), pe @ pe.T / 8)
    np.testing.assert_allclose(w.row_line.get_ydata(), (pe @ pe.T / 8)[5])
    w.position.value = 12
    np.testing.assert_allclose(w.row_line.get_ydata(), (pe @ pe.T / 8)[12])
    assert list(w.row_point.get_xdata()) == [12, 12] and "row p = 12" in w.ax_row.title.get_text()
    with w.hold():
        w.d_model.value, w.max_len.value = 8, 10
    assert w.pe_image.get_array().shape == (10, 8) and w.sim_image.get_array().shape == (10, 10)
    assert w.position.max == 9 and w.position.value == 9
    assert w.ax_pe.get_xlim() == (-0.5, 7.5)
    # the similarity depends only on the distance between positions (a Toeplitz matrix)
    sim = w.sim_image.get_array()
    for offset in range(-9, 10):
        diagonal = np.diagonal(sim, offset)
        np.testing.assert_allclose(diagonal, diagonal[0], atol=1e-12)
    assert "d_model = 8, 10 positions" in w.status.value


def test_explorer_labels_stay_inside_the_figure():
    # with one head the thumbnail is wide; a row label placed at a fraction of its width fell off the
    # left edge. The labels are stamped (StampedText) where matplotlib draws them.
    one_head = Sequential(Linear(DIGITS, 8, bias=False, seed=0), TransformerBlock(8, 1, seed=2))
    explorer = AttentionExplorer(sequential_attention(one_head, _encode_digits), "31415926", causal=False)
    explorer.to_png()
    assert [stamp.text.get_text() for stamp in explorer.thumb_labels] == ["L0", "h0"]
    assert_stamped_as_matplotlib_draws(explorer, explorer.thumb_labels)  # leaves the texts drawn by matplotlib
    renderer = explorer.fig.canvas.get_renderer()
    for stamp, offset in zip(explorer.thumb_labels, [(-3, 0), (0, 2)]):
        text = stamp.text
        box = text.get_window_extent(renderer)
        assert box.x0 >= 0 and box.y1 <= explorer.fig.bbox.y1, text.get_text()
        # where an annotation "offset points" from the label's point puts it
        annotation = explorer.ax_thumbs.annotate(text.get_text(), xy=text.get_position(), xytext=offset,
                                                 textcoords="offset points", fontsize=8, ha=text.get_ha(),
                                                 va=text.get_va(), annotation_clip=False)
        np.testing.assert_allclose(annotation.get_window_extent(renderer).bounds, box.bounds, atol=1e-6)
        annotation.remove()


def test_positional_encoding_sizes_repaint_the_axes_as_matplotlib_draws_them():
    w = PositionalEncodingWidget(d_model=64, max_len=100, position=30)
    w.to_png()
    for d_model, max_len in [(256, 100), (256, 230), (18, 12), (2, 4)]:
        with w.hold():
            w.d_model.value, w.max_len.value = d_model, max_len
        pe = sinusoidal_positional_encoding(max_len, d_model)
        np.testing.assert_allclose(w.pe_image.get_array(), pe)
        np.testing.assert_allclose(w.sim_image.get_array(), pe @ pe.T / (d_model / 2))
        for ticks in w.ticks:  # dimension, position (x2), position q (x2): the numbers matplotlib picks
            assert list(zip(ticks.positions, ticks.labels)) == matplotlib_ticks(ticks.ax, ticks.which, ticks.locator)
            # whole dimensions and positions only, even on the smallest axes (not 0.5, 1.5 or 2.5)
            assert all(float(p).is_integer() and "." not in label for p, label in zip(ticks.positions, ticks.labels))
        assert_same_as_full_redraw(w)


def _ink(pixels):
    """Bounding box (top, bottom, left, right) of the non-white pixels and their total darkness."""
    dark = 255 - pixels[..., :3].min(axis=-1).astype(int)
    rows, columns = np.nonzero(dark)
    return np.array([rows.min(), rows.max(), columns.min(), columns.max()]), dark.sum()


def assert_stamped_as_matplotlib_draws(widget, stamps):
    """Each StampedText of ``stamps`` puts its ink where matplotlib draws its text, to the nearest
    pixel, with the same glyphs (ink within 5 %): the widget's picture against the one with the stamps
    hidden and their texts drawn by matplotlib (left so, for the caller's further checks)."""
    def picture():
        widget.fig.canvas.draw()
        return np.asarray(widget.fig.canvas.buffer_rgba()).copy()

    stamped = picture()
    for stamp in stamps:
        stamp.set_visible(False)
        stamp.text.set_visible(True), stamp.text.set_animated(False)
    drawn = picture()
    renderer = widget.fig.canvas.get_renderer()
    height = stamped.shape[0]
    for stamp in stamps:
        box = stamp.text.get_window_extent(renderer).padded(3)
        crop = np.s_[int(height - box.y1):int(height - box.y0), int(box.x0):int(box.x1)]
        (box_stamped, ink_stamped), (box_drawn, ink_drawn) = _ink(stamped[crop]), _ink(drawn[crop])
        assert np.abs(box_stamped - box_drawn).max() <= 1, stamp.text.get_text()  # to the nearest pixel
        assert abs(ink_stamped - ink_drawn) <= 0.05 * ink_drawn, stamp.text.get_text()  # the same glyphs


@pytest.mark.parametrize("setup", [
    lambda ax: ax.set_title("query 7 '\\n' attends to ...", fontsize=10),
    lambda ax: ax.set_xlabel("key (attended to)"),
    lambda ax: ax.set_ylabel("query (attending)"),  # rotated, rotation_mode="anchor"
])
def test_stamped_text_draws_the_text_where_matplotlib_does(setup):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def picture(stamped):
        fig = Figure(figsize=(4, 3), dpi=80)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.25, 0.25, 0.6, 0.6))
        ax.spines[:].set_visible(False)  # the text alone
        ax.xaxis.set_major_locator(NullLocator()), ax.yaxis.set_major_locator(NullLocator())
        setup(ax)
        text = ax.title if ax.title.get_text() else ax.xaxis.label if ax.xaxis.label.get_text() else ax.yaxis.label
        is_title = text is ax.title
        stamp = StampedText(text, axes=None if is_title else ax) if stamped else None
        fig.canvas.draw()
        if stamp is not None and is_title:  # as the widgets use a title: animated, drawn over the rest
            fig.draw_artist(stamp)
        return np.asarray(fig.canvas.buffer_rgba()).copy()

    (box, ink), (stamped_box, stamped_ink) = _ink(picture(False)), _ink(picture(True))
    assert np.abs(stamped_box - box).max() <= 1  # the same place, to the nearest pixel
    assert abs(stamped_ink - ink) <= 0.05 * ink   # the same glyphs


def test_positional_encoding_axis_labels_are_stamped_where_matplotlib_draws_them():
    w = PositionalEncodingWidget(d_model=64, max_len=100, position=30)
    with w.hold():
        w.d_model.value, w.max_len.value = 256, 230  # wider tick labels: the y labels move left
    w.to_png()
    assert_stamped_as_matplotlib_draws(w, w.axis_labels)


@pytest.mark.parametrize("shape, origin, stage", [((100, 49), "lower", "rgba"), ((40, 40), "upper", "data"),
                                                  ((7, 3), "lower", "data"), ((175, 130), "upper", "rgba")])
def test_nearest_image_draws_what_imshow_draws(shape, origin, stage):
    """The heatmaps of both explorers (NearestImage) equal matplotlib's imshow pixel for pixel, also
    with NaN cells (transparent), a colour bar, and part of the image outside the axes."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from nncourse.widgets.drawing import NearestImage, nearest_imshow

    rng = np.random.default_rng(sum(shape))
    data = rng.random(shape) * 1.4 - 0.2
    data[rng.random(shape) < 0.1] = np.nan
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad=(0.0, 0.0, 0.0, 0.0))
    pictures = []
    for show in (lambda ax, d, **kw: ax.imshow(d, interpolation="nearest", **kw), nearest_imshow):
        fig = Figure(figsize=(5, 4), dpi=80)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        image = show(ax, data, cmap=cmap, vmin=0, vmax=1, origin=origin, aspect="auto")
        fig.colorbar(image, ax=ax)
        fig.canvas.draw()
        pictures.append(np.asarray(fig.canvas.buffer_rgba()).copy())
        pixels_per_cell = np.abs(np.diff(image.get_transform().transform([[0, 0], shape[::-1]]), axis=0))[0] / shape[::-1]
        assert ("rgba" if (pixels_per_cell < 3).any() else "data") == stage  # both of matplotlib's ways covered
        ax.set_xlim(shape[1] / 3, shape[1] - 0.5)  # clipped by the axes
        image.set_data(data[::-1])                 # same geometry, new colours: the kept map
        fig.canvas.draw()
        pictures.append(np.asarray(fig.canvas.buffer_rgba()).copy())
    assert isinstance(image, NearestImage)
    np.testing.assert_array_equal(pictures[0], pictures[2])
    np.testing.assert_array_equal(pictures[1], pictures[3])
