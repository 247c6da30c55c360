"""Data for notebook 13 (ethics and bias): a synthetic loan data set with bias you can dial, and
the UCI Adult census data, the standard fairness benchmark.

* :func:`loan_data` - **synthetic**, generated here from a small causal story, so that every
  source of bias is a knob: group sizes, a real difference in base rates, *label bias* (a past
  lender that held one group to a higher bar), a *proxy* feature correlated with the group,
  measurement noise per group, and thin credit files for one intersection (young applicants of
  group B). Because it is synthetic we also know the unbiased truth (``qualified_*``), which real
  data never gives us.
* :func:`load_adult` - UCI Adult (Becker & Kohavi 1996, from the 1994 US census; 48,842 people;
  predict income > $50K), fetched once through :func:`nncourse.data.download` with pinned
  SHA-256 checksums and parsed with the standard library (no pickles).
* :func:`load_fairness_data` - what the notebook trains on: synthetic in quick mode, Adult in
  full mode, falling back to synthetic (with a printed note) when offline.

Each returns a :class:`FairnessData`: features X (N, F) float32, labels y (N,) in {0, 1}, the
sensitive attribute A (N,) as strings and a second recorded attribute for intersectional audits,
for a train and a test split; :meth:`FairnessData.with_validation` carves a validation split out
of the training data.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import NormalDist

import numpy as np

from .data import DownloadError, Splits, cache_dir, download
from .validation import check_positive_int


@dataclass
class FairnessData(Splits):
    """A binary classification data set with a sensitive attribute, split into train, validation
    (optional) and test.

    X_*: (N, F) float32 standardised features; y_*: (N,) int64 in {0, 1} (the *recorded* labels,
    which may carry bias); A_*: (N,) sensitive attribute values (str). ``qualified_*`` (N,) holds
    the unbiased truth when the data are synthetic, else None. ``attributes_*`` maps the name of
    every recorded sensitive attribute (the one in A, and a second one: ``age`` in the synthetic
    loans, ``race`` in Adult) to its values (N,); ``intersection`` names the two an
    intersectional audit crosses. ``X_val`` ... are ``None`` until :meth:`with_validation`.
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
    attributes_train: dict = field(default_factory=dict)
    attributes_test: dict = field(default_factory=dict)
    intersection: tuple = ()
    X_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    A_val: np.ndarray | None = None
    qualified_val: np.ndarray | None = None
    attributes_val: dict | None = None

    def with_validation(self, fraction: float = 0.2, seed: int = 0) -> "FairnessData":
        """A copy whose training data is split into train and validation (the test set is untouched).

        Every per-example array of the training split (X, y, A, the truth, the attributes) is
        split the same way: select thresholds and models on the validation split, report the test set once.
        """
        if self.X_val is not None:
            raise ValueError(f"{self.name} already has a validation split ({len(self.X_val):,} examples)")
        if not (isinstance(fraction, (int, float)) and 0 < fraction < 1):
            raise ValueError(f"fraction must be between 0 and 1, got {fraction!r}")
        order = np.random.default_rng(seed).permutation(len(self.y_train))
        n_val = max(1, int(round(len(order) * fraction)))
        val, train = order[:n_val], order[n_val:]
        if len(train) == 0:
            raise ValueError(f"fraction {fraction} leaves no training examples out of {len(order)}")

        def take(a, idx):
            return None if a is None else a[idx]

        return replace(
            self, X_train=self.X_train[train], y_train=self.y_train[train], A_train=self.A_train[train],
            qualified_train=take(self.qualified_train, train),
            attributes_train={k: v[train] for k, v in self.attributes_train.items()},
            X_val=self.X_train[val], y_val=self.y_train[val], A_val=self.A_train[val],
            qualified_val=take(self.qualified_train, val),
            attributes_val={k: v[val] for k, v in self.attributes_train.items()})

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
                       X_val=None if self.X_val is None else self.X_val[:, keep],
                       feature_names=[self.feature_names[i] for i in keep],
                       name=f"{self.name} without {', '.join(names)}")

    def base_rates(self, split: str = "train") -> dict[str, float]:
        """Fraction of positive (recorded) labels per group in ``split`` ("train", "val" or "test")."""
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
        y, A = getattr(self, split)[1], getattr(self, f"A_{split}")
        return {g: float(y[A == g].mean()) for g in self.groups if np.any(A == g)}

    def __repr__(self) -> str:
        sizes = ", ".join(f"{g}: {int(np.sum(self.A_train == g)):,}" for g in self.groups)
        rates = ", ".join(f"{g}: {r:.2f}" for g, r in self.base_rates().items())
        kind = "synthetic" if self.synthetic else "real"
        val = "" if self.X_val is None else f"{len(self.X_val):,} validation / "
        return (f"FairnessData({self.name!r}, {kind}: {len(self.X_train):,} train / {val}{len(self.X_test):,} test, "
                f"{len(self.feature_names)} features; {self.sensitive_name} sizes (train) {sizes}; "
                f"positive rate {rates})")


# --------------------------------------------------------------------------------------------
# The synthetic loan data
# --------------------------------------------------------------------------------------------

LABEL_NOISE = 0.5  # std of the luck term: repaying is not fully determined by the features
GROUPS = ("A", "B")  # A: the majority, B: the group the knobs disadvantage
AGES = ("30 or over", "under 30")  # the second recorded attribute (not a model input)


def loan_data(n: int = 4000, *, minority_fraction: float = 0.3, base_rate: float = 0.5,
              base_rate_gap: float = 0.0, label_bias: float = 0.0, proxy_strength: float = 0.0,
              noise_a: float = 0.3, noise_b: float = 0.3, young_fraction: float = 0.3,
              thin_file_noise: float = 0.0, test_fraction: float = 0.3, seed: int = 0) -> FairnessData:
    """A synthetic loan data set. **Synthetic**: no real person is in it.

    The story, per applicant i in group g (A or B; B has ``minority_fraction`` of the people):

    * creditworthiness :math:`s_i \\sim N(\\mu_g, 1)`, and the truth "would repay"
      ``qualified = [s + luck > 0]`` with luck ~ N(0, 0.5^2). The means are chosen so that
      P(qualified) is ``base_rate`` in A and ``base_rate - base_rate_gap`` in B (a real gap);
    * a second recorded attribute, ``age``: "under 30" for a fraction ``young_fraction`` of the
      applicants, independent of everything else; it is not a model input;
    * features: ``credit_score = s + N(0, noise_g^2)`` (measured with more noise in one group when
      ``noise_b > noise_a``; young applicants of group B have thin credit files, which add
      ``thin_file_noise`` to that noise's std in quadrature), ``income = 0.6 s + 0.8 N(0, 1)``,
      ``neighbourhood``: a feature with correlation ``proxy_strength`` with the group and *no*
      relation to s (a proxy), and ``group`` (1 for B) itself;
    * the recorded label is a past lending *decision* (approved or not), not repayment. An
      unbiased lender would have approved exactly the qualified; ours held group B to a higher
      bar: the fraction ``label_bias`` of qualified B applicants with the lowest credit scores
      were rejected (recorded as 0). Label bias 0.3 means 30 % of qualified B were rejected.

    Returns a :class:`FairnessData` with features [credit_score, income, neighbourhood, group],
    the recorded decisions as y, the truth as ``qualified_*``, and ``attributes_*`` holding
    ``group`` and ``age``.
    """
    check_positive_int(n, "n")
    for name, value, lo, hi in [("minority_fraction", minority_fraction, 0.01, 0.99),
                                ("base_rate", base_rate, 0.01, 0.99), ("base_rate_gap", base_rate_gap, -0.98, 0.98),
                                ("label_bias", label_bias, 0.0, 1.0), ("proxy_strength", proxy_strength, 0.0, 0.99),
                                ("noise_a", noise_a, 0.0, 10.0), ("noise_b", noise_b, 0.0, 10.0),
                                ("young_fraction", young_fraction, 0.01, 0.99),
                                ("thin_file_noise", thin_file_noise, 0.0, 10.0),
                                ("test_fraction", test_fraction, 0.01, 0.99)]:
        if not (isinstance(value, (int, float)) and lo <= value <= hi):
            raise ValueError(f"{name} must be a number in [{lo}, {hi}], got {value!r}")
    rate_b = base_rate - base_rate_gap
    if not 0.01 <= rate_b <= 0.99:
        raise ValueError(f"base_rate - base_rate_gap (the base rate of group B) must be in [0.01, 0.99], "
                         f"got {base_rate} - {base_rate_gap} = {rate_b:.2f}")
    rng = np.random.default_rng(seed)
    is_b = rng.random(n) < minority_fraction
    is_young = rng.random(n) < young_fraction
    # P(s + luck > 0) = Phi(mu / sqrt(1 + luck^2)): pick mu per group to hit the base rates exactly
    scale = math.sqrt(1 + LABEL_NOISE**2)
    mean = np.where(is_b, NormalDist().inv_cdf(rate_b), NormalDist().inv_cdf(base_rate)) * scale
    skill = mean + rng.normal(size=n)
    qualified = (skill + LABEL_NOISE * rng.normal(size=n) > 0).astype(np.int64)

    noise = np.where(is_b, noise_b, noise_a)
    noise = np.sqrt(noise**2 + np.where(is_b & is_young, thin_file_noise**2, 0.0))  # thin credit files
    credit_score = skill + noise * rng.normal(size=n)
    income = 0.6 * skill + 0.8 * rng.normal(size=n)
    p = is_b.mean() if 0 < is_b.mean() < 1 else 0.5
    group_z = (is_b - p) / math.sqrt(p * (1 - p))  # standardised group indicator
    neighbourhood = proxy_strength * group_z + math.sqrt(1 - proxy_strength**2) * rng.normal(size=n)
    X = np.stack([credit_score, income, neighbourhood, is_b.astype(float)], axis=1)  # (n, 4)

    # the past lender's higher bar for B: its qualified applicants with the lowest credit scores were rejected
    qualified_b = np.flatnonzero(is_b & (qualified == 1))
    n_rejected = int(round(label_bias * len(qualified_b)))
    rejected = qualified_b[np.argsort(credit_score[qualified_b], kind="stable")[:n_rejected]]
    recorded = qualified.copy()
    recorded[rejected] = 0

    A = np.where(is_b, GROUPS[1], GROUPS[0])
    age = np.where(is_young, AGES[1], AGES[0])
    order = rng.permutation(n)
    n_test = max(1, int(round(n * test_fraction)))
    test, train = order[:n_test], order[n_test:]
    mu, sigma = X[train].mean(axis=0), X[train].std(axis=0) + 1e-12
    mu[3], sigma[3] = 0.0, 1.0  # keep the group column a readable 0/1
    X = ((X - mu) / sigma).astype(np.float32)
    settings = dict(n=n, minority_fraction=minority_fraction, base_rate=base_rate, base_rate_gap=base_rate_gap,
                    label_bias=label_bias, proxy_strength=proxy_strength, noise_a=noise_a, noise_b=noise_b,
                    young_fraction=young_fraction, thin_file_noise=thin_file_noise, seed=seed)
    return FairnessData(
        "synthetic loans", X[train], recorded[train], A[train], X[test], recorded[test], A[test],
        ["credit_score", "income", "neighbourhood", "group"], "group", synthetic=True,
        description="Synthetic loan applications generated by nncourse.fairness_data.loan_data "
                    f"({', '.join(f'{k}={v}' for k, v in settings.items())}); no real people.",
        qualified_train=qualified[train], qualified_test=qualified[test], settings=settings,
        attributes_train={"group": A[train], "age": age[train]}, attributes_test={"group": A[test], "age": age[test]},
        intersection=("group", "age"))


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
    features (one-hot) until you ``drop()`` it. Both columns are kept in ``attributes_*`` for an
    intersectional audit (``intersection = ("sex", "race")``). ``fnlwgt`` (a census sampling weight, not a
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

    def attributes(rows):
        return {column: np.array([r[column] for r in rows]) for column in ("sex", "race")}

    train_attributes, test_attributes = attributes(train_rows), attributes(test_rows)
    return FairnessData(
        "UCI Adult", X_train, labels(train_rows), train_attributes[sensitive], X_test, labels(test_rows),
        test_attributes[sensitive], names, sensitive, synthetic=False,
        description="UCI Adult / Census Income (Becker & Kohavi 1996; 1994 US Current Population Survey extract), "
                    "rows with missing values dropped; label: income > $50K. CC BY 4.0.",
        attributes_train=train_attributes, attributes_test=test_attributes, intersection=("sex", "race"))


def load_fairness_data(quick: bool, **synthetic_settings) -> FairnessData:
    """The data notebook 13 trains at scale on: synthetic loans in quick mode, else UCI Adult,
    falling back - with a printed note - to the synthetic loans when the download fails."""
    if not quick:
        try:
            return load_adult()
        except DownloadError as err:
            reason = " ".join(line.strip() for line in str(err).splitlines()[:2])  # what failed, and why
            print(f"Could not get UCI Adult ({reason}); using the synthetic loans instead.")
    return loan_data(**synthetic_settings)


__all__ = ["FairnessData", "loan_data", "load_adult", "read_adult", "load_fairness_data", "ADULT"]
