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


@pytest.mark.timeout(120)  # torchrun's launcher in this process, ranks from the fork server: seconds
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
    with pytest.raises(RuntimeError, match="DDP run failed"):
        S.run_ddp(nproc=2, steps=1, out_dir=tmp_path / "taken", verbose=False)
    assert signal.getsignal(signal.SIGINT) == handlers


@pytest.mark.timeout(120)
def test_a_stalled_run_is_stopped_shown_and_run_once_more(tmp_path):
    # rank 1 waits forever in the all-reduce that rank 0 never joins: the watchdog stops it at the
    # timeout, shows where each rank was, runs it again, and raises when it stalls again
    stalls = _script(tmp_path, "import time\nimport torch.distributed as dist\nimport torch\n"
                               "dist.init_process_group('gloo')\n"
                               "if dist.get_rank() == 1:\n    dist.all_reduce(torch.ones(1))\n"
                               "else:\n    time.sleep(600)\n", "stalls.py")
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    with pytest.warns(RuntimeWarning, match="did not finish within 6 s") as warned:
        with pytest.raises(RuntimeError, match=r"(?s)did not finish within 6 s.*twice in a row") as raised:
            S.run_ddp(script=stalls, nproc=2, steps=1, timeout=6, verbose=False)
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers
    for text in (str(warned[0].message), str(raised.value)):
        assert "Running it once more" in text or "twice" in text
        assert text.count("rank process") == 2 and 'stalls.py", line 8' in text  # rank 0's time.sleep
        assert "all_reduce" in text  # rank 1 waits in the collective


# The script notebook 11 has the learner write (section 7), cell by cell: the four DDP additions.
LEARNER_SCRIPT = """\
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from nncourse.at_scale import ddp_train

args = ddp_train.parse_args()
dist.init_process_group("gloo")
rank, world_size = dist.get_rank(), dist.get_world_size()

dataset = ddp_train.make_data(args.seed)
sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=args.seed,
                             drop_last=True)
loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler)

model = DistributedDataParallel(ddp_train.make_model(args.seed))
optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
loss_fn, step, epoch, seen = nn.CrossEntropyLoss(), 0, 0, []
while step < args.steps:
    sampler.set_epoch(epoch)
    seen.append(list(sampler))
    for X, y in loader:
        optimizer.zero_grad()
        loss_fn(model(X), y).backward()
        optimizer.step()
        step += 1
        if step == args.steps:
            break
    epoch += 1

torch.save({"state_dict": model.module.state_dict(), "indices": seen}, f"{args.out}/rank{rank}.pt")
dist.destroy_process_group()
"""


def _script(tmp_path, text, name="my_ddp_train.py"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.timeout(180)
def test_a_learners_script_runs_in_every_rank_and_ends_bit_identical_to_the_package(tmp_path, capsys):
    # batches of 6 per rank, 12 a step: 96 // 12 = 8 steps an epoch, so 9 steps reach a second epoch
    kwargs = dict(nproc=2, steps=9, batch_size=6, seed=1, timeout=60)
    (tmp_path / "mine").mkdir()  # the script saves into the --out folder; it does not create it
    mine = S.run_ddp(script=_script(tmp_path, LEARNER_SCRIPT), out_dir=tmp_path / "mine", **kwargs)
    package = S.run_ddp(out_dir=tmp_path / "package", verbose=False, **kwargs)
    printed = capsys.readouterr().out
    assert "--nproc_per_node=2 my_ddp_train.py --out ... --steps 9" in printed and "rank0.pt, rank1.pt" in printed
    for r in range(2):
        assert S.states_equal(mine[r]["state_dict"], package[r]["state_dict"])
        assert mine[r]["indices"] == package[r]["indices"] and len(mine[r]["indices"]) == 2
    assert mine[0]["indices"][0] != mine[0]["indices"][1]  # set_epoch: a new order in the second epoch


@pytest.mark.timeout(180)
def test_each_of_the_learners_mistakes_is_caught(tmp_path):
    kwargs = dict(nproc=2, steps=9, batch_size=6, seed=1, verbose=False, timeout=60)
    package = S.run_ddp(**kwargs)
    # without the DDP wrapper each rank trains on its own shard alone: the replicas drift apart
    no_ddp = LEARNER_SCRIPT.replace("DistributedDataParallel(ddp_train.make_model(args.seed))",
                                    "ddp_train.make_model(args.seed)").replace("model.module.", "model.")
    ranks = S.run_ddp(script=_script(tmp_path, no_ddp, "no_ddp.py"), **kwargs)
    assert not S.states_equal(ranks[0]["state_dict"], ranks[1]["state_dict"])
    # without set_epoch the second epoch repeats the first one's order
    no_set_epoch = LEARNER_SCRIPT.replace("    sampler.set_epoch(epoch)\n", "")
    assert no_set_epoch != LEARNER_SCRIPT
    ranks = S.run_ddp(script=_script(tmp_path, no_set_epoch, "no_set_epoch.py"), **kwargs)
    assert ranks[0]["indices"][1] == ranks[0]["indices"][0]
    assert S.states_equal(ranks[0]["state_dict"], ranks[1]["state_dict"])  # still in step with each other
    assert not S.states_equal(ranks[0]["state_dict"], package[0]["state_dict"])
    # a script that saves under another name
    other_name = LEARNER_SCRIPT.replace('f"{args.out}/rank{rank}.pt"', 'f"{args.out}/model{rank}.pt"')
    assert other_name != LEARNER_SCRIPT
    with pytest.raises(RuntimeError, match="rank 0 saved no rank0.pt in the --out folder"):
        S.run_ddp(script=_script(tmp_path, other_name, "other_name.py"), **kwargs)
    # the wrapper's state_dict instead of the model's inside it: keys 'module.0.weight', ...
    wrapper_saved = LEARNER_SCRIPT.replace("model.module.state_dict()", "model.state_dict()")
    assert wrapper_saved != LEARNER_SCRIPT
    ranks = S.run_ddp(script=_script(tmp_path, wrapper_saved, "wrapper_saved.py"), **kwargs)
    assert S.states_equal(ranks[0]["state_dict"], ranks[1]["state_dict"])
    assert not S.states_equal(ranks[0]["state_dict"], package[0]["state_dict"])
    with pytest.raises(ValueError, match=r"different keys: \['module.0.bias'.*save model.module.state_dict\(\)"):
        S.max_state_difference(ranks[0]["state_dict"], package[0]["state_dict"])
    with pytest.raises(ValueError, match=r"different keys: \['0.bias'\] vs \['0.weight'\]$"):  # no DDP hint
        S.max_state_difference({"0.bias": torch.zeros(1)}, {"0.weight": torch.zeros(1)})


def test_run_ddp_wants_an_existing_script(tmp_path):
    with pytest.raises(FileNotFoundError, match="an existing Python file, got '.*nowhere.py'"):
        S.run_ddp(script=tmp_path / "nowhere.py", out_dir=tmp_path, verbose=False)
    command = S.ddp_command(tmp_path / "out", script=tmp_path / "mine.py", nproc=2, steps=3)
    after_launcher = command[command.index("--nproc_per_node=2") + 1:]
    assert after_launcher[:3] == [str(tmp_path / "mine.py"), "--out", str(tmp_path / "out")]


def test_parse_args_reads_the_command_line_run_ddp_passes():
    args = ddp_train.parse_args(["--out", "somewhere", "--steps", "3", "--batch-size", "4", "--lr", "0.5",
                                 "--seed", "2", "--timeout", "9", "--quiet"])
    assert (args.out, args.steps, args.batch_size, args.lr, args.seed, args.timeout, args.quiet) == \
        ("somewhere", 3, 4, 0.5, 2, 9.0, True)
    with pytest.raises(SystemExit):  # --out is required
        ddp_train.parse_args(["--steps", "3"])


def test_single_process_reference_differs_from_one_shard_alone():
    two = ddp_train.single_process_reference(2, steps=4, batch_size=6, lr=0.2, seed=0)
    one = ddp_train.single_process_reference(1, steps=4, batch_size=6, lr=0.2, seed=0)
    assert S.max_state_difference(two, one) > 1e-3  # a different global batch gives different weights


def test_run_ddp_checks_its_arguments_before_launching(tmp_path):
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        S.run_ddp(nproc=2, steps=0, out_dir=tmp_path, verbose=False)
    with pytest.raises(ValueError, match="nproc"):
        S.run_ddp(nproc=1.5, out_dir=tmp_path, verbose=False)
    with pytest.raises(ValueError, match="launcher must be 'forkserver' or 'torchrun'"):
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
