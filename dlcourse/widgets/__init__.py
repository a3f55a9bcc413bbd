"""Interactive explorers used by the chapters.

``explorer`` holds the shared plumbing (an :class:`Explorer` draws its
default view at once, so executed notebooks and the website show a
picture); each chapter's explorers live in a module of their own.
"""
from .activations import activation_explorer, dead_relu_explorer, depth_explorer
from .backprop import graph_stepper, init_explorer, learning_rate_explorer
from .explorer import Explorer, dropdown, figure_output, slider
from .perceptron import feature_map_explorer, neuron_explorer, perceptron_stepper
from .sigmoid import draw_sigmoid, sigmoid_explorer

__all__ = ["Explorer", "slider", "dropdown", "figure_output", "draw_sigmoid", "sigmoid_explorer",
           "neuron_explorer", "perceptron_stepper", "feature_map_explorer",
           "activation_explorer", "depth_explorer", "dead_relu_explorer",
           "graph_stepper", "init_explorer", "learning_rate_explorer"]
