"""Interactive widgets, one module per notebook, all built on :class:`base.FigureWidget`."""
from .base import FigureWidget
from .start import WidgetCheck  # notebook 00
from .perceptron import PerceptronExplorer  # notebook 01
from .activations import ActivationExplorer, SignalPropagation  # notebook 02
from .backprop import BackpropStepper, TrainingReplay  # notebook 03
from .optimizers import MomentumPhase, OptimizerRace  # notebook 04
from .playground import Playground  # notebook 04, and on its own (its state: nncourse.playground)
from .cnn import KernelExplorer  # notebook 06
from .rnn import GradientThroughTime, LSTMGateViewer  # notebook 07
from .sampling import SamplingWidget  # notebooks 07-08
from .attention import AttentionExplorer, PositionalEncodingWidget  # notebook 08
from .gnn import MessagePassingWidget  # notebook 09
from .transfer import LabelBudgetExplorer  # notebook 10
from .scale import WillItFit  # notebook 11
from .compression import CompressionExplorer  # notebook 12
from .fairness import FairnessDials, ThresholdTuner  # notebook 13
from .explain import AttributionExplorer  # notebook 14
from .robustness import AttackExplorer  # notebook 15
from .privacy import PrivacyExplorer  # notebook 15

__all__ = [
    "FigureWidget", "WidgetCheck", "PerceptronExplorer", "ActivationExplorer", "SignalPropagation",
    "BackpropStepper", "TrainingReplay", "OptimizerRace", "MomentumPhase", "Playground", "KernelExplorer",
    "GradientThroughTime", "LSTMGateViewer", "SamplingWidget", "AttentionExplorer",
    "PositionalEncodingWidget", "MessagePassingWidget", "LabelBudgetExplorer", "WillItFit",
    "CompressionExplorer", "FairnessDials", "ThresholdTuner", "AttributionExplorer", "AttackExplorer",
    "PrivacyExplorer",
]
