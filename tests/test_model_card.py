"""The model card is generated from the audit: its numbers are the table's numbers."""
import numpy as np

from nncourse import fairness
from nncourse.model_card import audit_limitations, model_card


def make_card():
    y_true = np.array([1, 1, 0, 0, 1, 0, 1, 0, 0, 0])
    y_pred = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    groups = np.array(["A"] * 8 + ["B"] * 2)
    table = fairness.by_group({"count": fairness.count, "selection_rate": fairness.selection_rate,
                               "true_positive_rate": fairness.true_positive_rate}, y_true, y_pred,
                              sensitive_features=groups)
    summary = {"demographic_parity_difference": fairness.demographic_parity_difference(
        y_true, y_pred, sensitive_features=groups)}
    return table, model_card(model_name="toy", model_details="logistic regression", intended_use="teaching",
                             out_of_scope=["real lending decisions"], training_data="synthetic",
                             evaluation_data="synthetic test split", table=table, fairness_summary=summary,
                             limitations=["labels may carry historical bias"])


def test_card_reports_the_audit_numbers_and_limitations():
    table, card = make_card()
    text = card.to_markdown()
    assert text.startswith("# Model card: toy")
    for section in ("## Intended use", "## Data", "## Metrics by group", "## Limitations", "## Ethical considerations"):
        assert section in text
    assert "| A | 8 | 0.375 | 0.500 |" in text and "| B | 2 | 0.000 | 0.000 |" in text
    assert "demographic parity difference: **0.375**" in text
    assert "- real lending decisions" in text and "- labels may carry historical bias" in text
    assert card._repr_markdown_() == text
    # generated limitations: the selection-rate gap and the small group
    notes = audit_limitations(table)
    assert any(n.startswith("The selection rate differs by 0.38") for n in notes)
    assert any("Group B is only 20%" in n for n in notes) is False  # 20% is not below 20%
    assert card.limitations[: len(notes)] == notes


def test_small_gaps_are_not_reported():
    table = fairness.by_group(fairness.selection_rate, [1, 0, 1, 0], [1, 0, 1, 0], sensitive_features=["a", "a", "b", "b"])
    assert audit_limitations(table) == []
