"""A short model card generated from an audit (notebook 13).

Model cards (Mitchell et al., "Model Cards for Model Reporting", FAT* 2019) are a page that
travels with a trained model: what it is for and not for, what data it learned from, how it
performs *for each group*, and what its known limitations are. :func:`model_card` fills the
numbers in from a :class:`~nncourse.fairness.GroupTable` so they cannot drift from the audit;
the people who build the model still write the intended use and the caveats.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .fairness import GroupTable


@dataclass
class ModelCard:
    """The sections of a model card; ``to_markdown()`` renders it (and notebooks display it)."""

    model_name: str
    model_details: str
    intended_use: str
    out_of_scope: list[str]
    training_data: str
    evaluation_data: str
    table: GroupTable
    fairness_summary: dict[str, float]
    limitations: list[str] = field(default_factory=list)
    ethical_considerations: list[str] = field(default_factory=list)

    def to_markdown(self) -> str:
        metrics = self.table.metrics
        header = f"| {self.table.sensitive_name} | " + " | ".join(m.replace("_", " ") for m in metrics) + " |"
        rule = "|---" * (len(metrics) + 1) + "|"
        rows = [f"| {g} | " + " | ".join(_fmt(self.table.by_group[m][i]) for m in metrics) + " |"
                for i, g in enumerate(self.table.groups)]
        rows.append("| **overall** | " + " | ".join(_fmt(self.table.overall[m]) for m in metrics) + " |")
        summary = "\n".join(f"- {name.replace('_', ' ')}: **{value:.3f}**" for name, value in self.fairness_summary.items())
        bullets = lambda items: "\n".join(f"- {item}" for item in items) or "- (none recorded)"  # noqa: E731
        blocks = [  # blank lines between blocks, so every Markdown renderer sees lists and tables
            f"# Model card: {self.model_name}",
            "## Model details", self.model_details,
            "## Intended use", self.intended_use,
            "**Out of scope:**", bullets(self.out_of_scope),
            "## Data", f"**Training:** {self.training_data}", f"**Evaluation:** {self.evaluation_data}",
            f"## Metrics by {self.table.sensitive_name} (evaluation data)", "\n".join([header, rule, *rows]),
            "**Fairness summary** (0 = parity):", summary,
            "## Limitations", bullets(self.limitations),
            "## Ethical considerations", bullets(self.ethical_considerations),
        ]
        return "\n\n".join(blocks) + "\n"

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        return self.to_markdown()


def _fmt(value) -> str:
    value = float(value)
    return f"{int(value):,}" if value.is_integer() and abs(value) >= 1 else f"{value:.3f}"


def audit_limitations(table: GroupTable, *, gap_threshold: float = 0.05) -> list[str]:
    """Plain sentences for the largest gaps in the table (only those above ``gap_threshold``)
    and for small groups - the facts a reader of the card should not have to dig for."""
    notes = []
    labels = {"selection_rate": "selection rate", "true_positive_rate": "true positive rate",
              "false_positive_rate": "false positive rate", "accuracy": "accuracy",
              "expected_calibration_error": "calibration error (ECE)"}
    for metric, values in table.by_group.items():
        if metric == "count" or metric not in labels or np.all(np.isnan(values)):
            continue
        lo, hi = int(np.nanargmin(values)), int(np.nanargmax(values))
        gap = values[hi] - values[lo]
        if gap > gap_threshold:
            notes.append(f"The {labels[metric]} differs by {gap:.2f} between groups: {values[hi]:.2f} for "
                         f"{table.groups[hi]} vs {values[lo]:.2f} for {table.groups[lo]}.")
    if "count" in table.by_group:
        counts = table.by_group["count"]
        smallest = int(np.argmin(counts))
        if counts[smallest] < 0.2 * counts.sum():
            notes.append(f"Group {table.groups[smallest]} is only {counts[smallest] / counts.sum():.0%} of the "
                         f"evaluation data ({int(counts[smallest]):,} examples): its numbers are the least certain.")
    return notes


def model_card(*, model_name: str, model_details: str, intended_use: str, out_of_scope: list[str],
               training_data: str, evaluation_data: str, table: GroupTable, fairness_summary: dict[str, float],
               limitations: list[str] = (), ethical_considerations: list[str] = ()) -> ModelCard:
    """A :class:`ModelCard` whose metrics and first limitations come from the audit ``table``."""
    return ModelCard(model_name, model_details, intended_use, list(out_of_scope), training_data, evaluation_data,
                     table, dict(fairness_summary), audit_limitations(table) + list(limitations),
                     list(ethical_considerations))


__all__ = ["ModelCard", "model_card", "audit_limitations"]
