"""Interactive widgets, one module per notebook, all built on :class:`base.FigureWidget`."""
from .base import FigureWidget
from .perceptron import PerceptronExplorer
from .start import WidgetCheck
from .sampling import SamplingWidget  # notebooks 06-07
from .rnn import GradientThroughTime, LSTMGateViewer  # notebook 06

__all__ = ["FigureWidget", "PerceptronExplorer", "WidgetCheck", "SamplingWidget", "GradientThroughTime", "LSTMGateViewer"]
from .fairness import FairnessDials, ThresholdTuner  # notebook 08

__all__ += ["FairnessDials", "ThresholdTuner"]
from .playground import Playground  # notebooks 03-04

__all__ += ["Playground"]
from .attention import AttentionExplorer, PositionalEncodingWidget  # notebook 07

__all__ += ["AttentionExplorer", "PositionalEncodingWidget"]
from .cnn import KernelExplorer  # notebook 05

__all__ += ["KernelExplorer"]
from .activations import ActivationExplorer, SignalPropagation  # notebook 02
from .backprop import BackpropStepper, TrainingReplay  # notebook 03

__all__ += ["ActivationExplorer", "SignalPropagation", "BackpropStepper", "TrainingReplay"]
from .optimizers import OptimizerRace  # notebook 04

__all__ += ["OptimizerRace"]
