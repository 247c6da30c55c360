"""Data for notebook 08 (ethics and bias): a synthetic loan data set with bias you can dial, and
the UCI Adult census data, the standard fairness benchmark.

* :func:`loan_data` - **synthetic**, generated here from a small causal story, so that every
  source of bias is a knob: group sizes, a real difference in base rates, *label bias*
  (historical decisions flipped against one group), a *proxy* feature correlated with the group,
  and measurement noise per group. Because it is synthetic we also know the unbiased truth
  (``qualified_*``), which real data never gives us.
* :func:`load_adult` - UCI Adult (Becker & Kohavi 1996, from the 1994 US census; 48,842 people;
  predict income > $50K), fetched once through :func:`nncourse.data.download` with pinned
  SHA-256 checksums and parsed with the standard library (no pickles).
* :func:`load_fairness_data` - what the notebook trains on: synthetic in quick mode, Adult in
  full mode, falling back to synthetic (with a printed note) when offline.

Each returns a :class:`FairnessData`: features X (N, F) float32, labels y (N,) in {0, 1}, and the
sensitive attribute A (N,) as strings, for a train and a test split.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import NormalDist

import numpy as np

from .data import DownloadError, cache_dir, download
from .validation import check_positive_int


@dataclass
class FairnessData:
    """A binary classification data set with one sensitive attribute, split into train and test.

    X_*: (N, F) float32 standardised features; y_*: (N,) int64 in {0, 1} (the *recorded* labels,
    which may carry bias); A_*: (N,) sensitive attribute values (str). ``qualified_*`` (N,) holds
    the unbiased truth when the data are synthetic, else None.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    A_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    A_test: np.ndarray
    feature_names: list[str]
    sensitive_name: str
    synthetic: bool
    description: str = ""
    qualified_train: np.ndarray | None = None
    qualified_test: np.ndarray | None = None
    settings: dict = field(default_factory=dict)

    @property
    def groups(self) -> list[str]:
        return sorted(set(self.A_train.tolist()) | set(self.A_test.tolist()))

    def columns(self, *names: str) -> list[int]:
        """Indices of the features called ``name`` or one-hot encoded from it (``name=value``)."""
        return [i for i, f in enumerate(self.feature_names)
                if any(f == n or f.startswith(n + "=") for n in names)]

    def drop(self, *names: str) -> "FairnessData":
        """The same data without some features (e.g. ``drop("group")``: "fairness through unawareness")."""
        gone = self.columns(*names)
        unknown = [n for n in names if not self.columns(n)]
        if unknown:
            raise ValueError(f"no feature called {unknown}; features are {self.feature_names}")
        keep = [i for i in range(len(self.feature_names)) if i not in gone]
        return replace(self, X_train=self.X_train[:, keep], X_test=self.X_test[:, keep],
                       feature_names=[self.feature_names[i] for i in keep],
                       name=f"{self.name} without {', '.join(names)}")

    def base_rates(self, split: str = "train") -> dict[str, float]:
        """Fraction of positive (recorded) labels per group."""
        y, A = (self.y_train, self.A_train) if split == "train" else (self.y_test, self.A_test)
        return {g: float(y[A == g].mean()) for g in self.groups if np.any(A == g)}

    def __repr__(self) -> str:
        sizes = ", ".join(f"{g}: {int(np.sum(self.A_train == g)):,}" for g in self.groups)
        rates = ", ".join(f"{g}: {r:.2f}" for g, r in self.base_rates().items())
        kind = "synthetic" if self.synthetic else "real"
        return (f"FairnessData({self.name!r}, {kind}: {len(self.X_train):,} train / {len(self.X_test):,} test, "
                f"{len(self.feature_names)} features; {self.sensitive_name} sizes (train) {sizes}; "
                f"positive rate {rates})")


# --------------------------------------------------------------------------------------------
# The synthetic loan data
# --------------------------------------------------------------------------------------------

LABEL_NOISE = 0.5  # std of the luck term: repaying is not fully determined by the features
GROUPS = ("A", "B")  # A: the majority, B: the group the knobs disadvantage


def loan_data(n: int = 4000, *, minority_fraction: float = 0.3, base_rate: float = 0.5,
              base_rate_gap: float = 0.0, label_bias: float = 0.0, proxy_strength: float = 0.0,
              noise_a: float = 0.3, noise_b: float = 0.3, test_fraction: float = 0.3,
              seed: int = 0) -> FairnessData:
    """A synthetic loan data set. **Synthetic**: no real person is in it.

    The story, per applicant i in group g (A or B; B has ``minority_fraction`` of the people):

    * creditworthiness :math:`s_i \\sim N(\\mu_g, 1)`, and the truth "would repay"
      ``qualified = [s + luck > 0]`` with luck ~ N(0, 0.5^2). The means are chosen so that
      P(qualified) is ``base_rate`` in A and ``base_rate - base_rate_gap`` in B (a real gap);
    * features: ``credit_score = s + N(0, noise_g^2)`` (measured with more noise in one group when
      ``noise_b > noise_a``), ``income = 0.6 s + 0.8 N(0, 1)``, ``neighbourhood``: a
      feature with correlation ``proxy_strength`` with the group and *no* relation to s (a proxy),
      and ``group`` (1 for B) itself;
    * the recorded label - past decisions a model learns from - is ``qualified``, except that a
      fraction ``label_bias`` of qualified B applicants were recorded as 0 (historical bias).

    Returns a :class:`FairnessData` with features [credit_score, income, neighbourhood, group],
    the recorded labels as y, and the truth as ``qualified_*``.
    """
    check_positive_int(n, "n")
    for name, value, lo, hi in [("minority_fraction", minority_fraction, 0.01, 0.99),
                                ("base_rate", base_rate, 0.01, 0.99), ("base_rate_gap", base_rate_gap, -0.98, 0.98),
                                ("label_bias", label_bias, 0.0, 1.0), ("proxy_strength", proxy_strength, 0.0, 0.99),
                                ("noise_a", noise_a, 0.0, 10.0), ("noise_b", noise_b, 0.0, 10.0),
                                ("test_fraction", test_fraction, 0.01, 0.99)]:
        if not (isinstance(value, (int, float)) and lo <= value <= hi):
            raise ValueError(f"{name} must be a number in [{lo}, {hi}], got {value!r}")
    rate_b = base_rate - base_rate_gap
    if not 0.01 <= rate_b <= 0.99:
        raise ValueError(f"base_rate - base_rate_gap (the base rate of group B) must be in [0.01, 0.99], "
                         f"got {base_rate} - {base_rate_gap} = {rate_b:.2f}")
    rng = np.random.default_rng(seed)
    is_b = rng.random(n) < minority_fraction
    # P(s + luck > 0) = Phi(mu / sqrt(1 + luck^2)): pick mu per group to hit the base rates exactly
    scale = math.sqrt(1 + LABEL_NOISE**2)
    mean = np.where(is_b, NormalDist().inv_cdf(rate_b), NormalDist().inv_cdf(base_rate)) * scale
    skill = mean + rng.normal(size=n)
    qualified = (skill + LABEL_NOISE * rng.normal(size=n) > 0).astype(np.int64)

    credit_score = skill + np.where(is_b, noise_b, noise_a) * rng.normal(size=n)
    income = 0.6 * skill + 0.8 * rng.normal(size=n)
    p = is_b.mean() if 0 < is_b.mean() < 1 else 0.5
    group_z = (is_b - p) / math.sqrt(p * (1 - p))  # standardised group indicator
    neighbourhood = proxy_strength * group_z + math.sqrt(1 - proxy_strength**2) * rng.normal(size=n)
    X = np.stack([credit_score, income, neighbourhood, is_b.astype(float)], axis=1)  # (n, 4)

    flipped = is_b & (qualified == 1) & (rng.random(n) < label_bias)
    recorded = np.where(flipped, 0, qualified)

    A = np.where(is_b, GROUPS[1], GROUPS[0])
    order = rng.permutation(n)
    n_test = max(1, int(round(n * test_fraction)))
    test, train = order[:n_test], order[n_test:]
    mu, sigma = X[train].mean(axis=0), X[train].std(axis=0) + 1e-12
    mu[3], sigma[3] = 0.0, 1.0  # keep the group column a readable 0/1
    X = ((X - mu) / sigma).astype(np.float32)
    settings = dict(n=n, minority_fraction=minority_fraction, base_rate=base_rate, base_rate_gap=base_rate_gap,
                    label_bias=label_bias, proxy_strength=proxy_strength, noise_a=noise_a, noise_b=noise_b,
                    seed=seed)
    return FairnessData(
        "synthetic loans", X[train], recorded[train], A[train], X[test], recorded[test], A[test],
        ["credit_score", "income", "neighbourhood", "group"], "group", synthetic=True,
        description="Synthetic loan applications generated by nncourse.bias_data.loan_data "
                    f"({', '.join(f'{k}={v}' for k, v in settings.items())}); no real people.",
        qualified_train=qualified[train], qualified_test=qualified[test], settings=settings)


# --------------------------------------------------------------------------------------------
# UCI Adult
# --------------------------------------------------------------------------------------------

# SHA-256 of the two UCI files. Not computed here (this machine is offline): taken from
# independent projects that pin the same digests for these URLs, e.g. gomlx/gomlx
# examples/adult/dataset.go and GruAna/PreprocessData.jl src/datasets/tabular/adult.jl.
ADULT = {
    "mirrors": ["https://archive.ics.uci.edu/ml/machine-learning-databases/adult/"],
    "sha256": {
        "adult.data": "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
        "adult.test": "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05",
    },
}
ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
                 "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week",
                 "native-country", "income"]
ADULT_NUMERIC = ["age", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
ADULT_CATEGORICAL = ["workclass", "marital-status", "occupation", "relationship", "race", "sex", "native-country"]


def read_adult(path: Path | str) -> list[dict[str, str]]:
    """Parse adult.data / adult.test: comma-separated with spaces, ``?`` for missing values, a
    comment line at the top of adult.test and labels ending in "." there. Rows with a missing
    value are dropped (the usual practice: 30,162 train and 15,060 test rows remain)."""
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for line_no, record in enumerate(csv.reader(f, skipinitialspace=True), start=1):
            if not record or record[0].startswith("|"):
                continue  # blank lines and adult.test's "|1x3 Cross validator" header
            if len(record) != len(ADULT_COLUMNS):
                raise ValueError(f"{path}:{line_no}: expected {len(ADULT_COLUMNS)} comma-separated fields, "
                                 f"got {len(record)}: {record[:3]}...")
            if "?" in record:
                continue
            row = dict(zip(ADULT_COLUMNS, (v.strip() for v in record)))
            row["income"] = row["income"].rstrip(".")
            if row["income"] not in ("<=50K", ">50K"):
                raise ValueError(f"{path}:{line_no}: income must be '<=50K' or '>50K', got {row['income']!r}")
            rows.append(row)
    return rows


def _encode_adult(train_rows, test_rows):
    """Numeric columns (money amounts through log1p) standardised with train statistics; categorical
    columns one-hot with the categories seen in train; native-country as US / other."""
    def numeric(rows):
        values = np.array([[float(r[c]) for c in ADULT_NUMERIC] for r in rows])  # (N, 5)
        values[:, 2:4] = np.log1p(values[:, 2:4])  # capital gain/loss are heavy-tailed
        return values

    def category(row, column):
        value = row[column]
        return ("United-States" if value == "United-States" else "other") if column == "native-country" else value

    num_train, num_test = numeric(train_rows), numeric(test_rows)
    mu, sigma = num_train.mean(axis=0), num_train.std(axis=0) + 1e-12
    names, blocks_train, blocks_test = list(ADULT_NUMERIC), [(num_train - mu) / sigma], [(num_test - mu) / sigma]
    for column in ADULT_CATEGORICAL:
        levels = sorted({category(r, column) for r in train_rows})
        names += [f"{column}={level}" for level in levels]
        for rows, blocks in ((train_rows, blocks_train), (test_rows, blocks_test)):
            values = np.array([category(r, column) for r in rows])
            blocks.append((values[:, None] == np.array(levels)[None, :]).astype(float))  # (N, levels)
    return np.hstack(blocks_train).astype(np.float32), np.hstack(blocks_test).astype(np.float32), names


def load_adult(directory=None, mirrors=None, *, sensitive: str = "sex") -> FairnessData:
    """UCI Adult ("Census Income", Becker & Kohavi 1996): predict whether income > $50K from a 1994
    US census extract. Downloads two files (~6 MB) once, verified against pinned SHA-256s.

    sensitive: the column reported as A (``"sex"`` or ``"race"``); it also stays among the
    features (one-hot) until you ``drop()`` it. ``fnlwgt`` (a census sampling weight, not a
    property of the person) and ``education`` (duplicated by education-num) are not features.
    """
    if sensitive not in ("sex", "race"):
        raise ValueError(f"sensitive must be 'sex' or 'race', got {sensitive!r}")
    folder = Path(directory) if directory is not None else cache_dir() / "adult"
    paths = {name: download([m + name for m in (mirrors or ADULT["mirrors"])], sha, name, directory=folder)
             for name, sha in ADULT["sha256"].items()}
    train_rows, test_rows = read_adult(paths["adult.data"]), read_adult(paths["adult.test"])
    X_train, X_test, names = _encode_adult(train_rows, test_rows)

    def labels(rows):
        return np.array([r["income"] == ">50K" for r in rows], dtype=np.int64)

    def attribute(rows):
        return np.array([r[sensitive] for r in rows])

    return FairnessData(
        "UCI Adult", X_train, labels(train_rows), attribute(train_rows), X_test, labels(test_rows),
        attribute(test_rows), names, sensitive, synthetic=False,
        description="UCI Adult / Census Income (Becker & Kohavi 1996; 1994 US Current Population Survey extract), "
                    "rows with missing values dropped; label: income > $50K. CC BY 4.0.")


def load_fairness_data(quick: bool, **synthetic_settings) -> FairnessData:
    """The data notebook 08 trains at scale on: synthetic loans in quick mode, else UCI Adult,
    falling back - with a printed note - to the synthetic loans when the download fails."""
    if not quick:
        try:
            return load_adult()
        except DownloadError as err:
            reason = " ".join(line.strip() for line in str(err).splitlines()[:2])  # what failed, and why
            print(f"Could not get UCI Adult ({reason}); using the synthetic loans instead.")
    return loan_data(**synthetic_settings)


__all__ = ["FairnessData", "loan_data", "load_adult", "read_adult", "load_fairness_data", "ADULT"]
