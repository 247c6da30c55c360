"""Kernel explorer (notebook 06): slide a 3x3 kernel over a real photograph or a digit.

Left: the input with its zero padding (outside the dashed frame) and, in red, the receptive
field of the selected output pixel. Middle: the 3x3 kernel - pick a preset or type the nine
weights. Right: the output feature map, its shape from the output-size formula, and the
selected pixel. The output is drawn on the input's grid - each output pixel over the centre of
its window, ``stride`` input pixels wide - so the two pictures line up and one sees the
map shrink with stride and grow with padding. The status line shows the sum behind the
selected pixel.

The output is computed with :func:`nncourse.cnn.conv2d_forward`, the same im2col convolution
the course's ``Conv2d`` layer uses (a cross-correlation, like PyTorch's: no kernel flip).
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from ..cnn import conv2d_forward, output_size
from .base import FigureWidget

# Preset 3x3 kernels. They are applied as cross-correlations (as every deep-learning library
# does): a kernel typed into the grid is not flipped. No Sobel presets: notebook 06 asks the
# learner for the Sobel x kernel (an exercise), to be typed into the grid.
KERNELS: dict[str, np.ndarray] = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=float),
    "box blur": np.full((3, 3), 1 / 9),
    "Gaussian blur": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=float) / 16,
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=float),
    "Laplacian": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=float),
    "emboss": np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], dtype=float),
}
IMAGES = ["photo (Grace Hopper, 75x64)", "digit (8x8)"]
MAX_STRIDE = 3
MAX_PADDING = 3


def sample_photo(block: int = 8) -> np.ndarray:
    """Grace Hopper's portrait, shipped with matplotlib (offline), as grey levels in [0, 1].

    The 600x512 photo is averaged over ``block`` x ``block`` squares: (600 // block, 512 // block).
    """
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as file:
        grey = np.asarray(Image.open(file).convert("L"), dtype=float) / 255.0  # (600, 512)
    h, w = grey.shape[0] // block, grey.shape[1] // block
    return grey[: h * block, : w * block].reshape(h, block, w, block).mean(axis=(1, 3))  # (h, w)


def sample_digit(index: int = 3) -> np.ndarray:
    """One of scikit-learn's bundled 8x8 digits (a 3 by default), grey levels in [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images[list(digits.target).index(index)] / 16.0  # (8, 8)


def load_image(name: str) -> np.ndarray:
    if name not in IMAGES:
        raise ValueError(f"image must be one of {IMAGES}, got {name!r}")
    return sample_photo() if name.startswith("photo") else sample_digit()


class KernelExplorer(FigureWidget):
    """A 3x3 convolution, live: preset or hand-typed kernel, stride, padding, selected output pixel."""

    def __init__(self, image: str = IMAGES[0], kernel: str = "box blur", *,
                 stride: int = 1, padding: int = 1):
        super().__init__(figsize=(10.5, 4.0))
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {list(KERNELS)}, got {kernel!r}")
        if image not in IMAGES:
            raise ValueError(f"image must be one of {IMAGES}, got {image!r}")
        if stride not in range(1, MAX_STRIDE + 1) or padding not in range(0, MAX_PADDING + 1):
            raise ValueError(f"stride must be 1..{MAX_STRIDE} and padding 0..{MAX_PADDING}, "
                             f"got stride={stride!r}, padding={padding!r}")
        self.image = widgets.Dropdown(options=IMAGES, value=image, description="image")
        # "custom" is shown (not chosen) once a typed weight leaves every preset, so that picking a
        # preset again is a real change of the dropdown and refills the grid.
        self.preset = widgets.Dropdown(options=[*KERNELS, "custom"], value=kernel, description="preset")
        self.weights = [widgets.FloatText(value=float(v), step=0.25, layout=widgets.Layout(width="72px"))
                        for v in KERNELS[kernel].ravel()]
        self.stride = widgets.IntSlider(value=stride, min=1, max=MAX_STRIDE, description="stride")
        self.padding = widgets.IntSlider(value=padding, min=0, max=MAX_PADDING, description="padding")
        self.row = widgets.IntSlider(value=0, min=0, max=0, description="out row")
        self.col = widgets.IntSlider(value=0, min=0, max=0, description="out col")
        grid = widgets.GridBox(self.weights, layout=widgets.Layout(
            grid_template_columns="repeat(3, 76px)", grid_gap="2px"))
        self.controls = widgets.VBox([
            widgets.HBox([self.image, self.preset]),
            widgets.HBox([widgets.VBox([widgets.HTML("<b>kernel weights</b>"), grid]),
                          widgets.VBox([self.stride, self.padding]),
                          widgets.VBox([self.row, self.col])]),
            self.status,
        ])
        self.preset.observe(self._on_preset, names="value")
        self.observe(*self.weights, handler=self._on_weight)
        self.image.observe(self._on_geometry, names="value")
        self.stride.observe(self._on_geometry, names="value")
        self.padding.observe(self._on_geometry, names="value")
        self.observe(*self.weights, self.row, self.col)

        self.ax_in, self.ax_k, self.ax_out = self.fig.subplots(
            1, 3, gridspec_kw={"width_ratios": [1.0, 0.62, 1.0]})
        self.input_image = self.ax_in.imshow(np.zeros((2, 2)), cmap="gray", vmin=0, vmax=1,
                                             interpolation="nearest")
        self.ax_in.xaxis.set_major_locator(MaxNLocator(integer=True))  # pixel indices
        self.ax_in.yaxis.set_major_locator(MaxNLocator(integer=True))
        self.frame = Rectangle((0, 0), 1, 1, fill=False, ls="--", lw=1.2, ec="#f59322")
        self.field = Rectangle((0, 0), 3, 3, fill=False, lw=2, ec="red")
        self.ax_in.add_patch(self.frame)
        self.ax_in.add_patch(self.field)
        self.kernel_image = self.ax_k.imshow(np.zeros((3, 3)), cmap="RdBu_r", vmin=-1, vmax=1)
        self.kernel_text = [[self.ax_k.text(j, i, "", ha="center", va="center", fontsize=10)
                             for j in range(3)] for i in range(3)]
        self.ax_k.set_xticks([])
        self.ax_k.set_yticks([])
        self.output_image = self.ax_out.imshow(np.zeros((2, 2)), cmap="gray", interpolation="nearest")
        self.ax_out.set_xticks([])
        self.ax_out.set_yticks([])
        self.pixel = Rectangle((0, 0), 1, 1, fill=False, lw=2, ec="red")
        self.ax_out.add_patch(self.pixel)
        for ax in (self.ax_in, self.ax_k, self.ax_out):
            ax.set_title(" ", fontsize=10)
        # Fixed explanations stay in the cached background; the short titles are redrawn each time.
        self.ax_in.set_xlabel("red: receptive field · dashed: the image,\nzero padding outside it", fontsize=9)
        self.ax_k.set_xlabel("cross-correlation: no flip", fontsize=9)
        self.ax_out.set_xlabel("on the input's grid; size per axis\n⌊(n + 2·padding − 3)/stride⌋ + 1", fontsize=9)
        self.fig.subplots_adjust(left=0.04, right=0.99, bottom=0.16, top=0.9, wspace=0.18)
        texts = [t for row in self.kernel_text for t in row]
        # Everything that changes with the kernel, stride, padding or selected pixel is drawn over
        # a cached background; the axis limits only change with the image (a full redraw).
        self.animate(self.input_image, self.frame, self.field, self.kernel_image, *texts,
                     self.output_image, self.pixel, self.ax_in.title, self.ax_k.title, self.ax_out.title)
        self._load_image()
        self._fit_pixel_sliders(centre=True)
        self.update()

    # --- state -----------------------------------------------------------------------------
    @property
    def kernel(self) -> np.ndarray:
        """The current 3x3 kernel, read from the weight grid."""
        return np.array([w.value for w in self.weights], dtype=float).reshape(3, 3)

    @property
    def kernel_name(self) -> str:
        """The preset the grid holds, or "custom"."""
        kernel = self.kernel
        return next((name for name, k in KERNELS.items() if np.allclose(k, kernel)), "custom")

    @property
    def output_shape(self) -> tuple[int, int]:
        h, w = self.picture.shape
        s, p = self.stride.value, self.padding.value
        return output_size(h, 3, s, p), output_size(w, 3, s, p)

    def _load_image(self):
        self.picture = load_image(self.image.value)  # (H, W) in [0, 1]
        h, w = self.picture.shape
        margin = MAX_PADDING + 0.5 + 0.02 * max(h, w)  # room for the widest padding
        for ax in (self.ax_in, self.ax_out):           # the same frame: the two pictures line up
            ax.set_xlim(-margin, w - 1 + margin)
            ax.set_ylim(h - 1 + margin, -margin)
        self.invalidate()

    def _window_centre(self, index: int, stride: int, padding: int) -> int:
        """The input pixel at the centre of output pixel ``index``'s 3x3 window (one axis)."""
        return stride * index + 1 - padding

    def _fit_pixel_sliders(self, centre: bool = False, old_geometry: tuple[int, int] | None = None):
        """Keep the selected output pixel inside the (new) output map. After a stride or padding
        change, select the output pixel whose window is centred nearest the same input pixel, so
        the red square stays where it was instead of jumping to a corner."""
        out_h, out_w = self.output_shape
        s, p = self.stride.value, self.padding.value
        for slider, size in ((self.row, out_h), (self.col, out_w)):
            if centre:
                value = size // 2
            elif old_geometry is not None:
                where = self._window_centre(slider.value, *old_geometry)   # input pixel it looked at
                value = int(np.clip(np.floor((where - 1 + p) / s + 0.5), 0, size - 1))
            else:
                value = min(slider.value, size - 1)
            if value > slider.max:
                slider.max = size - 1
                slider.value = value
            else:
                slider.value = value
                slider.max = size - 1

    def _on_preset(self, change):
        if change["new"] == "custom":  # set by _on_weight: the grid already holds the kernel
            return
        with self.hold(), self.quietly():  # the grid follows the preset; draw once, at the end
            for box, value in zip(self.weights, KERNELS[change["new"]].ravel()):
                box.value = float(value)

    def _on_weight(self, change):
        self.preset.value = self.kernel_name  # "custom", or the preset a typed grid matches

    def _on_geometry(self, change):
        with self.hold():
            if change["owner"] is self.image:
                self._load_image()
                self._fit_pixel_sliders(centre=True)
            else:
                old = {self.stride: (change["old"], self.padding.value),
                       self.padding: (self.stride.value, change["old"])}[change["owner"]]
                self._fit_pixel_sliders(old_geometry=old)

    # --- the computation -------------------------------------------------------------------
    def feature_map(self) -> np.ndarray:
        """The output map (Ho, Wo): the picture convolved with the kernel (stride, padding)."""
        x = self.picture[None, None]                      # (1, 1, H, W)
        weight = self.kernel[None, None]                  # (out=1, in=1, 3, 3)
        out, _ = conv2d_forward(x, weight, None, self.stride.value, self.padding.value)
        return out[0, 0]                                  # (Ho, Wo)

    def receptive_field(self) -> tuple[slice, slice]:
        """Rows and columns of the input (in original coordinates; negative = padding) that the
        selected output pixel sees: rows s*i - p ... s*i - p + 2."""
        s, p = self.stride.value, self.padding.value
        top, left = s * self.row.value - p, s * self.col.value - p
        return slice(top, top + 3), slice(left, left + 3)

    def window(self) -> np.ndarray:
        """The 3x3 input values under the kernel for the selected output pixel (zeros in the padding)."""
        p = self.padding.value
        padded = np.pad(self.picture, p)
        rows, cols = self.receptive_field()
        return padded[rows.start + p : rows.stop + p, cols.start + p : cols.stop + p]

    # --- drawing ---------------------------------------------------------------------------
    @staticmethod
    def _set_title(ax, text: str) -> None:
        ax.set_title(text, fontsize=10)

    def update(self):
        h, w = self.picture.shape
        s, p = self.stride.value, self.padding.value
        out = self.feature_map()
        out_h, out_w = out.shape

        # input with its zero border: pixel (r, c) of the original sits at x = c, y = r
        self.input_image.set_data(np.pad(self.picture, p))
        self.input_image.set_extent((-p - 0.5, w + p - 0.5, h + p - 0.5, -p - 0.5))
        self.frame.set_bounds(-0.5, -0.5, w, h)
        self.frame.set_visible(p > 0)
        rows, cols = self.receptive_field()
        self.field.set_xy((cols.start - 0.5, rows.start - 0.5))
        self._set_title(self.ax_in, f"input {h}x{w}, padding {p}")

        kernel = self.kernel
        scale = max(1e-9, float(np.abs(kernel).max()))
        self.kernel_image.set_data(kernel)
        self.kernel_image.set_clim(-scale, scale)
        for i in range(3):
            for j in range(3):
                value = kernel[i, j]
                text = self.kernel_text[i][j]
                text.set_text(f"{value:.2f}".rstrip("0").rstrip(".") if value != 0 else "0")
                text.set_color("white" if abs(value) > 0.6 * scale else "black")
        self._set_title(self.ax_k, f"kernel: {self.kernel_name}")

        # Output pixel (i, j) is drawn s input pixels wide, centred on its window's centre
        # (s*i - p + 1, s*j - p + 1) on the input's grid.
        self.output_image.set_data(out)
        left, top = -p + 1 - s / 2, -p + 1 - s / 2
        self.output_image.set_extent((left, left + s * out_w, top + s * out_h, top))
        low, high = float(out.min()), float(out.max())
        self.output_image.set_clim(low, high if high > low else low + 1e-9)
        self.pixel.set_bounds(left + s * self.col.value, top + s * self.row.value, s, s)
        self._set_title(self.ax_out, f"output {out_h}x{out_w}")

        value = out[self.row.value, self.col.value]
        r, c = np.arange(rows.start, rows.stop)[:, None], np.arange(cols.start, cols.stop)[None, :]
        in_padding = int(np.sum((r < 0) | (r >= h) | (c < 0) | (c >= w)))
        self.status.value = (
            f"Output shape: ⌊({h} + 2·{p} − 3)/{s}⌋ + 1 = <b>{out_h}</b> rows, "
            f"⌊({w} + 2·{p} − 3)/{s}⌋ + 1 = <b>{out_w}</b> columns.<br>"
            f"out[{self.row.value}, {self.col.value}] = Σ window ⊙ kernel = <b>{value:.3f}</b> - the window "
            f"covers input rows {rows.start}…{rows.stop - 1} and columns {cols.start}…{cols.stop - 1}"
            + (f"; {in_padding} of its 9 pixels are padding zeros" if in_padding else "") + ".")
