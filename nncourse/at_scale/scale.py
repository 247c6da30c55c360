"""Training at scale with PyTorch (notebook 11): DDP launched with torchrun, checkpoint and resume,
activation checkpointing measured with saved-tensor hooks, torch.compile timing, a scaling-law sweep.

* :func:`run_ddp` launches :mod:`nncourse.at_scale.ddp_train` (or the script the learner writes in
  the notebook) with ``torchrun --nproc_per_node=K`` (CPU/gloo), as the command line or as torchrun's
  launcher called in this process with ranks forked from a fork server that imported torch once, and
  loads what each rank saved (``weights_only=True``).
* :class:`ResumableRun` trains a small dropout MLP with Adam and a learning-rate schedule; its
  :meth:`~ResumableRun.checkpoint` holds model, optimizer, scheduler, both RNG states and the data
  position, so a run stopped and resumed ends bit-identical to one never stopped.
* :func:`saved_activation_bytes` counts the bytes autograd keeps for the backward (saved-tensor
  hooks: device-independent), with or without ``torch.utils.checkpoint``.
* :func:`time_compile` times eager against ``torch.compile`` (None with a reason where it cannot).
* :func:`scaling_sweep` trains MLPs of several widths on one fixed task and budget: loss vs parameters.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint_sequential

from . import ddp_train

# --- DistributedDataParallel, really run -----------------------------------------------------------


def ddp_command(out_dir, *, script=None, nproc: int = 2, steps: int = 6, batch_size: int = 8, lr: float = 0.2,
                seed: int = 0) -> list[str]:
    """The torchrun command line for ``script`` (default: :mod:`~nncourse.at_scale.ddp_train`'s file);
    ``python -m torch.distributed.run`` is ``torchrun``. ``--standalone`` starts a local rendezvous on a
    free port, so runs side by side do not collide."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            str(script or ddp_train.__file__), "--out", str(out_dir), "--steps", str(steps),
            "--batch-size", str(batch_size), "--lr", str(lr), "--seed", str(seed)]


def run_ddp(*, script=None, nproc: int = 2, steps: int = 6, batch_size: int = 8, lr: float = 0.2, seed: int = 0,
            timeout: float = 120, out_dir=None, verbose: bool = True, launcher: str = "forkserver") -> list[dict]:
    """Run a DDP training script on ``nproc`` CPU processes; return each rank's saved dict.

    ``script``: the path of a Python script run in every rank as ``torchrun`` runs it (as ``__main__``,
    with ``--out DIR --steps --batch-size --lr --seed --timeout`` and, launched from Python, ``--quiet`` on its command
    line; :func:`ddp_train.parse_args` reads them), which saves what rank ``r`` has to ``DIR/rank<r>.pt``
    (``DIR`` is ``out_dir``, default a fresh temporary folder; ``ddp_train`` creates it if need be).
    None: :mod:`~nncourse.at_scale.ddp_train`, which saves ``state_dict``, ``indices`` (the samples each
    epoch gave that rank), ``world_size`` and ``backend``. Notebook 11, section 7, runs the learner's
    script and this one.

    ``launcher="torchrun"`` runs the command line of :func:`ddp_command` (``torchrun --standalone``):
    three fresh Python processes (the launcher and two ranks), each importing torch (and DDP imports
    torch._dynamo) -- tens of seconds on a busy CPU. ``launcher="forkserver"`` calls the same launcher
    from Python (``torch.distributed.launcher.api.elastic_launch``, which the ``torchrun`` command calls,
    with ``--standalone``'s settings) in this process, with the ``forkserver`` start method: the ranks
    are forked from a small server process that imported torch once (on the first run, a few seconds),
    so later runs take about a second. The ranks are not forked from this process itself: forking a
    process that runs threads (a Jupyter kernel, pytest, torch's own pools) copies the locks those
    threads hold, and a rank can hang forever on one. Each rank runs on one thread, as torchrun's do.
    Use ``"torchrun"`` for NCCL on GPUs.

    Raises RuntimeError with the processes' output if the run fails or takes over ``timeout`` s, or if
    a rank saved no ``rank<r>.pt``. With ``"forkserver"``, a run stopped at ``timeout`` is run once
    more, with a RuntimeWarning that shows each rank's Python stack (where it waited)."""
    for name, value in (("nproc", nproc), ("steps", steps), ("batch_size", batch_size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if launcher not in ("forkserver", "torchrun"):
        raise ValueError(f"launcher must be 'forkserver' or 'torchrun', got {launcher!r}")
    if script is not None and not Path(script).is_file():
        raise FileNotFoundError(f"script must be the path of an existing Python file, got {str(script)!r}")
    if out_dir is None:  # a temporary folder, removed once the results are loaded
        with tempfile.TemporaryDirectory(prefix="nncourse_ddp_") as tmp:
            return run_ddp(script=script, nproc=nproc, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                           timeout=timeout, out_dir=tmp, verbose=verbose, launcher=launcher)
    out_dir = Path(out_dir)
    command = ddp_command(out_dir, script=script, nproc=nproc, steps=steps, batch_size=batch_size, lr=lr,
                          seed=seed) + ["--timeout", str(timeout)]
    script_args = command[command.index("--out"):]
    output = ""
    if launcher == "forkserver":
        _launch_from_forkserver(script, script_args, nproc, timeout)
    else:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired as err:
            raise RuntimeError(f"torchrun did not finish within {timeout} s:\n{err.stdout}\n{err.stderr}") from err
        if done.returncode != 0:
            raise RuntimeError(f"torchrun failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}")
        output = done.stdout.strip()
    saved = [out_dir / f"rank{r}.pt" for r in range(nproc)]
    for r, path in enumerate(saved):
        if not path.is_file():
            raise RuntimeError(f"the DDP run finished, but rank {r} saved no {path.name} in the --out folder "
                               f"{str(out_dir)!r}: every rank must torch.save its results to <--out>/rank<rank>.pt")
    if verbose:
        how = "launcher in this process, ranks from a fork server" if launcher == "forkserver" else "as a command"
        name = Path(script or ddp_train.__file__).name
        print(f"$ torchrun --standalone --nproc_per_node={nproc} {name} --out ... --steps {steps}   ({how})")
        if output:
            print(output)
        print("saved:", ", ".join(path.name for path in saved))
    return [torch.load(path, weights_only=True) for path in saved]


def _nothing() -> None:
    pass


_STACK_FILES: list = []  # in a rank: the file its stack goes to on SIGUSR1 (kept open)


def _rank(watch_dir: str, script, args: list[str]) -> None:
    """What every rank runs, forked from the fork server: note its process id in ``watch_dir`` for the
    launcher's watchdog (which can ask for its Python stack with SIGUSR1), then ``script`` as
    ``__main__`` with ``args`` as its command line, as torchrun runs it (None: ``ddp_train.main``), on
    one thread (torchrun sets OMP_NUM_THREADS=1 when it starts several ranks)."""
    import faulthandler
    import runpy
    import signal

    folder, pid = Path(watch_dir), os.getpid()
    _STACK_FILES.append(open(folder / f"{pid}.stack", "w"))
    faulthandler.register(signal.SIGUSR1, file=_STACK_FILES[-1], all_threads=True)
    (folder / f"{pid}.pid").touch()
    torch.set_num_threads(1)
    if script is None:
        ddp_train.main(args)
    else:
        sys.argv = [str(script), *args]
        runpy.run_path(str(script), run_name="__main__")


def _launch_from_forkserver(script, args: list[str], nproc: int, timeout: float) -> None:
    """torchrun --standalone --nproc_per_node=nproc [script] args, called from Python, the ranks forked
    from multiprocessing's fork server (script None: ``ddp_train.main``).

    A watchdog stops a run that takes over ``timeout`` s: it asks each rank for its Python stack, then
    stops the launcher as Ctrl-C would (which stops the ranks). A run that stalled is run once more,
    with a warning that shows where its ranks were; a second stall raises RuntimeError with them."""
    import _thread
    import multiprocessing
    import signal
    import threading
    import uuid
    import warnings

    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    # the fork server starts on the first run and stays: it imports these once, so every rank forked
    # from it starts with them (DDP's constructor imports torch._dynamo). No effect once it runs.
    multiprocessing.set_forkserver_preload(["torch", "torch._dynamo", __name__])
    starter = multiprocessing.get_context("forkserver").Process(target=_nothing)
    starter.start()  # on the first run, the fork server starts now, before the watchdog's clock does
    starter.join()
    # the launcher installs its own handlers for these signals in the main thread: put ours back after
    signals = [getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, name)]
    handlers = {sig: signal.getsignal(sig) for sig in signals}
    for attempt in (1, 2):
        config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=str(uuid.uuid4()),
                              rdzv_backend="c10d", rdzv_endpoint="localhost:0",
                              rdzv_configs={"join_timeout": timeout}, max_restarts=0, monitor_interval=0.1,
                              start_method="forkserver")
        with tempfile.TemporaryDirectory(prefix="nncourse_ddp_") as watch_dir:
            folder, stalled = Path(watch_dir), threading.Event()

            def stop():
                stalled.set()
                for pid_file in folder.glob("*.pid"):
                    try:
                        os.kill(int(pid_file.stem), signal.SIGUSR1)  # the rank writes its stack
                    except ProcessLookupError:
                        pass
                time.sleep(1.0)
                # the launcher's SIGTERM handler, run in the main thread: it stops the ranks and raises.
                # Once the launcher has returned, SIGTERM has no Python handler and this does nothing.
                _thread.interrupt_main(signal.SIGTERM)

            watchdog = threading.Timer(timeout, stop)
            watchdog.daemon = True
            watchdog.start()
            try:
                elastic_launch(config, _rank)(watch_dir, script, args + ["--quiet"])
                return
            except Exception as err:  # torch's ChildFailedError names the failed rank and its traceback
                if not stalled.is_set():
                    raise RuntimeError(f"the DDP run failed: {err}") from err
                stacks = "\n".join(f"rank process {path.stem}:\n{path.read_text()}"
                                   for path in sorted(folder.glob("*.stack"))) or "(no rank had started)"
            finally:
                watchdog.cancel()
                for sig, handler in handlers.items():
                    if handler is not None:
                        signal.signal(sig, handler)
        message = f"the DDP ranks did not finish within {timeout} s and were stopped. Where they were:\n{stacks}"
        if attempt == 1:
            warnings.warn(message + "\nRunning it once more.", RuntimeWarning, stacklevel=3)
    raise RuntimeError(message + "\n(twice in a row)")


def max_state_difference(a: dict, b: dict) -> float:
    """Largest absolute difference between two state_dicts with the same keys."""
    if a.keys() != b.keys():
        wrapped = any(k.startswith("module.") for k in [*a, *b])
        hint = ("; 'module.' is the DistributedDataParallel wrapper's prefix: save model.module.state_dict(), "
                "the model inside it" if wrapped else "")
        raise ValueError(f"the state_dicts have different keys: {sorted(a)} vs {sorted(b)}{hint}")
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


def states_equal(a: dict, b: dict) -> bool:
    """Bit-identical state_dicts."""
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --- checkpoint and resume --------------------------------------------------------------------------

class ResumableRun:
    """A small training run that can be stopped and resumed exactly.

    Model: MLP with dropout (so the global RNG matters); Adam; StepLR; each epoch's order drawn
    from a data generator. ``train(steps)`` trains that many more steps; ``checkpoint()`` returns
    everything needed to continue; ``ResumableRun.resume(ckpt, data)`` rebuilds the run from it.
    """

    def __init__(self, data, *, seed: int = 0, batch_size: int = 16, lr: float = 0.01, hidden: int = 32):
        self.X, self.y = data
        self.batch_size = batch_size
        torch.manual_seed(seed)
        self.model = nn.Sequential(nn.Linear(self.X.shape[1], hidden), nn.ReLU(), nn.Dropout(0.2),
                                   nn.Linear(hidden, int(self.y.max()) + 1))
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=10, gamma=0.5)
        self.data_rng = torch.Generator().manual_seed(seed + 1)
        self.step, self.order = 0, None
        self.steps_per_epoch = len(self.X) // batch_size

    def train(self, steps: int) -> None:
        self.model.train()
        for _ in range(steps):
            position = self.step % self.steps_per_epoch
            if position == 0:  # a new epoch: a new order
                self.order = torch.randperm(len(self.X), generator=self.data_rng)
            idx = self.order[position * self.batch_size:(position + 1) * self.batch_size]
            self.optimizer.zero_grad()
            nn.functional.cross_entropy(self.model(self.X[idx]), self.y[idx]).backward()
            self.optimizer.step()
            self.step += 1
            if self.step % self.steps_per_epoch == 0:
                self.scheduler.step()  # once an epoch

    def checkpoint(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "torch_rng": torch.get_rng_state(),
                "data_rng": self.data_rng.get_state(), "order": self.order, "step": self.step}

    @classmethod
    def resume(cls, ckpt: dict, data, **kwargs) -> "ResumableRun":
        run = cls(data, **kwargs)
        run.model.load_state_dict(ckpt["model"])
        run.optimizer.load_state_dict(ckpt["optimizer"])
        run.scheduler.load_state_dict(ckpt["scheduler"])
        torch.set_rng_state(ckpt["torch_rng"])
        run.data_rng.set_state(ckpt["data_rng"])
        run.order, run.step = ckpt["order"], ckpt["step"]
        return run


def save_and_load(obj, *, weights_only: bool = True):
    """torch.save into memory and torch.load back (as a file on disk would)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=weights_only)


UNPICKLE_LOG: list[str] = []


def record_unpickling(message: str) -> None:
    UNPICKLE_LOG.append(message)


class RunsCodeWhenUnpickled:
    """Why ``weights_only=True``: unpickling calls whatever ``__reduce__`` names. This harmless one
    only appends a line to ``UNPICKLE_LOG``; a malicious checkpoint could run any command."""

    def __reduce__(self):
        return (record_unpickling, ("code ran while loading the checkpoint",))


# --- activation memory ------------------------------------------------------------------------------

def deep_mlp(depth: int = 16, width: int = 256, seed: int = 0) -> nn.Sequential:
    """``depth`` blocks of Linear(width, width) + Tanh."""
    torch.manual_seed(seed)
    return nn.Sequential(*[nn.Sequential(nn.Linear(width, width), nn.Tanh()) for _ in range(depth)])


def saved_activation_bytes(model: nn.Sequential, x: torch.Tensor, *, segments: int | None = None):
    """Bytes autograd keeps for the backward at the end of the forward (parameters excluded; each
    storage counted once), with ``checkpoint_sequential(model, segments, x)`` if ``segments``.

    Returns (bytes, output). Uses ``torch.autograd.graph.saved_tensors_hooks``: works on any device."""
    params = {p.data_ptr() for p in model.parameters()}
    kept: dict = {}

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in params:
            kept[ptr] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        if segments is None:
            out = model(x)
        else:
            out = checkpoint_sequential(model, segments, x, use_reentrant=True)
    return sum(kept.values()), out


def time_forward_backward(model, x, *, segments=None, repeats: int = 5) -> float:
    """Median seconds of one forward + backward (checkpointed with ``segments`` if given)."""
    times = []
    for _ in range(repeats + 1):
        model.zero_grad()
        start = time.perf_counter()
        out = model(x) if segments is None else checkpoint_sequential(model, segments, x, use_reentrant=True)
        out.square().mean().backward()
        times.append(time.perf_counter() - start)
    times = sorted(times[1:])  # the first run warms up
    return times[len(times) // 2]


# --- data loading ------------------------------------------------------------------------------------

class SlowDataset(torch.utils.data.Dataset):
    """Items that cost CPU time to prepare (decoding and augmenting an image, say): ``work`` rounds of
    a small matrix product per item. Deterministic: item i is the same whoever loads it."""

    def __init__(self, n: int = 512, size: int = 32, work: int = 20):
        self.n, self.size, self.work = n, size, work

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        x = torch.randn(self.size, self.size, generator=g)
        for _ in range(self.work):
            x = torch.tanh(x @ x.T / self.size)
        return x, i % 10


def loader_throughput(dataset, *, num_workers: int = 0, batch_size: int = 64, pin_memory: bool = False) -> float:
    """Samples per second of one pass over a ``DataLoader`` with ``num_workers`` worker processes
    (0: the training process prepares every batch itself). ``pin_memory`` puts batches in page-locked
    memory, which makes copies to a GPU faster and asynchronous (it only matters with a GPU)."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=num_workers,
                                         pin_memory=pin_memory and torch.cuda.is_available())
    start = time.perf_counter()
    count = sum(len(y) for _, y in loader)
    return count / (time.perf_counter() - start)


# --- torch.compile ----------------------------------------------------------------------------------

def time_compile(model, x, *, repeats: int = 20):
    """(eager seconds per call, compiled seconds per call, compile seconds), or (None, reason) where
    torch.compile cannot run here (no C++ compiler, unsupported platform)."""
    model.eval()
    try:
        compiled = torch.compile(model)
        start = time.perf_counter()
        with torch.no_grad():
            compiled(x)
        compile_s = time.perf_counter() - start
    except Exception as err:  # no compiler, unsupported Python: say why and move on
        return None, f"torch.compile is not available here: {type(err).__name__}: {str(err)[:200]}"

    def per_call(fn):
        with torch.no_grad():
            fn(x)
            best = float("inf")
            for _ in range(3):  # best of 3 blocks of `repeats` calls
                start = time.perf_counter()
                for _ in range(repeats):
                    fn(x)
                best = min(best, (time.perf_counter() - start) / repeats)
        return best

    return (per_call(model), per_call(compiled), compile_s), None


# --- scaling laws -----------------------------------------------------------------------------------

def teacher_task(seed: int = 0, features: int = 8, hidden: int = 256, sharpness: float = 2.0):
    """A fixed random 'teacher' network y = tanh(x W1) W2 (``sharpness`` scales W1: a wigglier function),
    the function every student learns from fresh samples each step, so the loss measures capacity and
    training budget, not memorisation. Returns ``sample(n, generator) -> (X (n, features), y (n, 1))``."""
    g = torch.Generator().manual_seed(10_000 + seed)
    W1 = torch.randn(features, hidden, generator=g) * sharpness / features**0.5
    W2 = torch.randn(hidden, 1, generator=g) / hidden**0.5

    def sample(n, generator):
        X = torch.randn(n, features, generator=generator)
        return X, torch.tanh(X @ W1) @ W2
    return sample


def scaling_sweep(widths, *, steps: int = 150, batch_size: int = 256, seed: int = 0, lr: float = 1e-2):
    """Train a 2-layer tanh MLP student of each width for ``steps`` Adam steps on the teacher task.
    Returns a list of (parameters, test loss, training FLOPs ~ 6 N D); the test loss is the mean
    squared error over the variance of y (the share of the teacher the student misses)."""
    sample = teacher_task(seed)
    X_test, y_test = sample(2048, torch.Generator().manual_seed(seed + 7))
    results = []
    for width in widths:
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(X_test.shape[1], width), nn.Tanh(), nn.Linear(width, 1))
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        data_rng = torch.Generator().manual_seed(seed + 1)
        for _ in range(steps):
            X, y = sample(batch_size, data_rng)
            optimizer.zero_grad()
            nn.functional.mse_loss(model(X), y).backward()
            optimizer.step()
        with torch.no_grad():
            test = float(nn.functional.mse_loss(model(X_test), y_test) / y_test.var())
        n_params = sum(p.numel() for p in model.parameters())
        results.append((n_params, test, 6.0 * n_params * steps * batch_size))
    return results
