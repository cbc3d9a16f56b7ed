"""ONNX: ``export`` an ember model to an ONNX file, ``load`` an ONNX file as an ember module.

Both need the ``onnx`` package (``pip install ember[onnx]``), imported on first use.
"""

__all__ = ["UnsupportedOperatorError", "export", "load"]


def __getattr__(name):
    if name in ("export", "load"):
        _require_onnx(name)
    if name == "export":
        from ember.onnx.exporter import export
        return export
    if name == "load":
        from ember.onnx.importer import load
        return load
    if name == "UnsupportedOperatorError":
        from ember.onnx.errors import UnsupportedOperatorError
        return UnsupportedOperatorError
    raise AttributeError(f"module 'ember.onnx' has no attribute '{name}'")


def _require_onnx(name):
    import importlib.util

    if importlib.util.find_spec("onnx") is None:
        raise ImportError(f"ember.onnx.{name} needs the onnx package, which is not "
                          "installed: pip install 'ember[onnx]' (or pip install onnx)")
