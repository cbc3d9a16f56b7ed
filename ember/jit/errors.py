"""The errors of graph capture and graph execution."""

from ember._errors import mark

__all__ = ["TraceError", "GraphInputError"]


class TraceError(RuntimeError):
    """The code cannot be captured as a graph that is right for other inputs."""

    ember = True


class GraphInputError(TypeError, ValueError):
    """A traced callable was called with inputs of another number, shape or dtype."""

    ember = True


def graph_input_error(message):
    return mark(GraphInputError(message))
