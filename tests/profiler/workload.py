"""A small CNN step, profiled: the workload the profiler tests share."""

import ember
import ember.nn.functional as F
from ember import nn
from ember.autograd.node import Node
from ember.profiler import profile, record_function


def small_net():
    ember.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 3 * 3, 10))


def small_batch():
    ember.manual_seed(1)
    return ember.randn(5, 1, 8, 8), ember.randint(0, 10, (5,))


def graph_nodes(root):
    """The names of the nodes of the backward graph below ``root`` (each node once)."""
    seen, stack, names = set(), [root], []
    while stack:
        node = stack.pop()
        if node in seen or not isinstance(node, Node):
            continue
        seen.add(node)
        names.append(node.name())
        stack.extend(n for n, _ in node.next_functions if n is not None)
    return names


def is_backward(name):
    return name.endswith("Backward0") or name.endswith("Backward")


def profile_step(**options):
    model, (x, y) = small_net(), small_batch()
    with profile(**options) as prof:
        with record_function("forward"):
            loss = F.cross_entropy(model(x), y)
        nodes = graph_nodes(loss.grad_fn)
        with record_function("backward"):
            loss.backward()
    return prof, nodes
