"""nncourse.privacy: per-example gradients, clipping and the DP-SGD step against independent
computations and Opacus; the loss-threshold attack; FedAvg."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import nncourse
from nncourse import privacy as P
from nncourse.at_scale import privacy as AP


def _net_and_batch(seed, n=12):
    rng = np.random.default_rng(seed)
    return nncourse.mlp([6, 8, 4], "tanh" if seed % 2 else "relu", seed=seed), rng.normal(0, 1, (n, 6)), rng.integers(0, 4, n)


def _torch_per_example(net, x, y):
    """Independent: one autograd call per example on the PyTorch twin."""
    module = net.to_torch()
    out = {name: [] for name, _ in module.named_parameters()}
    for i in range(len(x)):
        loss = F.cross_entropy(module(torch.from_numpy(x[i : i + 1])), torch.from_numpy(y[i : i + 1]))
        for (name, p), g in zip(module.named_parameters(), torch.autograd.grad(loss, list(module.parameters()))):
            out[name].append(g.numpy())
    return {name: np.stack(v) for name, v in out.items()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_per_example_gradients_equal_autograd_both_ways(seed):
    net, x, y = _net_and_batch(seed)
    want = _torch_per_example(net, x, y)
    for fn in (P.per_example_gradients, P.per_example_gradients_loop):
        got = fn(net, x, y)
        assert list(got) == list(want)
        for name in want:
            np.testing.assert_allclose(got[name], want[name], atol=1e-13)
    # Their mean is the batch gradient.
    _, dlogits = nncourse.losses.cross_entropy(net.forward(x), y)
    net.backward(dlogits)
    batch = {name: g.copy() for name, g in net.grads.items()}
    got = P.per_example_gradients(net, x, y)
    for name, g in batch.items():
        np.testing.assert_allclose(got[name].mean(axis=0), g, atol=1e-13)


def test_clipping_caps_the_whole_gradients_norm():
    net, x, y = _net_and_batch(0)
    grads = P.per_example_gradients(net, x, y)
    clipped, norms = P.clip_per_example(grads, 0.3)
    flat = np.concatenate([g.reshape(len(x), -1) for g in clipped.values()], axis=1)
    new_norms = np.linalg.norm(flat, axis=1)
    assert (norms > 0.3).any() and (new_norms <= 0.3 + 1e-9).all()
    small = norms < 0.3
    np.testing.assert_allclose(new_norms[small], norms[small])        # small gradients untouched
    np.testing.assert_allclose(new_norms[~small], 0.3, rtol=1e-5)     # large ones scaled to C
    with pytest.raises(ValueError, match="max_norm"):
        P.clip_per_example(grads, 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dp_sgd_step_without_noise_is_per_example_clipped_sgd_and_equals_opacus(seed):
    net, x, y = _net_and_batch(seed)
    C, lr = 0.5, 0.1
    per_example = _torch_per_example(net, x, y)                       # independent of the package
    norms = np.sqrt(sum((g.reshape(len(x), -1) ** 2).sum(1) for g in per_example.values()))
    factor = np.minimum(1, C / (norms + 1e-6))
    expected = {n: (g * factor.reshape(-1, *[1] * (g.ndim - 1))).mean(0) for n, g in per_example.items()}
    opacus = AP.opacus_gradient(net.to_torch(), torch.from_numpy(x), torch.from_numpy(y),
                                max_grad_norm=C, noise_multiplier=0.0)
    before = copy.deepcopy(net.params)
    got = P.dp_sgd_step(net, x, y, lr=lr, max_grad_norm=C, noise_multiplier=0.0, rng=np.random.default_rng(0))
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], atol=1e-14)
        np.testing.assert_allclose(got[name], opacus[name].numpy(), atol=1e-14)
        np.testing.assert_allclose(net.params[name], before[name] - lr * expected[name], atol=1e-14)


def test_dp_sgd_noise_has_opacus_statistics():
    """With noise, the gradients differ draw by draw; their noise has std σC/B in both."""
    net, x, y = _net_and_batch(0, n=8)
    C, sigma = 0.5, 2.0
    clean = P.dp_sgd_step(copy.deepcopy(net), x, y, lr=0.0, max_grad_norm=C, noise_multiplier=0.0, rng=np.random.default_rng(0))
    rng, generator = np.random.default_rng(1), torch.Generator().manual_seed(1)
    ours, theirs = [], []
    for _ in range(25):
        g = P.dp_sgd_step(copy.deepcopy(net), x, y, lr=0.0, max_grad_norm=C, noise_multiplier=sigma, rng=rng)
        ours.append(np.concatenate([(g[n] - clean[n]).ravel() for n in clean]))
        o = AP.opacus_gradient(net.to_torch(), torch.from_numpy(x), torch.from_numpy(y), max_grad_norm=C,
                               noise_multiplier=sigma, generator=generator)
        theirs.append(np.concatenate([(o[n].numpy() - clean[n]).ravel() for n in clean]))
    ours, theirs = np.concatenate(ours), np.concatenate(theirs)   # 25 x 76 noise values each
    want = sigma * C / len(x)
    for noise in (ours, theirs):
        assert abs(noise.mean()) < 0.05 * want and abs(noise.std() / want - 1) < 0.05


def test_epsilon_from_the_accountant_behaves():
    e = AP.epsilon(1.0, 0.01, 1000, 1e-5)
    assert 0 < e < 10
    assert AP.epsilon(2.0, 0.01, 1000, 1e-5) < e < AP.epsilon(1.0, 0.01, 4000, 1e-5)   # more noise: less ε; more steps: more
    assert AP.epsilon(0.0, 0.01, 10, 1e-5) == float("inf")


def test_loss_threshold_auc():
    assert P.loss_threshold_auc([0.1, 0.2], [0.5, 0.9]) == 1.0      # members have lower loss
    assert P.loss_threshold_auc([0.5, 0.9], [0.1, 0.2]) == 0.0
    assert P.loss_threshold_auc([0.3, 0.3], [0.3, 0.3]) == 0.5
    net, x, y = _net_and_batch(0)
    losses = P.per_example_losses(net, x, y)
    want = F.cross_entropy(net.to_torch()(torch.from_numpy(x)), torch.from_numpy(y), reduction="none").detach().numpy()
    np.testing.assert_allclose(losses, want, atol=1e-13)


def test_split_clients_iid_and_non_iid():
    y = np.repeat(np.arange(10), 30)
    for iid in (True, False):
        clients = P.split_clients(y, 10, iid=iid, seed=0)
        together = np.sort(np.concatenate(clients))
        np.testing.assert_array_equal(together, np.arange(len(y)))   # a partition
        classes = [len(np.unique(y[c])) for c in clients]
        if iid:
            assert min(classes) >= 7
        else:
            assert max(classes) <= 2
    with pytest.raises(ValueError, match="n_clients"):
        P.split_clients(y, 0, iid=True)


def test_fedavg_with_one_client_is_local_sgd_and_averaging_is_weighted():
    rng = np.random.default_rng(0)
    X, y = rng.normal(0, 1, (40, 6)), rng.integers(0, 4, 40)
    a, b = nncourse.mlp([6, 8, 4], seed=0), nncourse.mlp([6, 8, 4], seed=0)
    P.fedavg(a, X, y, [np.arange(40)], rounds=2, lr=0.1, batch_size=8, seed=3)
    r = np.random.default_rng(3)
    for _ in range(2):
        P.local_sgd(b, X, y, epochs=1, lr=0.1, batch_size=8, rng=r)
    for name in a.params:
        np.testing.assert_allclose(a.params[name], b.params[name], atol=1e-14)
    # Two clients with zero learning rate: the average of identical weights is unchanged.
    c = nncourse.mlp([6, 8, 4], seed=1)
    before = copy.deepcopy(c.params)
    P.fedavg(c, X, y, [np.arange(10), np.arange(10, 40)], rounds=1, lr=0.0)
    for name in before:
        np.testing.assert_allclose(c.params[name], before[name], atol=1e-15)


def test_fedavg_learns_on_separable_data():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (4, 6))
    y = rng.integers(0, 4, 400)
    X = centres[y] + rng.normal(0, 0.5, (400, 6))
    net = nncourse.mlp([6, 8, 4], seed=0)
    history = P.fedavg(net, X, y, P.split_clients(y, 5, iid=False, seed=0), rounds=10, lr=0.1,
                       evaluate=lambda m: float(np.mean(m.forward(X).argmax(1) == y)))
    assert len(history) == 10 and history[-1] > 0.9
