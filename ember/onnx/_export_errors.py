"""The messages of ``UnsupportedOperatorError`` at export: the op, the user's line, the ways on."""

from ember.onnx.errors import UnsupportedOperatorError

__all__ = ["unsupported", "unsupported_form"]


def unsupported(node, reason):
    """The error for an op that cannot be exported, naming it, its line and the ways on."""
    where = f" (called at {node.where})" if node.where else ""
    return UnsupportedOperatorError(
        f"ember.onnx.export: the op {node.target}{where} cannot be exported to ONNX: "
        f"{reason}. Nothing was written. To proceed: (1) compute that part with ops that "
        f"export (see ember.onnx.exporter.EXPORTABLE), or (2) leave it out of the exported "
        f"module (export the part of the model before or after it), or (3) add an "
        f"exporter for {node.target} to the table in ember/onnx/_export_ops.py",
        node.target)


def unsupported_form(node, what):
    """The error for an exportable op called in a form its exporter does not write."""
    return unsupported(node, f"this form of it is not exportable: {what}")
