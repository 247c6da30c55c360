"""nncourse: an interactive course on neural networks - from scratch in NumPy, checked against
PyTorch, then at scale.

The package holds the logic; the notebooks in ``notebooks/`` hold the stories. ``import nncourse``
does not import torch: the modules that need it at import time (``nncourse.at_scale.*``) are
imported on demand, and the rest import it inside functions.
"""
# Foundation (notebooks 00-01): the layer protocol, checks against PyTorch, data, the fit loop.
from . import activations, data, losses
from .config import REPO_URL, quick_mode
from .gradcheck import compare_with_torch, gradcheck, numeric_gradient
from .layers import (
    ELU, GELU, ActivationLayer, Container, Identity, Layer, LeakyReLU, Linear, ReLU, Sequential,
    Sigmoid, SiLU, Softplus, Tanh, mlp,
)
from .perceptron import Perceptron
from .at_scale.training import History, evaluate, fit, get_device, seed_everything

# Notebooks 02-03: initialisation, scalar autograd.
from . import autograd, initializers
from .autograd import Value

# Notebooks 04-05: loss landscapes, optimizers and the training recipe; the NumPy training loop,
# regularization, normalization, residual connections, data augmentation.
from . import augment, landscapes, normalization, optim, recipe, regularization, residual, training
from .normalization import BatchNorm, BatchNorm1d, BatchNorm2d
from .regularization import Dropout
from .residual import Residual

# Notebook 06: convolutional networks.
from . import cnn
from .cnn import AvgPool2d, Conv2d, Flatten, GlobalAvgPool2d, MaxPool2d, ResidualBlock, receptive_field

# Notebooks 07-08: character corpus, recurrent networks, sequence to sequence, attention, tokenizers.
from . import attention, bpe, rnn, seq2seq, text
from .attention import MultiHeadAttention, scaled_dot_product_attention
from .bpe import BPETokenizer
from .rnn import GRU, LSTM, RNN, Embedding

# Notebook 09: graph neural networks (message passing on an edge_index).
from . import gnn, graph_data
from .gnn import GATConv, GCNConv, GlobalPool, SAGEConv

# Notebook 10: transfer learning and self-supervision.
from . import transfer

# Notebook 11: training at scale (ring all-reduce, loss scaling, checkpointing, memory, scaling laws).
from . import scale
from .scale import DynamicLossScaler, ring_allreduce

# Notebook 12: efficient inference (quantization, pruning, distillation, cost).
from . import compression

# Notebook 13: fairness metrics, biased data, mitigation, model cards.
from . import fairness, fairness_data, mitigation, model_card

# Notebook 14: explainability (attributions, faithfulness, sanity checks).
from . import explain

# Notebook 15: robustness (adversarial examples, distribution shift) and privacy (DP-SGD, FedAvg).
from . import privacy, robustness

__version__ = "0.1.0"

__all__ = [
    "activations", "data", "losses", "REPO_URL", "quick_mode",
    "compare_with_torch", "gradcheck", "numeric_gradient",
    "ELU", "GELU", "ActivationLayer", "Container", "Identity", "Layer", "LeakyReLU", "Linear", "ReLU",
    "Sequential", "Sigmoid", "SiLU", "Softplus", "Tanh", "mlp",
    "Perceptron", "History", "evaluate", "fit", "get_device", "seed_everything",
    "autograd", "initializers", "Value",
    "augment", "landscapes", "normalization", "optim", "recipe", "regularization", "residual", "training",
    "BatchNorm", "BatchNorm1d", "BatchNorm2d", "Dropout", "Residual",
    "cnn", "AvgPool2d", "Conv2d", "Flatten", "GlobalAvgPool2d", "MaxPool2d", "ResidualBlock", "receptive_field",
    "attention", "bpe", "rnn", "seq2seq", "text", "MultiHeadAttention", "scaled_dot_product_attention",
    "BPETokenizer", "GRU", "LSTM", "RNN", "Embedding",
    "gnn", "graph_data", "GATConv", "GCNConv", "GlobalPool", "SAGEConv",
    "transfer",
    "scale", "DynamicLossScaler", "ring_allreduce",
    "compression",
    "fairness", "fairness_data", "mitigation", "model_card",
    "explain",
    "privacy", "robustness",
]
