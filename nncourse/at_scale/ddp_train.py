"""Data-parallel training with PyTorch's own stack: ``torchrun`` + ``DistributedDataParallel`` (notebook 11).

Run it with ``torchrun --standalone --nproc_per_node=2 ddp_train.py --out DIR`` (CPU, gloo backend;
on GPUs the same script uses NCCL, one process per GPU). It is an ordinary training loop with the four
additions the learner writes into a script of their own in notebook 11, section 7. Every process
(a *rank*):

1. joins the process group (torchrun sets RANK, WORLD_SIZE, MASTER_ADDR/PORT in the environment);
2. reads its own shard of every batch through a ``DistributedSampler`` (``set_epoch`` every epoch);
3. wraps the same model, built from the same seed, in ``DistributedDataParallel`` (which also
   broadcasts rank 0's weights at the start): in ``loss.backward()`` DDP all-reduces (averages) the
   gradients in buckets, overlapped with the backward, so every rank takes the same optimizer step;
4. saves its final weights and the sample indices it saw to ``DIR/rank<r>.pt``.

:func:`single_process_reference` runs the same training in one process on the whole global batch
(the union of the ranks' shards); the notebook and the tests assert that the weights are equal, and
that the learner's script ends bit-identical to this one.
"""
from __future__ import annotations

import argparse
import os
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def make_data(seed: int = 0, n: int = 96, features: int = 8, classes: int = 3) -> TensorDataset:
    """A small fixed classification set (n, features) -> class, the same in every process."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, features, generator=g)
    y = (X[:, :classes] + 0.3 * torch.randn(n, classes, generator=g)).argmax(1)
    return TensorDataset(X, y)


def make_model(seed: int = 0, features: int = 8, hidden: int = 16, classes: int = 3) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(features, hidden), nn.Tanh(), nn.Linear(hidden, classes))


def shard_loaders(dataset, world_size: int, batch_size: int, seed: int):
    """One DataLoader per rank, each over that rank's DistributedSampler shard (batch_size per rank)."""
    samplers = [DistributedSampler(dataset, num_replicas=world_size, rank=r, shuffle=True, seed=seed,
                                   drop_last=True) for r in range(world_size)]
    return samplers, [DataLoader(dataset, batch_size=batch_size, sampler=s) for s in samplers]


def train(rank: int, world_size: int, *, steps: int, batch_size: int, lr: float, seed: int):
    """What one rank runs (inside an initialised process group). Returns (state_dict, indices seen)."""
    dataset = make_data(seed)
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed,
                                 drop_last=True)  # 2. this rank's shard of every epoch
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler)
    model = DistributedDataParallel(make_model(seed))  # 3. all-reduces the gradients in backward()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn, step, epoch, seen = nn.CrossEntropyLoss(), 0, 0, []
    while step < steps:
        sampler.set_epoch(epoch)  # 2b. a new shuffle each epoch, the same on every rank
        seen.append(list(iter(sampler)))
        for X, y in loader:
            optimizer.zero_grad()
            loss_fn(model(X), y).backward()  # DDP averages the gradients across ranks here
            optimizer.step()
            step += 1
            if step == steps:
                break
        epoch += 1
    return model.module.state_dict(), seen


def single_process_reference(world_size: int = 2, *, steps: int, batch_size: int, lr: float, seed: int):
    """The same training in one process: each step's batch is the union of the ranks' shards
    (world_size * batch_size samples), the loss its mean. Returns the final state_dict."""
    dataset = make_data(seed)
    samplers, loaders = shard_loaders(dataset, world_size, batch_size, seed)
    model = make_model(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn, step, epoch = nn.CrossEntropyLoss(), 0, 0
    while step < steps:
        for s in samplers:
            s.set_epoch(epoch)
        for shards in zip(*loaders):
            X = torch.cat([x for x, _ in shards])
            y = torch.cat([t for _, t in shards])
            optimizer.zero_grad()
            loss_fn(model(X), y).backward()
            optimizer.step()
            step += 1
            if step == steps:
                break
        epoch += 1
    return model.state_dict()


def parse_args(argv=None) -> argparse.Namespace:
    """The command line each rank gets after the script's name (``argv``; None: ``sys.argv[1:]``):
    ``--out DIR --steps --batch-size`` (per rank) ``--lr --seed --timeout --quiet``. The script the
    learner writes in notebook 11 reads its command line with this parser too."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for rank<r>.pt")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=8, help="per rank")
    parser.add_argument("--lr", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=600, help="seconds a collective may wait")
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    """What ``torchrun ... ddp_train.py --out DIR`` runs in every rank: train, save ``DIR/rank<r>.pt``."""
    args = parse_args(argv)
    torch.set_num_threads(1)
    backend = "nccl" if torch.cuda.is_available() and os.environ.get("NNCOURSE_DDP_BACKEND") == "nccl" else "gloo"
    # 1. RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT come from torchrun (in the environment)
    dist.init_process_group(backend, timeout=timedelta(seconds=args.timeout))
    rank, world_size = dist.get_rank(), dist.get_world_size()
    try:
        state, seen = train(rank, world_size, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                            seed=args.seed)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        torch.save({"state_dict": state, "indices": seen, "world_size": world_size, "backend": backend},
                   out / f"rank{rank}.pt")  # 4. every rank saves, so that the ranks can be compared
        if not args.quiet:
            print(f"rank {rank}/{world_size} ({backend}): {args.steps} steps done")
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
