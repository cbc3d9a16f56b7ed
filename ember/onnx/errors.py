"""The errors ONNX export and import raise."""

__all__ = ["UnsupportedOperatorError"]


class UnsupportedOperatorError(RuntimeError):
    """An op with no mapping: an ember op at export, an ONNX operator at import.

    ``op`` is its name; nothing is written when export raises it.
    """

    def __init__(self, message, op):
        super().__init__(message)
        self.op = op
