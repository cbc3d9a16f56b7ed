"""``ember._first_collection``: one full garbage collection at the end of the first
training step, eager or compiled, and none after it."""

import gc

import pytest

import ember
from ember import _first_collection, nn, optim
from ember.jit import plan_optimizer


@pytest.fixture
def collections(monkeypatch):
    """The full collections ``after_first_step`` runs, counted (none has run yet)."""
    calls = []
    monkeypatch.setattr(_first_collection._Done, "done", False)
    monkeypatch.setattr(_first_collection.gc, "collect", lambda *a: calls.append(a) or 0)
    return calls


def _training_step():
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    x, y = ember.randn(16, 4), ember.randint(0, 2, (16,))

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def test_the_first_optimizer_step_collects_once(collections):
    step = _training_step()
    step()
    assert len(collections) == 1
    for _ in range(3):
        step()
    _training_step()()  # another model and optimizer in the same process
    assert len(collections) == 1


def test_a_compiled_step_collects_after_its_first_planned_update(collections, monkeypatch):
    updates = []
    run = plan_optimizer._update
    monkeypatch.setattr(plan_optimizer, "_update", lambda *a: updates.append(1) or run(*a))
    step = ember.compile(_training_step())
    step()  # the capture: an eager step, which collected
    assert len(collections) == 1
    monkeypatch.setattr(_first_collection._Done, "done", False)
    collections.clear()
    step()
    step()
    assert updates, "the plan's own update ran"
    assert len(collections) == 1


def test_nothing_is_collected_when_the_program_turned_the_collector_off(collections):
    gc.disable()
    try:
        _training_step()()
    finally:
        gc.enable()
    assert collections == []
    _training_step()()
    assert collections == []  # only the first step may collect
