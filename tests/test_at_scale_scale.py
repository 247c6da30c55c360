"""nncourse.at_scale.scale and ddp_train: a real two-process DDP run (torchrun, gloo, CPU) equal to a
single-process run, bit-identical resume, weights_only loading, checkpointing memory, scaling sweep."""
import pickle
import signal

import numpy as np
import pytest
import torch

from nncourse import scale as np_scale
from nncourse.at_scale import ddp_train
from nncourse.at_scale import scale as S


@pytest.mark.timeout(120)  # torchrun's launcher in this process, two forked ranks: about a second
def test_two_process_ddp_equals_single_process_on_the_global_batch(tmp_path):
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    ranks = S.run_ddp(nproc=2, steps=5, batch_size=6, seed=3, out_dir=tmp_path, verbose=False)
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers  # the launcher's handlers removed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rank0.pt", "rank1.pt"]
    a, b = ranks[0]["state_dict"], ranks[1]["state_dict"]
    assert ranks[0]["world_size"] == 2 and ranks[0]["backend"] == "gloo"
    assert S.states_equal(a, b)  # DDP keeps the replicas bit-identical
    ref = ddp_train.single_process_reference(2, steps=5, batch_size=6, lr=0.2, seed=3)
    assert S.max_state_difference(a, ref) < 1e-5
    start = ddp_train.make_model(3).state_dict()
    assert S.max_state_difference(a, start) > 1e-2  # it trained
    # DistributedSampler: disjoint shards that cover the (dropped-last) epoch
    first, second = set(ranks[0]["indices"][0]), set(ranks[1]["indices"][0])
    assert not first & second and len(first | second) == 96


@pytest.mark.timeout(120)
def test_a_failing_rank_is_reported(tmp_path):
    (tmp_path / "taken").write_text("a file where the ranks want a folder")
    handlers = signal.getsignal(signal.SIGINT)
    with pytest.raises(RuntimeError, match="forked DDP run failed"):
        S.run_ddp(nproc=2, steps=1, out_dir=tmp_path / "taken", verbose=False)
    assert signal.getsignal(signal.SIGINT) == handlers


def test_single_process_reference_differs_from_one_shard_alone():
    two = ddp_train.single_process_reference(2, steps=4, batch_size=6, lr=0.2, seed=0)
    one = ddp_train.single_process_reference(1, steps=4, batch_size=6, lr=0.2, seed=0)
    assert S.max_state_difference(two, one) > 1e-3  # a different global batch gives different weights


def test_run_ddp_checks_its_arguments_before_launching(tmp_path):
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        S.run_ddp(nproc=2, steps=0, out_dir=tmp_path, verbose=False)
    with pytest.raises(ValueError, match="nproc"):
        S.run_ddp(nproc=1.5, out_dir=tmp_path, verbose=False)
    with pytest.raises(ValueError, match="launcher must be 'fork' or 'torchrun'"):
        S.run_ddp(nproc=2, launcher="mpirun", out_dir=tmp_path, verbose=False)
    command = S.ddp_command(tmp_path, nproc=2, steps=3)
    assert "--standalone" in command and "--nproc_per_node=2" in command and command[-1] == "0"


def _data(seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(96, 6, generator=g)
    return X, (X[:, 0] + X[:, 1] > 0).long()


@pytest.mark.parametrize("stop_at", [5, 6, 13])  # mid-epoch, at an epoch boundary, later
def test_resume_is_bit_identical(stop_at):
    data = _data()
    full = S.ResumableRun(data, seed=1)
    full.train(20)
    part = S.ResumableRun(data, seed=1)
    part.train(stop_at)
    ckpt = S.save_and_load(part.checkpoint(), weights_only=True)
    torch.manual_seed(999)  # whatever happened in between
    resumed = S.ResumableRun.resume(ckpt, data, seed=1)
    resumed.train(20 - stop_at)
    assert S.states_equal(full.model.state_dict(), resumed.model.state_dict())
    assert not S.states_equal(full.model.state_dict(), part.model.state_dict())


def test_resume_without_the_rng_state_is_not_identical():
    data = _data()
    full = S.ResumableRun(data, seed=1)
    full.train(12)
    part = S.ResumableRun(data, seed=1)
    part.train(5)
    ckpt = part.checkpoint()
    torch.manual_seed(999)
    resumed = S.ResumableRun.resume({**ckpt, "torch_rng": torch.get_rng_state()}, data, seed=1)
    resumed.train(7)
    assert not S.states_equal(full.model.state_dict(), resumed.model.state_dict())  # dropout masks differ


def test_weights_only_refuses_code_in_a_checkpoint():
    S.UNPICKLE_LOG.clear()
    evil = {"model": {}, "payload": S.RunsCodeWhenUnpickled()}
    with pytest.raises(pickle.UnpicklingError):
        S.save_and_load(evil, weights_only=True)
    assert S.UNPICKLE_LOG == []
    S.save_and_load(evil, weights_only=False)
    assert S.UNPICKLE_LOG == ["code ran while loading the checkpoint"]


@pytest.mark.parametrize("depth, width, batch", [(8, 16, 4), (12, 32, 3)])
def test_saved_bytes_match_the_numpy_count_and_checkpointing_saves(depth, width, batch):
    model = S.deep_mlp(depth, width)
    x = torch.randn(batch, width)
    plain, out = S.saved_activation_bytes(model, x)
    assert plain == 4 * np_scale.mlp_activation_elements(batch, width, depth)  # float32: (L+1) B W
    saved, out_ck = S.saved_activation_bytes(model, x.requires_grad_(), segments=4)
    # checkpoint_sequential keeps the first 3 segments' inputs and runs the last one normally
    # (its input and outputs): 4 + depth / 4 activations, the NumPy count's ceil(L/s) + s
    assert saved == 4 * batch * width * (4 + depth // 4) < plain
    torch.testing.assert_close(out, out_ck)
    # equal gradients with and without checkpointing
    model.zero_grad()
    model(x).square().mean().backward()
    g1 = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    out_ck.square().mean().backward()
    for a, p in zip(g1, model.parameters()):
        torch.testing.assert_close(p.grad, a)


def test_time_forward_backward_returns_seconds():
    model = S.deep_mlp(4, 8)
    x = torch.randn(2, 8, requires_grad=True)
    assert 0 < S.time_forward_backward(model, x, repeats=2) < 10
    assert 0 < S.time_forward_backward(model, x, segments=2, repeats=2) < 10


def test_scaling_sweep_loss_falls_with_width():
    results = S.scaling_sweep([1, 4, 16], steps=60, seed=0)
    params, losses, flops = map(np.array, zip(*results))
    assert list(params) == [10 * w + 1 for w in (1, 4, 16)]  # 8 inputs: (8 + 1) w + (w + 1)
    assert losses[-1] < losses[0] < 1.5  # a fraction of the teacher's variance
    np.testing.assert_allclose(flops, 6 * params * 60 * 256)


def test_slow_dataset_is_deterministic_and_loader_throughput_counts_samples():
    data = S.SlowDataset(n=20, size=4, work=2)
    torch.testing.assert_close(data[3][0], data[3][0])
    assert data[13][1] == 3 and len(data) == 20
    assert S.loader_throughput(data, num_workers=0, batch_size=8) > 0
