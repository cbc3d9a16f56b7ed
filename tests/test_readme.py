"""The README's tour runs as written (its first Python block), in a scratch directory."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_readme_tour_runs(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text()
    tour = re.search(r"## A tour\n\n```python\n(.*?)```", text, re.DOTALL).group(1)
    monkeypatch.chdir(tmp_path)  # it writes ckpt.safetensors
    scope = {}
    exec(compile(tour, "README.md", "exec"), scope)  # noqa: S102 - our own README
    assert (tmp_path / "ckpt.safetensors").exists()
    assert scope["w"].grad.shape == (100, 10)
    assert scope["loss"].item() < 2.3  # one epoch of training moved it below chance
