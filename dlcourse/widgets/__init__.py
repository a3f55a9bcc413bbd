"""Interactive explorers used by the chapters.

``explorer`` holds the shared plumbing (an :class:`Explorer` draws its
default view at once, so executed notebooks and the website show a
picture). Each chapter's explorers live in the module named after the
chapter, next to its numbers in ``dlcourse.<chapter>``:

    getting_started   00   sigmoid_explorer
    perceptrons       01   neuron_explorer, perceptron_stepper, feature_map_explorer
    activations       02   activation_explorer, depth_explorer, dead_relu_explorer
    backpropagation   03   graph_stepper, init_explorer, learning_rate_explorer
    regularization    04   regularization_explorer, dropout_explorer, batchnorm_explorer,
                           early_stopping_explorer, augmentation_viewer
    cnns              05   kernel_explorer, convolution_stepper, shape_explorer, feature_map_viewer,
                           receptive_field_explorer
    rnns              06   gradient_explorer, gate_viewer, trajectory_explorer, sampling_explorer
"""
from .activations import activation_explorer, dead_relu_explorer, depth_explorer
from .backpropagation import graph_stepper, init_explorer, learning_rate_explorer
from .cnns import (
    convolution_stepper,
    feature_map_viewer,
    kernel_explorer,
    receptive_field_explorer,
    shape_explorer,
)
from .explorer import Explorer, dropdown, figure_output, slider
from .getting_started import draw_sigmoid, sigmoid_explorer
from .perceptrons import feature_map_explorer, neuron_explorer, perceptron_stepper
from .regularization import (
    augmentation_viewer,
    batchnorm_explorer,
    dropout_explorer,
    early_stopping_explorer,
    regularization_explorer,
)
from .rnns import gate_viewer, gradient_explorer, sampling_explorer, trajectory_explorer

__all__ = ["Explorer", "slider", "dropdown", "figure_output", "draw_sigmoid", "sigmoid_explorer",
           "neuron_explorer", "perceptron_stepper", "feature_map_explorer",
           "activation_explorer", "depth_explorer", "dead_relu_explorer",
           "graph_stepper", "init_explorer", "learning_rate_explorer",
           "regularization_explorer", "dropout_explorer", "batchnorm_explorer", "early_stopping_explorer",
           "augmentation_viewer",
           "kernel_explorer", "convolution_stepper", "shape_explorer", "feature_map_viewer",
           "receptive_field_explorer",
           "gradient_explorer", "gate_viewer", "trajectory_explorer", "sampling_explorer"]
