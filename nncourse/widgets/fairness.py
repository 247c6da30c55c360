"""Widgets of notebook 13 (ethics and bias): Fairness dials and the Threshold tuner.

* :class:`FairnessDials` - the knobs of the synthetic loan data (group sizes, base-rate gap,
  label bias, proxy strength, measurement noise) -> regenerate the data, retrain two logistic
  regressions (one that sees the group column, one "blind" to it) and redraw: selection rate,
  TPR and FPR per group, reliability curves per group, and the fairness gaps of both models.
* :class:`ThresholdTuner` - one decision threshold per group over fixed scores: ROC curve per
  group with its operating point, a confusion matrix per group, rates per group, and the
  demographic-parity / equalized-odds gaps and accuracy; buttons jump to "equal selection
  rates" and "equal TPR".

Both change existing artists only (bars' heights, lines' data, images, texts), drawn over a
cached background (see :class:`~nncourse.widgets.base.FigureWidget`).
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from matplotlib.transforms import ScaledTranslation

from .. import fairness_data, fairness, mitigation
from ..activations import sigmoid
from ..layers import mlp
from ..optim import Adam
from ..plotting import CLASS_COLORS
from ..validation import as_1d
from .base import FigureWidget
from .drawing import StampedText

GROUP_COLORS = [CLASS_COLORS[1], CLASS_COLORS[0], CLASS_COLORS[2], CLASS_COLORS[4]]


# The three rates the bars show, by the concept module's definitions (fairlearn's conventions).
RATES = {"selection rate": fairness.selection_rate, "TPR": fairness.true_positive_rate,
         "FPR": fairness.false_positive_rate}


def _rates(y_true, y_pred, codes) -> np.ndarray:
    """Selection rate, TPR, FPR per group, (3, G), from :func:`fairness.by_group` (codes (N,) name
    the groups 0..G-1; an empty denominator gives 0, as in fairlearn)."""
    table = fairness.by_group(RATES, y_true, y_pred, sensitive_features=codes)
    return np.stack([table.by_group[name] for name in RATES])


def _grouped_bars(ax, n_metrics, n_groups, labels, group_names):
    """Bars at metric positions, one colour per group; returns the bar containers (one per group)."""
    width = 0.8 / n_groups
    x = np.arange(n_metrics)
    containers = []
    for g in range(n_groups):
        containers.append(ax.bar(x + (g - (n_groups - 1) / 2) * width, np.zeros(n_metrics), width,
                                 color=GROUP_COLORS[g % len(GROUP_COLORS)], label=str(group_names[g])))
    ax.set_xticks(x, labels)
    return containers


def _logistic_scores(X_train, y_train, X_test, *, steps: int, seed: int, lr: float = 0.1,
                     weight_decay: float = 1e-4) -> np.ndarray:
    """Test scores (N_test,) of the logistic regression :func:`mitigation.train_classifier` fits with
    its defaults (``hidden_size=0``, no sample weights): the same initial weights, gradients and
    steps of the course's :class:`~nncourse.optim.Adam`, with the model's forward and backward
    written out for one weight vector (F,) and one bias. The dials retrain two such models on every
    move; the layer stack checks shapes, names and types on every step and the loss is recorded,
    which was most of the time (tests: equal to 1e-12).

    X_train (N, F), y_train (N,) in {0, 1}, X_test (M, F) -> P(y = 1 | x) (M,).
    """
    X = np.asarray(X_train, dtype=np.float64)
    y = np.asarray(y_train, dtype=np.float64)
    features = X.shape[1]
    linear = mlp([features, 1], seed=seed).layers[0]       # train_classifier's initial weights
    # Weights and bias in one vector (Adam is elementwise: the same steps as two parameters, at
    # half the optimizer's per-step cost); weight and bias are views of it, updated in place.
    theta = np.concatenate([linear.params["weight"][0], linear.params["bias"]])  # (F + 1,)
    weight, bias = theta[:features], theta[features:]       # (F,), (1,)
    optimizer = Adam({"theta": theta}, lr=lr, weight_decay=weight_decay)
    grad = np.empty_like(theta)
    for _ in range(steps):
        z = X @ weight + bias                                  # (N,) logits
        dz = (sigmoid(z) - y) / len(y)                         # dL/dz of the mean loss, (N,)
        np.matmul(dz, X, out=grad[:features])                  # dL/dW
        grad[features] = dz.sum()                              # dL/db
        optimizer.step({"theta": grad})
    return sigmoid(np.asarray(X_test, dtype=np.float64) @ weight + bias)


class FairnessDials(FigureWidget):
    """Dial the sources of bias in the synthetic loan data and watch a retrained model respond."""

    def __init__(self, *, n: int = 2000, seed: int = 0, steps: int = 100):
        super().__init__(figsize=(11, 3.8))
        self.n, self.seed, self.steps = n, seed, steps
        def slider(description, **kwargs):
            # a Layout of its own per control: a Layout shared by several widgets hides or resizes
            # all of them when one changes
            return widgets.FloatSlider(description=description, continuous_update=False,
                                       style={"description_width": "120px"},
                                       layout=widgets.Layout(width="330px"), **kwargs)

        self.minority_fraction = slider("size of group B", value=0.3, min=0.05, max=0.5, step=0.05)
        self.base_rate_gap = slider("base-rate gap", value=0.0, min=0.0, max=0.4, step=0.05)
        self.label_bias = slider("label bias", value=0.3, min=0.0, max=0.8, step=0.05)
        self.proxy_strength = slider("proxy strength", value=0.8, min=0.0, max=0.95, step=0.05)
        self.noise_b = slider("noise in group B", value=0.3, min=0.0, max=2.0, step=0.1)
        self.sees_group = widgets.Checkbox(value=True, description="model sees the group column", indent=False,
                                           layout=widgets.Layout(width="260px", margin="0 0 0 20px"))
        self.judge = widgets.ToggleButtons(options=[("recorded labels", "recorded"), ("true qualification", "true")],
                                           value="recorded", style={"button_width": "150px"})
        # a label of our own: JupyterLab put the ToggleButtons' own description on a line above the buttons
        judge_label = widgets.HTML("<div style='text-align: right; padding-right: 8px'>judge against</div>",
                                   layout=widgets.Layout(width="128px"))
        self.controls = widgets.VBox([
            widgets.HBox([self.minority_fraction, self.base_rate_gap, self.label_bias]),
            widgets.HBox([self.proxy_strength, self.noise_b, self.sees_group]),
            widgets.HBox([judge_label, self.judge]), self.status,
        ])
        self.observe(self.minority_fraction, self.base_rate_gap, self.label_bias, self.proxy_strength,
                     self.noise_b, self.sees_group, self.judge)

        self.ax_rates, self.ax_calib, self.ax_gaps = self.fig.subplots(
            1, 3, gridspec_kw={"width_ratios": [1.2, 1, 1]})
        self.rate_bars = _grouped_bars(self.ax_rates, 3, 2, list(RATES), ["group A", "group B"])
        self.ax_rates.set_ylim(0, 1)
        self.ax_rates.set_ylabel("rate")
        self.ax_rates.set_title(" ", fontsize=10)  # which model: set in update()
        self.ax_rates.legend(loc="upper right", fontsize=8)
        self.ax_calib.plot([0, 1], [0, 1], ":", color="gray", lw=1)
        self.calib_lines = [self.ax_calib.plot([], [], "o-", ms=3, color=GROUP_COLORS[g],
                                               label=f"group {name}")[0] for g, name in enumerate("AB")]
        self.ax_calib.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted probability")
        # The y label names the labels judged against and changes with them. An axis label is always
        # drawn into the cached background, so this is a text of the axes, animated, where the label
        # goes: 30 points left of the axes' middle.
        self.calib_ylabel = self.ax_calib.text(
            0, 0.5, "fraction approved in the records", rotation=90, ha="center", va="center", fontsize=10,
            transform=self.ax_calib.transAxes + ScaledTranslation(-30 / 72, 0, self.fig.dpi_scale_trans))
        self.ax_calib.set_title("calibration per group", fontsize=10)
        self.ax_calib.legend(loc="upper left", fontsize=8)
        self.gap_bars = [self.ax_gaps.bar(np.arange(2) + (k - 0.5) * 0.38, np.zeros(2), 0.38, color=color,
                                          label=label)
                         for k, (color, label) in enumerate([("#555555", "sees group"), ("#bbbbbb", "blind")])]
        self.ax_gaps.set_xticks(np.arange(2), ["demographic\nparity diff.", "equalized\nodds diff."])
        self.ax_gaps.set_ylim(0, 0.6)
        self.ax_gaps.set_title("fairness gaps of both models (0 = parity)", fontsize=10)
        self.ax_gaps.legend(loc="upper right", fontsize=8)
        self.fig.tight_layout()
        bars = [b for c in self.rate_bars + self.gap_bars for b in c]
        # The two texts that change are stamped from pictures drawn once per string (laying out
        # their glyphs on every refresh cost more than all the bars and lines)
        self.animate(*bars, *self.calib_lines, StampedText(self.ax_rates.title), StampedText(self.calib_ylabel))
        self.results: dict = {}
        self._trained_key, self._trained_value = None, None
        self.update()

    def settings(self) -> dict:
        return dict(n=self.n, seed=self.seed, minority_fraction=self.minority_fraction.value,
                    base_rate_gap=self.base_rate_gap.value, label_bias=self.label_bias.value,
                    proxy_strength=self.proxy_strength.value, noise_b=self.noise_b.value)

    def _trained(self):
        """Data and the two models' test scores for the current dials (cached: the checkbox and
        the "judge against" buttons only change what is shown, not what is trained)."""
        key = tuple(sorted(self.settings().items()))
        if self._trained_key != key:
            data = fairness_data.loan_data(**self.settings())
            probs = {}
            for name, d in (("sees_group", data), ("blind", data.drop("group"))):
                # mitigation.train_classifier(d.X_train, d.y_train, steps=..., seed=...).predict_proba(d.X_test)
                probs[name] = _logistic_scores(d.X_train, d.y_train, d.X_test, steps=self.steps, seed=self.seed)
            self._trained_key, self._trained_value = key, (data, probs)
        return self._trained_value

    def retrain(self) -> dict:
        """Generate the data for the current dials, train both models (if the dials moved) and
        audit them on the test split; returns the audit numbers."""
        data, probs = self._trained()
        labels = data.y_test if self.judge.value == "recorded" else data.qualified_test
        _, codes = fairness.group_index(data.A_test)
        result = {"data": data}
        for key, prob in probs.items():
            y_pred = (prob >= 0.5).astype(np.int64)
            table = fairness.by_group(RATES, labels, y_pred, sensitive_features=codes)
            gaps = table.difference()  # largest gap between groups, per rate
            result[key] = {
                "prob": prob, "y_pred": y_pred,
                "rates": np.stack([table.by_group[name] for name in RATES]),  # (3, G)
                "accuracy": float(np.mean(y_pred == labels)),
                # fairness.demographic_parity_difference and equalized_odds_difference, read off the
                # same table instead of grouping the decisions twice more
                "dp": gaps["selection rate"],
                "eo": max(gaps["TPR"], gaps["FPR"]),
                "calibration": fairness.calibration_by_group(labels, prob, sensitive_features=data.A_test, n_bins=8),
            }
        return result

    def update(self):
        self.results = result = self.retrain()
        shown = result["sees_group" if self.sees_group.value else "blind"]
        self.ax_rates.set_title("decisions of the model that sees the group" if self.sees_group.value
                                else "decisions of the blind model", fontsize=10)
        self.calib_ylabel.set_text("fraction approved in the records" if self.judge.value == "recorded"
                                   else "fraction truly qualified")
        for g, container in enumerate(self.rate_bars):
            for bar, height in zip(container, shown["rates"][:, g]):
                bar.set_height(height)
        for line, group in zip(self.calib_lines, "AB"):
            curve = shown["calibration"].get(group)
            line.set_data(*(curve.mean_predicted, curve.fraction_positive) if curve else ([], []))
        gaps = [(result[key]["dp"], result[key]["eo"]) for key in ("sees_group", "blind")]
        top = 0.6 if max(max(g) for g in gaps) <= 0.58 else 1.0  # gaps live in [0, 1]; zoom when small
        if self.ax_gaps.get_ylim()[1] != top:
            self.ax_gaps.set_ylim(0, top)
            self.invalidate()
        for container, heights in zip(self.gap_bars, gaps):
            for bar, height in zip(container, heights):
                bar.set_height(height)
        data = result["data"]
        ece = {g: c.ece for g, c in shown["calibration"].items()}
        truth = "recorded (possibly biased) test labels" if self.judge.value == "recorded" else \
            "the true qualification (known only because the data are synthetic)"
        self.status.value = (
            f"Judged against {truth}. Base rates in the recorded training labels: "
            + ", ".join(f"{g} {r:.2f}" for g, r in data.base_rates().items())
            + f".<br>Model that <b>sees</b> the group: accuracy {result['sees_group']['accuracy']:.3f}, "
            f"DP diff {result['sees_group']['dp']:.3f}, EO diff {result['sees_group']['eo']:.3f}. "
            f"<b>Blind</b> model: accuracy {result['blind']['accuracy']:.3f}, DP diff {result['blind']['dp']:.3f}, "
            f"EO diff {result['blind']['eo']:.3f}. ECE of the shown model: "
            + ", ".join(f"{g} {v:.3f}" for g, v in ece.items()) + ".")


class ThresholdTuner(FigureWidget):
    """One threshold per group over fixed scores; ROC, confusion matrices, rates and gaps follow."""

    def __init__(self, scores, y_true, *, sensitive_features, title: str = ""):
        super().__init__(figsize=(11, 4.2))
        self.scores = as_1d(scores, "scores").astype(np.float64)
        if not (np.all(np.isfinite(self.scores)) and np.all((self.scores >= 0) & (self.scores <= 1))):
            raise ValueError("scores must be probabilities in [0, 1] (the thresholds slide over [0, 1]), got values "
                             f"in [{np.nanmin(self.scores):g}, {np.nanmax(self.scores):g}]")
        self.y_true = _labels01(y_true, len(self.scores))
        self.groups, self.codes = fairness.group_index(sensitive_features, len(self.scores))
        if len(self.groups) > 4:
            raise ValueError(f"ThresholdTuner shows at most 4 groups, got {len(self.groups)}: {self.groups[:6]}")
        self.sensitive_features = np.asarray(self.groups, dtype=object)[self.codes]
        G = len(self.groups)
        self.sliders = [widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.001, readout_format=".3f",
                                            description=f"t[{g}]", continuous_update=True,
                                            layout=widgets.Layout(width="330px")) for g in self.groups]
        self.equal_selection_button = widgets.Button(description="equal selection rates",
                                                     tooltip="demographic parity, same number selected overall",
                                                     layout=widgets.Layout(width="170px"))
        self.equal_tpr_button = widgets.Button(description="equal TPR", tooltip="equal opportunity",
                                               layout=widgets.Layout(width="120px"))
        self.single_button = widgets.Button(description="one threshold 0.5", layout=widgets.Layout(width="150px"))
        self.equal_selection_button.on_click(lambda _: self.equalize("selection_rate"))
        self.equal_tpr_button.on_click(lambda _: self.equalize("tpr"))
        self.single_button.on_click(lambda _: self.set_thresholds({g: 0.5 for g in self.groups}))
        self.controls = widgets.VBox([
            widgets.HBox(self.sliders[:2]), *([widgets.HBox(self.sliders[2:])] if G > 2 else []),
            widgets.HBox([self.equal_selection_button, self.equal_tpr_button, self.single_button]),
            self.status,
        ])
        self.observe(*self.sliders)

        grid = self.fig.add_gridspec(G, 3, width_ratios=[1.15, 1.15, 0.55])
        self.ax_roc = self.fig.add_subplot(grid[:, 0])
        self.ax_rates = self.fig.add_subplot(grid[:, 1])
        self.ax_cm = [self.fig.add_subplot(grid[g, 2]) for g in range(G)]
        self.ax_roc.plot([0, 1], [0, 1], ":", color="gray", lw=1)
        self.points = []
        for g, name in enumerate(self.groups):
            mask = self.codes == g
            fpr, tpr, _ = fairness.roc_curve(self.y_true[mask], self.scores[mask]) if len(
                np.unique(self.y_true[mask])) == 2 else (np.array([0, 1]), np.array([0, 1]), None)
            color = GROUP_COLORS[g % len(GROUP_COLORS)]
            self.ax_roc.plot(fpr, tpr, color=color, lw=1.5, label=str(name))
            self.points.append(self.ax_roc.plot([], [], "o", ms=9, color=color, mec="k", zorder=5)[0])
        self.ax_roc.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="false positive rate", ylabel="true positive rate",
                        title="ROC per group (dot: threshold)")
        self.ax_roc.legend(loc="lower right", fontsize=8)
        self.rate_bars = _grouped_bars(self.ax_rates, 3, G, list(RATES), self.groups)
        self.ax_rates.set_ylim(0, 1)
        self.ax_rates.set_ylabel("rate")
        self.ax_rates.legend(loc="upper right", fontsize=8)
        self.ax_rates.set_title(" ")
        self.cm_images, self.cm_texts = [], []
        for g, ax in enumerate(self.ax_cm):
            self.cm_images.append(ax.imshow(np.zeros((2, 2)), cmap="Blues", vmin=0, vmax=1))
            self.cm_texts.append([ax.text(j, i, "", ha="center", va="center", fontsize=8)
                                  for i in range(2) for j in range(2)])
            ax.set_xticks([0, 1], ["pred 0", "pred 1"], fontsize=7)
            ax.set_yticks([0, 1], ["true 0", "true 1"], fontsize=7)
            ax.tick_params(length=0)
            ax.set_title(f"group {self.groups[g]}", fontsize=9, color=GROUP_COLORS[g % len(GROUP_COLORS)], pad=2)
        if title:
            self.fig.suptitle(title, fontsize=10)
        self.fig.tight_layout()
        self.animate(*self.points, *[b for c in self.rate_bars for b in c], *self.cm_images,
                     *[t for texts in self.cm_texts for t in texts], self.ax_rates.title)
        self.metrics: dict = {}
        self.update()

    # --- actions ---------------------------------------------------------------------------
    @property
    def thresholds(self) -> dict:
        return {g: s.value for g, s in zip(self.groups, self.sliders)}

    def set_thresholds(self, thresholds: dict) -> None:
        """Move the sliders (clipped to [0, 1]) and redraw once."""
        with self.hold():
            for g, slider in zip(self.groups, self.sliders):
                slider.value = float(np.clip(thresholds[g], 0.0, 1.0))

    def predictions(self) -> np.ndarray:
        return mitigation.apply_thresholds(self.scores, sensitive_features=self.sensitive_features,
                                           thresholds=self.thresholds)

    def equalize(self, criterion: str) -> dict:
        """Jump to thresholds that give every group the current overall selection rate
        (``"selection_rate"``) or the current overall TPR (``"tpr"``)."""
        y_pred = self.predictions()
        if criterion == "selection_rate":
            t = mitigation.equal_selection_thresholds(self.scores, sensitive_features=self.sensitive_features,
                                                      rate=float(y_pred.mean()))
        elif criterion == "tpr":
            positive = self.y_true == 1
            t = mitigation.equal_tpr_thresholds(self.scores, self.y_true, sensitive_features=self.sensitive_features,
                                                tpr=float(y_pred[positive].mean()) if positive.any() else 0.5)
        else:
            raise ValueError(f"criterion must be 'selection_rate' or 'tpr', got {criterion!r}")
        self.set_thresholds(t)
        return t

    # --- drawing ---------------------------------------------------------------------------
    def update(self):
        y_pred = self.predictions()
        rates = _rates(self.y_true, y_pred, self.codes)  # (3, G)
        for g, container in enumerate(self.rate_bars):
            for bar, height in zip(container, rates[:, g]):
                bar.set_height(height)
            self.points[g].set_data([rates[2, g]], [rates[1, g]])
            mask = self.codes == g
            t, p = self.y_true[mask], y_pred[mask]
            counts = np.array([[np.sum((t == i) & (p == j)) for j in (0, 1)] for i in (0, 1)])  # (true, pred)
            self.cm_images[g].set_data(counts / max(counts.sum(), 1))
            for text, value in zip(self.cm_texts[g], counts.ravel()):  # (2, 2) -> TN, FP, FN, TP
                text.set_text(f"{value:,}")
        kw = dict(sensitive_features=self.sensitive_features)
        self.metrics = {
            "accuracy": float(np.mean(y_pred == self.y_true)),
            "demographic_parity_difference": fairness.demographic_parity_difference(self.y_true, y_pred, **kw),
            "equalized_odds_difference": fairness.equalized_odds_difference(self.y_true, y_pred, **kw),
            "equal_opportunity_difference": fairness.equal_opportunity_difference(self.y_true, y_pred, **kw),
            "selection_rate": dict(zip(self.groups, rates[0])), "tpr": dict(zip(self.groups, rates[1])),
            "fpr": dict(zip(self.groups, rates[2])),
        }
        m = self.metrics
        self.ax_rates.set_title(f"accuracy {m['accuracy']:.3f} | DP diff {m['demographic_parity_difference']:.3f}"
                                f" | EO diff {m['equalized_odds_difference']:.3f}", fontsize=9)
        self.status.value = ("Thresholds " + ", ".join(f"{g}: {t:.3f}" for g, t in self.thresholds.items())
                             + f" → accuracy {m['accuracy']:.3f}, demographic parity difference "
                             f"{m['demographic_parity_difference']:.3f}, equalized odds difference "
                             f"{m['equalized_odds_difference']:.3f}, equal opportunity difference "
                             f"{m['equal_opportunity_difference']:.3f}.")


def _labels01(y, n) -> np.ndarray:
    y = as_1d(y, "y_true")
    if len(y) != n:
        raise ValueError(f"y_true must have one label per score ({n}), got {len(y)}")
    bad = sorted(set(np.unique(y).tolist()) - {0, 1})
    if bad:
        raise ValueError(f"y_true must hold labels 0 and 1, got unexpected value(s) {bad[:10]}")
    return y.astype(np.int64)


__all__ = ["FairnessDials", "ThresholdTuner"]
