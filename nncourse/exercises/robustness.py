"""Exercises of notebook 15 (robustness and privacy).

* ``linf_project`` (warm-up): put a perturbed image back into the ε-ball around the original and
  into the valid pixel range; the learner's PGD cells then use it.
* ``private_gradient`` (substantial): the DP-SGD gradient of one batch - clip every example's
  gradient to L2 norm C, sum, add Gaussian noise of std σC, divide by the batch size; the
  learner's NumPy DP-SGD then trains with it (the accuracy-ε and membership-inference sweep).

Expected answers come from the package (``nncourse.robustness.project_linf``,
``nncourse.privacy.clip_per_example``, tested against PyTorch and Opacus).
"""
from __future__ import annotations

import numpy as np

from ..privacy import clip_per_example
from ..robustness import project_linf
from . import Exercise
from .solutions import robustness as solutions

# --- warm-up: the L-infinity projection -----------------------------------------------------------


def _project_cases():
    rng = np.random.default_rng(2018)   # Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks"
    cases = []
    for shape, eps in (((4, 16), 0.1), ((3, 64), 0.3), ((2, 5), 0.05)):
        x = rng.uniform(0, 1, shape)
        x[:, 0], x[:, 1] = 0.0, 1.0                      # pixels at the edges of the range
        cases.append((x + rng.uniform(-3 * eps, 3 * eps, shape), x, eps))
    return cases


linf_project = Exercise(
    "linf_project", solution=solutions.linf_project, reference=lambda x_adv, x, eps: project_linf(x_adv, x, eps),
    cases=_project_cases,
    hints=["Two conditions: every pixel within eps of the original x, and every pixel in [0, 1].",
           "The first: clip the *perturbation* x_adv - x to [-eps, eps] and add it back to x. "
           "The second: clip the result to [0, 1].",
           "np.clip(x + np.clip(x_adv - x, -eps, eps), 0, 1)"],
    mistakes=[(lambda x_adv, x, eps: x + np.clip(x_adv - x, -eps, eps),
               "your image is in the eps-ball but some pixels leave the valid range [0, 1]."),
              (lambda x_adv, x, eps: np.clip(x_adv, 0, 1),
               "your pixels are in [0, 1] but some are more than eps away from the original image."),
              (lambda x_adv, x, eps: np.clip(x_adv, -eps, eps),
               "you clipped the image itself to [-eps, eps]; the budget limits the change x_adv - x.")])


# --- substantial: the DP-SGD gradient -------------------------------------------------------------


def _private_cases():
    rng = np.random.default_rng(2016)   # Abadi et al., "Deep Learning with Differential Privacy"
    cases = []
    for B, P, C, sigma in ((6, 10, 0.5, 1.3), (8, 25, 2.0, 0.7), (1, 4, 1.0, 2.0), (5, 12, 0.8, 0.0)):
        scales = rng.uniform(0.1, 4.0, (B, 1)) * C / np.sqrt(P)          # norms above and below C
        cases.append((rng.normal(0, 1, (B, P)) * scales, C, sigma, rng.normal(0, 1, P)))
    return cases


def _private_reference(per_example, max_norm, noise_multiplier, noise):
    clipped, _ = clip_per_example({"g": per_example}, max_norm)
    return (clipped["g"].sum(axis=0) + noise_multiplier * max_norm * noise) / len(per_example)


def _clip_mean(g, C, sigma, z):
    mean = g.mean(axis=0)
    return mean * min(1.0, C / np.linalg.norm(mean)) + sigma * C * z / len(g)


def _no_clip(g, C, sigma, z):
    return (g.sum(0) + sigma * C * z) / len(g)


def _normalise(g, C, sigma, z):
    return ((g * C / np.linalg.norm(g, axis=1, keepdims=True)).sum(0) + sigma * C * z) / len(g)


def _noise_sigma(g, C, sigma, z):
    clipped, _ = clip_per_example({"g": g}, C)
    return (clipped["g"].sum(0) + sigma * z) / len(g)


def _noise_after_mean(g, C, sigma, z):
    clipped, _ = clip_per_example({"g": g}, C)
    return clipped["g"].mean(0) + sigma * C * z


def _clip_values(g, C, sigma, z):
    return (np.clip(g, -C, C).sum(0) + sigma * C * z) / len(g)


def _no_noise(g, C, sigma, z):
    clipped, _ = clip_per_example({"g": g}, C)
    return clipped["g"].mean(0)


private_gradient = Exercise(
    "private_gradient", solution=solutions.private_gradient, reference=_private_reference,
    cases=_private_cases, atol=1e-8, rtol=1e-5,   # with or without Opacus's + 1e-6 in the clip factor
    hints=["Three steps in order: clip each row (one example's gradient) to L2 norm at most max_norm; "
           "sum the clipped rows and add noise_multiplier * max_norm * noise; divide by the batch size.",
           "Clipping: the factor for row i is min(1, max_norm / ||g_i||) - it only ever shrinks a gradient. "
           "np.linalg.norm(per_example, axis=1, keepdims=True) gives the (B, 1) norms.",
           "norms = np.linalg.norm(per_example, axis=1, keepdims=True); clipped = per_example * "
           "np.minimum(1, max_norm / norms); return (clipped.sum(0) + noise_multiplier * max_norm * noise) / len(per_example)"],
    mistakes=[(_no_clip, "no example's gradient was clipped: DP-SGD clips each example's gradient to norm "
                         "max_norm before summing (clipping only the average would not bound one person's influence)."),
              (_clip_mean, "you clipped the averaged gradient; DP-SGD clips each example's gradient before "
                           "averaging (that is what bounds one person's influence)."),
              (_normalise, "you scaled every example's gradient to norm exactly max_norm: small gradients must "
                           "stay as they are (the factor is at most 1)."),
              (_noise_sigma, "your noise has std noise_multiplier; it must scale with the clipping norm too "
                             "(std noise_multiplier * max_norm on the sum)."),
              (_noise_after_mean, "your noise is too large by the batch size: it is added to the sum, and the "
                                  "sum is then divided by the batch size."),
              (_clip_values, "you clipped each entry to [-max_norm, max_norm]; clip each example's whole "
                             "gradient vector by its L2 norm."),
              (_no_noise, "no noise was added (the clipping is right).")],
    output_names=None)
