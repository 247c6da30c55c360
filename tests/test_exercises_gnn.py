"""The exercises of notebook 09: each checker accepts the answer and equivalent ones, and rejects
typical wrong answers with the message meant for them."""
import numpy as np
import pytest

from nncourse.exercises import gnn as ex
from nncourse.exercises.solutions import gnn as solutions
from exercise_support import not_attempted, verdict as _verdict


@pytest.mark.parametrize("answer", [
    solutions.in_degree,
    lambda ei, n: np.array([np.sum(ei[1] == i) for i in range(n)]),
    lambda ei, n: np.bincount(ei[1], minlength=n).astype(float),
])
def test_in_degree_accepts(answer):
    assert _verdict(ex.in_degree, answer) == (True, "✓ in_degree: correct on all 3 test cases.")


@pytest.mark.parametrize("wrong, words", [
    (lambda ei, n: np.bincount(ei[0], minlength=n), "leaving"),
    (lambda ei, n: np.bincount(ei[1], minlength=n) + 1, "self-loop"),
    (lambda ei, n: np.bincount(ei.ravel(), minlength=n), "both ends"),
    (lambda ei, n: np.bincount(ei[1]), "shape"),          # forgot minlength: isolated last nodes missing
    (not_attempted, "not attempted"),
])
def test_in_degree_rejects(wrong, words):
    passed, message = _verdict(ex.in_degree, wrong)
    assert not passed and words in message and "bincount" not in message


def _reversed_order(edge_index, num_nodes):
    edges, weight = solutions.gcn_normalize(edge_index, num_nodes)
    return edges[:, ::-1], weight[::-1]


def _dense(edge_index, num_nodes):
    """Another correct answer: through the dense matrix (repeats become counts, kept as repeated columns)."""
    A = np.zeros((num_nodes, num_nodes))
    np.add.at(A, (edge_index[1], edge_index[0]), 1)
    np.fill_diagonal(A, 1)
    d = A.sum(1) ** -0.5
    target, source = np.nonzero(A)
    reps = A[target, source].astype(int)
    source, target = np.repeat(source, reps), np.repeat(target, reps)
    return np.stack([source, target]), d[source] * d[target]


@pytest.mark.parametrize("answer", [solutions.gcn_normalize, _reversed_order, _dense])
def test_gcn_normalize_accepts_any_edge_order(answer):
    assert _verdict(ex.gcn_normalize, answer) == (True, "✓ gcn_normalize: correct on all 5 test cases.")


@pytest.mark.parametrize("wrong, words", [
    (ex._all_loops, "only the missing ones"),
    (ex._no_loops, "ignores its own features"),
    (ex._out_degree, "leaving"),
    (ex._row_normalised, "symmetric"),
    (ex._unique_edges, "counts twice"),
    (lambda ei, n: solutions.gcn_normalize(ei, n)[0], "return two things"),
    (lambda ei, n: (solutions.gcn_normalize(ei, n)[0].T, solutions.gcn_normalize(ei, n)[1]), "shape (2, E')"),
    (lambda ei, n: (solutions.gcn_normalize(ei, n)[0], solutions.gcn_normalize(ei, n)[1] * 2), "a weight is not"),
    (not_attempted, "not attempted"),
])
def test_gcn_normalize_rejects(wrong, words):
    passed, message = _verdict(ex.gcn_normalize, wrong)
    assert not passed and words in message, message
    assert "sqrt(deg" not in message or "symmetric" in message


def test_use_falls_back_to_the_course_answer(capsys):
    assert ex.gcn_normalize.use(not_attempted) is solutions.gcn_normalize
    assert "Using the course's gcn_normalize" in capsys.readouterr().out
