"""Without the onnx package, ember.onnx says what to install instead of failing deep inside."""

import importlib.util

import pytest

import ember.onnx


@pytest.mark.parametrize("name", ["export", "load"])
def test_missing_onnx_names_the_package_to_install(monkeypatch, name):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda mod, *a: None if mod == "onnx" else real(mod, *a))
    with pytest.raises(ImportError, match=r"ember.onnx.%s needs the onnx package.*ember\[onnx\]"
                       % name):
        getattr(ember.onnx, name)
