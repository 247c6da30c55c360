"""Notebook 06's later sections: receptive fields (checked by autograd), global average pooling,
shifted images, the effective receptive field, the GAP CNN - and the ResNet block (nncourse.cnn,
nncourse.at_scale.cnn) against PyTorch."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nncourse import ReLU, Sequential, Tanh, compare_with_torch, gradcheck
from nncourse.at_scale.cnn import BasicBlock, PlainBlock, gap_cnn, input_gradient_of_centre, small_resnet
from nncourse.cnn import (
    AvgPool2d, Conv2d, Flatten, GlobalAvgPool2d, MaxPool2d, ResidualBlock, receptive_field, receptive_field_sizes,
    shift_images,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- receptive fields ----------------------------------------------------------------------------------------
def _autograd_field(module, size=48):
    """Height and width of the non-zero input gradient of the centre unit of channel 0."""
    x = torch.randn(1, 1, size, size, dtype=torch.float64, generator=torch.Generator().manual_seed(0),
                    requires_grad=True)
    out = module(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows, cols = np.nonzero(x.grad[0, 0].numpy())
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


STACKS = [
    [Conv2d(1, 3, 3, padding=1), Tanh(), Conv2d(3, 2, 3, padding=1)],
    [Conv2d(1, 3, 5, padding=2), Tanh(), AvgPool2d(2), Conv2d(3, 2, 3)],
    [Conv2d(1, 3, 3, stride=2, padding=1), Tanh(), Conv2d(3, 3, 3, stride=2), Tanh(), Conv2d(3, 2, 3, padding=1)],
    [Conv2d(1, 3, 7, stride=3), Tanh(), AvgPool2d(3, stride=2), Conv2d(3, 2, 1)],
    [Conv2d(1, 2, 1)],
]


@pytest.mark.parametrize("layers", STACKS, ids=lambda layers: "-".join(type(l).__name__ for l in layers))
def test_receptive_field_is_the_non_zero_gradient_region(layers):
    size = receptive_field(layers)[-1]
    twin = Sequential(*layers).astype(np.float64).to_torch()
    assert _autograd_field(twin) == (size, size)


def test_receptive_field_per_layer_and_pairs():
    layers = [Conv2d(1, 2, 3), ReLU(), MaxPool2d(2), Conv2d(2, 2, 5)]
    assert receptive_field(layers) == [3, 3, 4, 12]
    assert receptive_field(Sequential(*layers)) == [3, 3, 4, 12]
    assert receptive_field([(3, 1), (2, 2), (5, 1)]) == [3, 4, 12]
    assert receptive_field_sizes([3] * 4, [1] * 4) == [3, 5, 7, 9]           # +2 per 3x3 layer
    assert receptive_field_sizes([11, 3, 5], [4, 2, 1]) == [11, 19, 51]      # AlexNet's first layers
    assert receptive_field([ReLU()]) == [1]


def test_receptive_field_errors():
    with pytest.raises(ValueError, match="at least one layer"):
        receptive_field([])
    with pytest.raises(ValueError, match="whole image"):
        receptive_field([Conv2d(1, 1, 3), Flatten()])
    with pytest.raises(TypeError, match="list of layers"):
        receptive_field(Conv2d(1, 1, 3))
    with pytest.raises(TypeError, match="layers or \\(kernel_size, stride\\) pairs"):
        receptive_field(["conv"])
    with pytest.raises(ValueError, match="positive integer"):
        receptive_field([(3, 0)])


# --- global average pooling and shifts -----------------------------------------------------------------------
def test_global_avg_pool_matches_torch():
    x = np.random.default_rng(0).standard_normal((3, 4, 5, 6))
    layer = GlobalAvgPool2d()
    np.testing.assert_allclose(layer.forward(x), F.adaptive_avg_pool2d(torch.from_numpy(x), 1).flatten(1).numpy())
    assert max(compare_with_torch(layer, x).values()) < 1e-12
    assert max(gradcheck(layer, x[:1, :2]).values()) < 1e-6
    with pytest.raises(ValueError, match=r"4-D \(N, C, H, W\)"):
        layer.forward(np.zeros((4, 5)))


def test_shift_images():
    image = np.arange(1.0, 17.0).reshape(4, 4)
    shifted = shift_images(image, 1, -2)
    np.testing.assert_array_equal(shifted[1:, :2], image[:3, 2:])
    assert shifted[0].sum() == 0 and shifted[:, 2:].sum() == 0
    np.testing.assert_array_equal(shift_images(shift_images(image, 2, 1), -2, -1)[:2, :3], image[:2, :3])
    batch = np.random.default_rng(0).random((2, 1, 5, 5))
    np.testing.assert_array_equal(shift_images(batch, 0, 0), batch)
    np.testing.assert_array_equal(shift_images(batch, 5, 0), 0 * batch)
    np.testing.assert_array_equal(shift_images(batch, -1, 1)[1, 0], shift_images(batch[1, 0], -1, 1))
    with pytest.raises(TypeError, match="integer number of pixels"):
        shift_images(image, 1.5, 0)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        shift_images(np.zeros(4), 1, 0)


# --- the effective receptive field ---------------------------------------------------------------------------
def test_input_gradient_of_averages_is_the_repeated_box():
    n, size = 6, 21
    grad = input_gradient_of_centre(n, size, weights="average")
    expected = np.zeros((size, size))
    expected[size // 2, size // 2] = 1.0
    for _ in range(n):  # the 3x3 box applied n times (its own adjoint: symmetric)
        expected = F.conv2d(torch.from_numpy(expected)[None, None], torch.full((1, 1, 3, 3), 1 / 9,
                            dtype=torch.float64), padding=1)[0, 0].numpy()
    np.testing.assert_allclose(grad, expected, atol=1e-15)
    offsets = np.arange(size) - size // 2
    assert np.isclose(grad.sum(), 1.0) and np.isclose((grad.sum(0) * offsets**2).sum(), 2 * n / 3)


def test_input_gradient_of_random_nets_fills_the_field_and_concentrates():
    grad = input_gradient_of_centre(8, 31, weights="random", channels=4, inits=4, seed=1)
    assert (grad.sum(axis=0) > 0).sum() == 17 and (grad.sum(axis=1) > 0).sum() == 17
    assert grad[15, 15] > grad[15, 7] and grad[15, 15] > grad[7, 7]
    np.testing.assert_array_equal(grad, input_gradient_of_centre(8, 31, weights="random", channels=4, inits=4, seed=1))
    with pytest.raises(ValueError, match="smaller than the receptive field"):
        input_gradient_of_centre(20, 31)
    with pytest.raises(ValueError, match="'average' or 'random'"):
        input_gradient_of_centre(2, 9, weights="ones")


def test_gap_cnn_is_shift_invariant_away_from_the_border():
    torch.manual_seed(0)
    model = gap_cnn(10, channels=(4, 8)).double().eval()
    with torch.no_grad():  # make the background exactly zero at every layer: then shifts change nothing
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.bias.zero_()
                m.running_mean.zero_()
    x = np.zeros((1, 1, 24, 24))
    x[0, 0, 9:15, 9:15] = np.random.default_rng(0).random((6, 6))
    logits = model(torch.from_numpy(x))
    for rows, cols in [(3, 0), (0, -2), (-1, 3)]:
        moved = model(torch.from_numpy(shift_images(x, rows, cols)))
        torch.testing.assert_close(moved, logits)
    assert gap_cnn(3, channels=(2, 4))(torch.zeros(2, 1, 13, 9)).shape == (2, 3)  # any image size


# --- the ResNet block ----------------------------------------------------------------------------------------

BLOCKS = [(4, 4, 1), (3, 5, 1), (4, 6, 2), (2, 2, 2), (3, 4, 3)]


@pytest.mark.parametrize("c_in,c_out,stride", BLOCKS)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_residual_block_matches_torch(c_in, c_out, stride, mode):
    block = ResidualBlock(c_in, c_out, stride, seed=3)
    rng = np.random.default_rng(1)
    for _ in range(2):  # move the running statistics away from (0, 1)
        block.forward(rng.standard_normal((5, c_in, 7, 6)))
    getattr(block, mode)()
    errors = compare_with_torch(block, rng.standard_normal((3, c_in, 7, 6)), seed=2)
    assert max(errors.values()) < 1e-10, errors
    has_projection = stride != 1 or c_in != c_out
    assert any(name.startswith("downsample.") for name in block.params) == has_projection


def test_residual_block_running_statistics_follow_torch():
    block = ResidualBlock(3, 4, 2, seed=0)
    twin = block.to_torch()
    assert isinstance(twin, BasicBlock) and twin.training
    x = np.random.default_rng(0).standard_normal((6, 3, 8, 8))
    block.forward(x)
    twin(torch.from_numpy(x))
    for name, bn in (("bn1", block.bn1), ("bn2", block.bn2), ("downsample.1", block.downsample[1])):
        torch_bn = twin.get_submodule(name)
        np.testing.assert_allclose(bn.running_mean, torch_bn.running_mean.numpy(), atol=1e-12)
        np.testing.assert_allclose(bn.running_var, torch_bn.running_var.numpy(), atol=1e-12)


def test_residual_block_gradcheck_and_identity_gradient():
    block = ResidualBlock(2, 2, seed=0)
    x = np.random.default_rng(0).standard_normal((3, 2, 4, 4))
    assert max(gradcheck(block, x).values()) < 1e-6
    assert max(gradcheck(ResidualBlock(2, 3, 2, seed=1), x).values()) < 1e-6
    # with the branch silenced (bn2's gain 0) the block is relu(x): the gradient passes the shortcut alone
    block.bn2.params["weight"][:] = 0.0
    block.bn2.params["bias"][:] = 0.0
    np.testing.assert_allclose(block.forward(x), np.maximum(x, 0))
    dout = np.random.default_rng(1).standard_normal(x.shape)
    np.testing.assert_allclose(block.backward(dout), dout * (x > 0))


def test_residual_block_errors_and_receptive_field():
    with pytest.raises(ValueError, match=r"3 channel\(s\)"):
        ResidualBlock(3, 4).forward(np.zeros((2, 4, 5, 5)))
    with pytest.raises(ValueError, match="stride"):
        ResidualBlock(3, 4, stride=0)
    with pytest.raises(RuntimeError, match="before forward"):
        ResidualBlock(3, 4).backward(np.zeros((2, 4, 5, 5)))
    # wide blocks, so that some path through the ReLUs reaches every pixel of the field
    blocks = [ResidualBlock(1, 16, seed=0), ResidualBlock(16, 16, 2, seed=1), ResidualBlock(16, 16, seed=2)]
    assert receptive_field(blocks) == [5, 11, 19]
    twin = torch.nn.Sequential(*(b.to_torch() for b in blocks)).eval()
    assert _autograd_field(twin) == (19, 19)


def test_small_resnet_shapes_and_the_plain_control():
    torch.manual_seed(0)
    resnet = small_resnet(10, channels=(4, 8), blocks=2)
    torch.manual_seed(0)
    plain = small_resnet(10, channels=(4, 8), blocks=2, shortcuts=False)
    for shape in [(8, 8), (28, 28), (9, 13)]:
        assert resnet(torch.zeros(2, 1, *shape)).shape == (2, 10)
    assert sum(isinstance(m, BasicBlock) for m in resnet) == 4
    assert all(isinstance(m, PlainBlock) for m in plain if isinstance(m, BasicBlock))
    resnet_params = dict(resnet.named_parameters())
    plain_params = dict(plain.named_parameters())
    assert set(plain_params) < set(resnet_params)            # the same layers, minus the projection
    assert all(torch.equal(plain_params[k], resnet_params[k]) for k in plain_params)  # same initial weights, every layer
    x = torch.randn(3, 4, 6, 6)
    block = PlainBlock(4, 4).eval()
    torch.testing.assert_close(block(x), block.relu(block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))))
