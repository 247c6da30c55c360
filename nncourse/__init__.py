"""nncourse: an interactive course on neural networks - from scratch in NumPy, checked against
PyTorch, then at scale.

The package holds the logic; the notebooks in ``notebooks/`` hold the stories.
"""
from . import activations, data, losses
from . import landscapes, optim, regularization, training  # notebook 04
from . import autograd, initializers  # notebooks 02-03
from .autograd import Value  # notebook 03
from .regularization import BatchNorm1d, Dropout  # notebook 04
from .config import REPO_URL, quick_mode
from .gradcheck import compare_with_torch, gradcheck, numeric_gradient
from .layers import (
    ELU, GELU, ActivationLayer, Identity, Layer, LeakyReLU, Linear, ReLU, Sequential, Sigmoid,
    SiLU, Softplus, Tanh, mlp,
)
from .perceptron import Perceptron
from .trainer import History, evaluate, fit, get_device, seed_everything
from . import attention  # notebook 07 (nncourse.transformer imports torch, so it is imported on demand)
from .attention import MultiHeadAttention, scaled_dot_product_attention
from . import cnn  # notebook 05
from .cnn import AvgPool2d, Conv2d, Flatten, MaxPool2d
from . import text  # notebooks 06-07 (nncourse.char_lm imports torch, so it is imported on demand)
from . import rnn  # notebook 06
from .rnn import GRU, LSTM, RNN

__version__ = "0.1.0"

__all__ = [
    "activations", "data", "losses", "REPO_URL", "quick_mode",
    "compare_with_torch", "gradcheck", "numeric_gradient",
    "ELU", "GELU", "ActivationLayer", "Identity", "Layer", "LeakyReLU", "Linear", "ReLU",
    "Sequential", "Sigmoid", "SiLU", "Softplus", "Tanh", "mlp",
    "Perceptron", "History", "evaluate", "fit", "get_device", "seed_everything",
    "landscapes", "optim", "regularization", "training",
    "BatchNorm1d", "Dropout",
    "autograd", "initializers", "Value",
    "attention", "MultiHeadAttention", "scaled_dot_product_attention",
    "cnn", "AvgPool2d", "Conv2d", "Flatten", "MaxPool2d",
    "text", "rnn", "GRU", "LSTM", "RNN",
]

# notebook 08: ethics and bias
from . import bias_data, fairness, mitigation, model_card  # noqa: E402

__all__ += ["bias_data", "fairness", "mitigation", "model_card"]
