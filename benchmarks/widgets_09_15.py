"""Kernel-side update time of the widgets of notebooks 09-15 (target: median <= 50 ms).

Each sample moves one control and times the whole refresh: recompute, update the artists,
render, encode the picture sent to the browser. Wall time is what a user waits for on this machine;
CPU time is less sensitive to other processes sharing it (on a loaded machine, judge by it and
rerun when the load average is low).

Every widget is built as its notebook builds it in quick mode (same arguments, same data), except
for what the notebook trains or measures first, which is replaced by a small seeded stand-in of the
same shape; the update time does not depend on those numbers:

* 10 LabelBudgetExplorer: records of ``label_budget_runs``' shape (4 methods, budgets 1/5/10/50,
  3 seeds) with made-up accuracies (the widget only redraws them).
* 12 CompressionExplorer: the first layer (128 x 64) of the untrained quick-mode MLP with the
  notebook's outlier row (x32), and a made-up accuracy/size table over the notebook's settings.
* 14 AttributionExplorer: the notebook's CNN untrained (the attribution methods do the same
  products whatever the weights), on the 16 test digits of quick mode.
* 15 AttackExplorer: the notebook's MLP (64-64-10) untrained, on the first 200 test digits
  (FGSM / PGD cost one backward pass per step whatever the weights); PrivacyExplorer: a made-up
  grid of accuracies and AUCs (only markers and titles move).

AttributionExplorer caches each computed map: the rows below move to settings not seen before
(the slow case), except the image slider, whose maps the widget computes when it is built. On two
or more cores the NumPy CNN computes the two halves of each convolution in two threads, so those
rows' CPU ms (both threads) exceed their wall ms. WillItFit redraws its axes in full when the x range
steps to a size not shown before; it keeps each range's background, so dragging back costs no redraw.
Run: python benchmarks/widgets_09_15.py
"""
import os

import networkx as nx
import numpy as np
import torch

import nncourse
from nncourse import Linear, ReLU, Sequential, graph_data, robustness
from nncourse.at_scale import compression as compression_at_scale
from nncourse.at_scale.transfer import METHODS as TRANSFER_METHODS
from nncourse.cnn import Conv2d, Flatten, MaxPool2d
from nncourse.data import load_digits, load_image_data
from nncourse.widgets.compression import CompressionExplorer
from nncourse.widgets.explain import AttributionExplorer
from nncourse.widgets.gnn import MessagePassingWidget
from nncourse.widgets.privacy import PrivacyExplorer
from nncourse.widgets.robustness import AttackExplorer
from nncourse.widgets.scale import WillItFit
from nncourse.widgets.transfer import LabelBudgetExplorer
from timing import measure_widget_cpu as measure, print_widget_table

SEED = 0


def message_passing_rows():
    """Notebook 09, cell "explorer = MessagePassingWidget(karate, ...)"."""
    karate = graph_data.karate_club()
    layout = nx.kamada_kawai_layout(karate.to_networkx())
    positions = np.array([layout[i] for i in range(karate.num_nodes)])
    w = MessagePassingWidget(karate, node=0, layers=2, max_layers=8, seed=SEED, positions=positions)
    rows = [("MessagePassingWidget: node (drag 0 .. 33)", *measure(w, w.node, range(1, 34))),
            ("MessagePassingWidget: layers (drag 0 .. 8, back)", *measure(w, w.layers, [*range(9), *range(7, -1, -1)])),
            ("MessagePassingWidget: residual box", *measure(w, w.residual, [True, False] * 5))]
    w.close()
    return rows


def label_budget_rows():
    """Notebook 10: ``LabelBudgetExplorer(runs, budget=5, ...)``, quick mode's budgets and seeds."""
    rng = np.random.default_rng(SEED)
    records = [{"method": m, "budget": k, "seed": s, "accuracy": float(rng.uniform(0.4, 0.98))}
               for m in TRANSFER_METHODS for k in (1, 5, 10, 50) for s in range(3)]
    w = LabelBudgetExplorer(records, budget=5, title="body pretrained on 0-4, reused for 5-9")
    rows = [("LabelBudgetExplorer: budget (1 .. 50, back)", *measure(w, w.budget, [10, 50, 10, 5, 1, 5] * 3))]
    for m in TRANSFER_METHODS:
        rows.append((f"LabelBudgetExplorer: box '{m}'", *measure(w, w.shown[m], [False, True] * 3)))
    w.close()
    return rows


def will_it_fit_rows():
    """Notebook 11: ``WillItFit(model=2, zero_stage=0, gpus=8)``."""
    w = WillItFit(model=2, zero_stage=0, gpus=8)
    w.update()
    models = [value for _, value in w.model.options]
    drag = [*models[3:], *models[::-1], *models[1:3]]   # up from model 2, down to the first, back
    rows = [("WillItFit: model (drag over the models)", *measure(w, w.model, drag)),
            ("WillItFit: precision", *measure(w, w.precision, ["fp16", "fp32", "bf16"] * 3)),
            ("WillItFit: optimizer", *measure(w, w.optimizer, ["momentum", "sgd", "adam"] * 3)),
            ("WillItFit: micro-batch (drag 1 .. 64, back)",
             *measure(w, w.batch, [2, 4, 8, 16, 32, 64, 32, 16, 8, 4, 2, 1])),
            ("WillItFit: sequence (drag 256 .. 8192)",
             *measure(w, w.seq_len, [4096, 8192, 4096, 2048, 1024, 512, 256, 512, 1024, 2048])),
            ("WillItFit: activation checkpointing", *measure(w, w.checkpointing, [True, False] * 5)),
            ("WillItFit: ZeRO stage (0 .. 3, back)", *measure(w, w.zero_stage, [1, 2, 3, 2, 1, 0] * 2)),
            ("WillItFit: GPUs (drag 1 .. 1024)",
             *measure(w, w.gpus, [16, 64, 256, 1024, 256, 64, 16, 8, 4, 2, 1, 2, 4, 8]))]
    w.close()
    return rows


def compression_rows():
    """Notebook 12: the explorer over the outlier network's first layer, sparsities 0 / 50 / 80 %."""
    sparsities = (0.0, 0.5, 0.8)
    model = compression_at_scale.mlp([64, 128, 128, 10], seed=SEED)   # quick mode: the 8x8 digits
    weights = model[0].weight.detach().numpy().copy()
    weights[0] *= 32                                                   # the notebook's outlier row
    table = {(b, pc, s, st): {"accuracy": 0.5 + b / 20 - s / 4 + 0.01 * pc - 0.02 * st, "kbytes": b * (1 - s) * 10}
             for b in range(2, 9) for pc in (False, True) for s in sparsities for st in (False, True)}
    w = CompressionExplorer(weights, table, sparsities=sparsities, float_accuracy=0.95,
                            title="first layer of the outlier network")
    rows = [("CompressionExplorer: bits (drag 8 .. 2, back)",
             *measure(w, w.bits, [7, 6, 5, 4, 3, 2, 3, 4, 5, 6, 7, 8])),
            ("CompressionExplorer: per channel", *measure(w, w.per_channel, [True, False] * 5)),
            ("CompressionExplorer: sparsity (0 .. 80 %, back)", *measure(w, w.sparsity, [0.5, 0.8, 0.5, 0.0] * 3)),
            ("CompressionExplorer: structured", *measure(w, w.structured, [True, False] * 5))]
    w.sparsity.value = 0.5
    rows.append(("CompressionExplorer: structured (at 50 %)", *measure(w, w.structured, [True, False] * 5)))
    w.close()
    return rows


def attribution_rows():
    """Notebook 14: ``AttributionExplorer(net, X_test[:16], ...)`` on the notebook's CNN (untrained)."""
    digits = load_digits().with_validation(0.15, seed=SEED)
    X_train, X_test = (digits.images(s).astype(np.float64) for s in ("train", "test"))
    net = Sequential(Conv2d(1, 8, 3, padding=1, seed=SEED), ReLU(), Conv2d(8, 16, 3, padding=1, seed=SEED + 1), ReLU(),
                     MaxPool2d(2), Flatten(), Linear(16 * 4 * 4, 10, seed=SEED + 2))
    w = AttributionExplorer(net, X_test[:16], digits.y_test[:16], mean_image=X_train.mean(axis=0), seed=SEED,
                            title="attribution explorer: the NumPy CNN on the digits")
    rows = [("AttributionExplorer: image (drag 0 .. 15, computed)",
             *measure(w, w.image, [*range(1, 16), *range(14, -1, -1)])),
            ("AttributionExplorer: class (new classes)", *measure(w, w.cls, list(range(10)))),
            ("AttributionExplorer: steps (new counts)", *measure(w, w.steps, [8, 16, 64, 128, 100, 50]))]
    w.cls.value = -1
    w.steps.value = 32
    rows.append(("AttributionExplorer: baseline (new)", *measure(w, w.baseline, ["blurred image", "mean image"])))
    w.image.value = 1
    methods = ["gradient", "gradient × input", "SmoothGrad", "occlusion (2×2)", "integrated gradients"]
    rows.append(("AttributionExplorer: method (new)", *measure(w, w.method, methods)))
    w.image.value = 2
    rows.append(("AttributionExplorer: baseline (new, image 2)",
                 *measure(w, w.baseline, ["blurred image", "mean image", "black (0)"])))
    w.close()
    return rows


def robustness_rows():
    """Notebook 15: both AttackExplorers (one model, then the standard and the adversarially trained
    one) and the PrivacyExplorer over the 4 x 4 grid."""
    data = load_image_data(True, seed=SEED)
    X_test, y_test = data.test
    X_test = X_test.astype(np.float64)[:200]
    y_test = y_test[:200]
    net = nncourse.mlp([X_test.shape[1], 64, 10], seed=SEED)
    robust_net = nncourse.mlp([X_test.shape[1], 64, 10], seed=SEED + 1)
    flipped = net.forward(robustness.pgd(net, X_test, y_test, 0.1)).argmax(axis=1) != y_test
    first = int(np.argmax(flipped))   # the notebook's start: the first image PGD at ε = 0.1 fools
    w = AttackExplorer(net, X_test, y_test, image_shape=data.image_shape, index=first, eps=0.1, steps=10)
    rows = [("AttackExplorer: image (drag over 30 images)", *measure(w, w.index, range(first + 1, first + 31))),
            ("AttackExplorer: ε (drag 0.1 .. 0.5 .. 0, PGD-10)",
             *measure(w, w.eps, [*np.arange(0.11, 0.51, 0.01).round(2), *np.arange(0.49, -0.005, -0.01).round(2)])),
            ("AttackExplorer: PGD steps (drag 1 .. 40)", *measure(w, w.steps, [*range(11, 41), *range(39, 0, -1)])),
            ("AttackExplorer: attack FGSM / PGD", *measure(w, w.method, ["FGSM", "PGD"] * 5))]
    w.close()
    w = AttackExplorer({"adversarially trained": robust_net, "standard": net}, X_test, y_test,
                       image_shape=data.image_shape, index=first, eps=0.1, steps=10)
    rows.append(("AttackExplorer (2 models): model", *measure(w, w.model, ["standard", "adversarially trained"] * 5)))
    w.close()

    rng = np.random.default_rng(SEED)
    sigmas, norms = [0.5, 1.0, 2.0, 4.0], [0.1, 0.3, 1.0, 3.0]
    p = PrivacyExplorer(sigmas, norms, eps=[30.0, 6.0, 1.5, 0.5], accuracy=rng.uniform(0.3, 0.95, (4, 4)),
                        auc=rng.uniform(0.5, 0.7, (4, 4)), baseline=(0.96, 0.68), delta=1e-3, sigma=1.0, clip_norm=1.0)
    rows += [("PrivacyExplorer: noise σ (drag, back)", *measure(p, p.sigma, [2.0, 4.0, 2.0, 1.0, 0.5, 1.0] * 2)),
             ("PrivacyExplorer: clip C (drag, back)", *measure(p, p.clip_norm, [3.0, 1.0, 0.3, 0.1, 0.3, 1.0] * 2))]
    p.close()
    return rows


def main():
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}")
    rows = [*message_passing_rows(), *label_budget_rows(), *will_it_fit_rows(), *compression_rows(),
            *attribution_rows(), *robustness_rows()]
    print_widget_table(rows)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
