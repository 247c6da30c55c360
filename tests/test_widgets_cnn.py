"""Kernel explorer (notebook 06), driven headless: set a control, check the figure's state."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nncourse.widgets.cnn import IMAGES, KERNELS, KernelExplorer, sample_digit, sample_photo


@pytest.fixture(scope="module")
def photo():
    return sample_photo()


def _torch_output(picture, kernel, stride, padding):
    x = torch.from_numpy(picture)[None, None]
    return F.conv2d(x, torch.from_numpy(kernel)[None, None], stride=stride, padding=padding)[0, 0].numpy()


def test_sample_images_are_real_and_offline(photo):
    assert photo.shape == (75, 64) and 0 <= photo.min() < 0.2 and 0.8 < photo.max() <= 1
    assert photo.std() > 0.15  # a photograph, not a blank
    digit = sample_digit(3)
    assert digit.shape == (8, 8) and digit.max() > 0.9 and digit.min() == 0


def test_initial_state_is_the_box_blur_on_the_photo(photo):
    w = KernelExplorer()
    np.testing.assert_array_equal(w.kernel, KERNELS["box blur"])
    np.testing.assert_allclose(w.output_image.get_array(), _torch_output(photo, w.kernel, 1, 1), atol=1e-12)
    assert w.output_shape == (75, 64) and (w.row.value, w.col.value) == (37, 32)  # centre pixel selected


def test_no_preset_gives_away_the_sobel_exercise_but_typing_it_works(photo):
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)
    assert not any(np.allclose(np.abs(k), np.abs(sobel_x)) or np.allclose(np.abs(k), np.abs(sobel_x.T))
                   for k in KERNELS.values())
    w = KernelExplorer()
    with w.hold():
        for box, value in zip(w.weights, sobel_x.ravel()):
            box.value = value
    np.testing.assert_array_equal(w.kernel, sobel_x)
    np.testing.assert_allclose(w.output_image.get_array(), _torch_output(photo, sobel_x, 1, 1), atol=1e-12)
    assert w.preset.value == "custom" and w.ax_k.get_title() == "kernel: custom"


def test_preset_fills_the_grid_and_the_output_follows(photo):
    w = KernelExplorer()
    n = len(w.update_seconds)
    w.preset.value = "Gaussian blur"
    assert len(w.update_seconds) == n + 1  # nine boxes changed, one redraw
    np.testing.assert_allclose(w.kernel, KERNELS["Gaussian blur"])
    np.testing.assert_allclose(w.kernel_image.get_array(), KERNELS["Gaussian blur"])
    np.testing.assert_allclose(w.output_image.get_array(), _torch_output(photo, w.kernel, 1, 1), atol=1e-12)
    assert w.ax_k.get_title() == "kernel: Gaussian blur"
    assert w.kernel_text[1][1].get_text() == "0.25"


def test_editing_one_weight_makes_a_custom_kernel(photo):
    w = KernelExplorer(kernel="identity")
    np.testing.assert_allclose(w.output_image.get_array(), photo, atol=1e-12)  # identity: output = input
    w.weights[4].value = 2.0  # centre weight
    np.testing.assert_allclose(w.output_image.get_array(), 2 * photo, atol=1e-12)
    assert w.ax_k.get_title() == "kernel: custom" and w.kernel_text[1][1].get_text() == "2"


@pytest.mark.parametrize("stride, padding", [(2, 0), (3, 1), (2, 3), (1, 0)])
def test_stride_and_padding_change_the_shape_as_the_formula_says(photo, stride, padding):
    w = KernelExplorer()
    with w.hold():
        w.stride.value, w.padding.value = stride, padding
    expected = _torch_output(photo, w.kernel, stride, padding)
    assert w.output_shape == expected.shape == w.output_image.get_array().shape
    np.testing.assert_allclose(w.output_image.get_array(), expected, atol=1e-12)
    assert f"output {expected.shape[0]}x{expected.shape[1]}" in w.ax_out.get_title()
    assert w.row.max == expected.shape[0] - 1 and w.col.max == expected.shape[1] - 1
    # The padded input is drawn, with zeros around the picture.
    shown = w.input_image.get_array()
    assert shown.shape == (75 + 2 * padding, 64 + 2 * padding)
    if padding:
        assert np.all(shown[:padding] == 0) and np.all(shown[:, -padding:] == 0)


def test_receptive_field_of_the_selected_pixel(photo):
    w = KernelExplorer()
    with w.hold():
        w.stride.value, w.padding.value = 2, 1
        w.row.value, w.col.value = 5, 7
    rows, cols = w.receptive_field()
    assert (rows.start, cols.start) == (2 * 5 - 1, 2 * 7 - 1)  # s*i - p
    assert w.field.get_xy() == (cols.start - 0.5, rows.start - 0.5)
    assert (w.field.get_width(), w.field.get_height()) == (3, 3)
    # The output pixel is drawn on the input's grid, 2 pixels wide, centred on its window's centre.
    x, y = w.pixel.get_xy()
    assert (w.pixel.get_width(), w.pixel.get_height()) == (2, 2)
    assert (x + 1, y + 1) == (cols.start + 1, rows.start + 1)
    value = np.sum(photo[rows, cols] * w.kernel)  # what the status line explains
    assert np.isclose(value, w.output_image.get_array()[5, 7])
    assert f"<b>{value:.3f}</b>" in w.status.value
    w.col.value = 0  # window half in the padding
    assert "3 of its 9 pixels are padding zeros" in w.status.value


def test_selected_pixel_stays_inside_a_shrinking_output():
    w = KernelExplorer()
    w.col.value = w.col.max  # last column
    w.stride.value = 3       # the output shrinks to 25x22
    assert w.output_shape == (25, 22) and w.col.value == 21 and w.row.value <= 24


def test_switching_to_the_digit():
    w = KernelExplorer()
    w.image.value = IMAGES[1]
    assert w.picture.shape == (8, 8) and w.output_shape == (8, 8)
    assert (w.row.value, w.col.value) == (4, 4)  # re-centred
    assert w.input_image.get_array().shape == (10, 10)


def test_picture_changes_when_controls_change():
    w = KernelExplorer()
    before = w.to_png()
    w.preset.value = "emboss"
    after = w.to_png()
    assert before != after and after[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_arguments():
    with pytest.raises(ValueError, match="kernel must be one of"):
        KernelExplorer(kernel="blurry")
    with pytest.raises(ValueError, match="image must be one of"):
        KernelExplorer(image="cat")
    with pytest.raises(ValueError, match=r"stride must be 1..3 and padding 0..3, got stride=5, padding=1"):
        KernelExplorer(stride=5)
    with pytest.raises(ValueError, match=r"got stride=1, padding=-1"):
        KernelExplorer(padding=-1)


def test_the_preset_dropdown_follows_typed_weights_and_can_restore_the_preset():
    w = KernelExplorer(kernel="emboss")
    emboss_output = w.output_image.get_array().copy()
    w.weights[0].value = 5.0
    assert w.preset.value == "custom" and w.ax_k.get_title() == "kernel: custom"
    w.preset.value = "emboss"                     # picking the preset again restores it
    np.testing.assert_array_equal(w.kernel, KERNELS["emboss"])
    np.testing.assert_allclose(w.output_image.get_array(), emboss_output)
    w.weights[0].value = 5.0
    w.weights[0].value = -2.0                     # typing a preset's weights back names it again
    assert w.preset.value == "emboss"
    w.preset.value = "box blur"                   # refilling the grid never passes through "custom"
    assert w.preset.value == "box blur" and w.ax_k.get_title() == "kernel: box blur"


@pytest.mark.parametrize("control, value", [("stride", 2), ("stride", 3), ("padding", 0), ("padding", 3)])
def test_stride_or_padding_keep_the_receptive_field_where_it_was(control, value):
    w = KernelExplorer()                                  # stride 1, padding 1: centre pixel (37, 32)
    w.row.value, w.col.value = 20, 40                     # window centred on input pixel (20, 40)
    getattr(w, control).value = value
    s, p = w.stride.value, w.padding.value
    centre = (s * w.row.value + 1 - p, s * w.col.value + 1 - p)
    assert abs(centre[0] - 20) <= s // 2 and abs(centre[1] - 40) <= s // 2  # the nearest output pixel
    assert "window covers input rows" in w.status.value
