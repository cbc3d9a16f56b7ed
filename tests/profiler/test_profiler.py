"""ember.profiler: every op of forward and backward, ranges, tables and Chrome traces.

What is recorded is checked against independent sources: the backward graph (which
nodes must run), a second observer counting op applications, and ``torch.profiler``'s
table layout and number formats.
"""

import re
import threading
from collections import Counter

import numpy as np
import pytest
import torch
import torch.autograd.profiler_util as torch_util

import ember
import ember.nn.functional as F
from ember.autograd import Function
from ember.autograd.node import Observers, Op
from ember.profiler import ProfilerActivity, profile, record_function
from ember.profiler.labels import LABELS, op_label
from ember.profiler.table import format_memory, format_time
from tests.profiler.workload import graph_nodes, is_backward, profile_step, small_batch, small_net


class _Counter:
    """An observer beside the profiler: the label of every op applied (no backward hooks)."""

    def __init__(self):
        self.ops = []

    def op_begin(self, cls, inputs, params):
        return cls, params

    def op_end(self, token, outs):
        self.ops.append(op_label(*token))


# ---- every op is seen ------------------------------------------------------------------


def test_every_forward_op_and_backward_node_is_recorded_once():
    model, (x, y) = small_net(), small_batch()
    counter = _Counter()
    Observers.add(counter)
    try:
        with profile() as prof:
            loss = F.cross_entropy(model(x), y)
            nodes = graph_nodes(loss.grad_fn)
            loss.backward()
    finally:
        Observers.remove(counter)
    names = [e.name for e in prof.events()]
    assert Counter(n for n in names if is_backward(n)) == Counter(nodes)
    assert Counter(n for n in names if not is_backward(n)) == Counter(counter.ops)
    assert {"conv2d", "relu", "max_pool2d", "linear", "cross_entropy"} <= set(names)
    assert {"ConvBackward0", "ReluBackward0", "LinearBackward0"} <= set(names)


def test_ops_run_by_a_backward_node_are_its_children():
    prof, _ = profile_step()
    by_name = {e.name: e for e in prof.events()}
    linear_back = by_name["LinearBackward0"]
    # Without create_graph, Linear's backward is one op on arrays (both products at once).
    assert "linear_backward" in [c.name for c in linear_back.cpu_children]
    for child in linear_back.cpu_children:
        assert child.cpu_parent is linear_back
    assert by_name["backward"].cpu_parent is None
    assert linear_back.cpu_parent is by_name["backward"]


def test_self_time_excludes_nested_events_and_children_lie_inside_parents():
    prof, _ = profile_step()
    events = prof.events()
    assert events
    for e in events:
        assert 0 <= e.start_ns <= e.end_ns
        children = sum(c.cpu_time_total for c in e.cpu_children)
        assert e.self_cpu_time_total == pytest.approx(e.cpu_time_total - children)
        assert e.self_cpu_time_total >= 0
        for c in e.cpu_children:
            assert e.start_ns <= c.start_ns <= c.end_ns <= e.end_ns
            assert c.thread == e.thread
    total = sum(e.cpu_time_total for e in events if e.cpu_parent is None)
    assert prof.self_cpu_time_total == pytest.approx(total)


def test_profiling_off_records_nothing_and_removes_the_observer():
    x = ember.ones(3)
    x * 2
    with profile() as prof:
        x + 1
    x - 1
    assert [e.name for e in prof.events()] == ["add"]
    assert Observers.active == ()


def test_ops_under_no_grad_and_custom_functions_are_recorded():
    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, grad_out):
            (x,) = ctx.saved_tensors
            return grad_out * 3 * x * x

    x = ember.tensor([1.0, 2.0], requires_grad=True)
    with profile(record_shapes=True) as prof:
        Cube.apply(x).sum().backward()
        with ember.no_grad():
            x * 5
    events = prof.events()
    cube = next(e for e in events if e.name == "Cube")
    assert [c.name for c in cube.cpu_children] == ["mul", "mul"]
    assert cube.input_shapes == [[2]]
    back = next(e for e in events if e.name == "CubeBackward")
    assert [c.name for c in back.cpu_children] == ["mul", "mul", "mul"]
    assert [e.name for e in events if e.cpu_parent is None][-1] == "mul"


# ---- names -------------------------------------------------------------------------------


def test_main_ops_have_pytorch_names():
    x = ember.randn(2, 3, 6, 6, requires_grad=True)
    w = ember.randn(4, 3, 3, 3)
    m = ember.randn(5, 7)
    calls = {
        "conv2d": lambda: F.conv2d(x, w),
        "max_pool2d": lambda: F.max_pool2d(x, 2),
        "avg_pool2d": lambda: F.avg_pool2d(x, 2),
        "linear": lambda: F.linear(m, ember.randn(2, 7)),
        "relu": lambda: F.relu(m),
        "cross_entropy": lambda: F.cross_entropy(m, ember.tensor([0, 1, 2, 3, 4])),
        "log_softmax": lambda: F.log_softmax(m, dim=1),
        "softmax": lambda: F.softmax(m, dim=1),
        "matmul": lambda: m @ m.T,
        "leaky_relu": lambda: F.leaky_relu(m),
        "mse_loss": lambda: F.mse_loss(m, m),
        "embedding": lambda: F.embedding(ember.tensor([1, 2]), m),
        "sigmoid": lambda: ember.sigmoid(m),
        "tanh": lambda: ember.tanh(m),
        "mul": lambda: m * 2,
    }
    for expected, call in calls.items():
        with profile() as prof:
            call()
        names = [e.name for e in prof.events() if e.cpu_parent is None]
        assert expected in names, (expected, names)


def _op_classes():
    found, stack = set(), [Op]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                stack.append(sub)
    return found


def test_every_op_with_its_own_op_name_has_a_label_row():
    missing = [c.__name__ for c in _op_classes()
               if c.op_name is not Op.op_name and c.__name__ not in LABELS]
    assert not missing, f"add rows to ember/profiler/labels.py LABELS for {missing}"


def test_every_label_is_a_snake_case_name():
    for cls in _op_classes():
        row = LABELS.get(cls.__name__)
        if row is None or isinstance(row, str):
            label = op_label(cls, {})
            assert re.fullmatch(r"[a-z][a-z0-9_]*", label), (cls.__name__, label)


# ---- record_function ----------------------------------------------------------------


def test_record_function_ranges_nest_and_contain_their_ops():
    x = ember.ones(4)
    with profile() as prof:
        with record_function("outer"):
            x + 1
            with record_function("inner"):
                x * 2
    outer, add, inner, mul = prof.events()
    assert [e.name for e in (outer, add, inner, mul)] == ["outer", "add", "inner", "mul"]
    assert outer.category == inner.category == "user_annotation"
    assert add.category == "cpu_op"
    assert outer.cpu_children == [add, inner] and inner.cpu_children == [mul]
    assert outer.cpu_time_total >= add.cpu_time_total + inner.cpu_time_total
    assert inner.cpu_time_total >= mul.cpu_time_total


def test_record_function_as_a_decorator_even_recursive():
    @record_function("fact")
    def fact(n):
        return ember.ones(1) if n == 0 else fact(n - 1) * n

    assert fact(3).item() == 6  # outside a profiler it does nothing
    with profile() as prof:
        fact(2)
    ranges = [e for e in prof.events() if e.name == "fact"]
    assert len(ranges) == 3
    assert ranges[1].cpu_parent is ranges[0] and ranges[2].cpu_parent is ranges[1]
    assert prof.key_averages()[0].key == "fact"


def test_an_exception_closes_the_range_and_drops_the_failed_op():
    a, b = ember.ones(2, 3), ember.ones(4, 5)
    with profile() as prof:
        with pytest.raises(RuntimeError):
            with record_function("bad"):
                a @ b
        a + 1
    names = [(e.name, e.cpu_parent and e.cpu_parent.name) for e in prof.events()]
    assert names == [("bad", None), ("add", None)]


def test_profilers_do_not_nest_and_events_wait_for_the_stop():
    with profile() as prof:
        with pytest.raises(RuntimeError, match="already running"):
            with profile():
                pass
        with pytest.raises(RuntimeError, match="stopped"):
            prof.events()
    assert prof.events() == []
    with pytest.raises(ValueError, match="CPU only"):
        profile(activities=[ProfilerActivity.CUDA])
    with profile(activities=[ProfilerActivity.CPU]):
        pass


def test_an_error_in_the_block_stops_the_profiler():
    with pytest.raises(KeyError):
        with profile() as prof:
            ember.ones(2) * 3
            raise KeyError("stop")
    assert Observers.active == ()
    assert [e.name for e in prof.events()] == ["mul"]


def test_each_thread_has_its_own_stack():
    x = ember.ones(3)

    def work():
        with record_function("worker"):
            x * 2

    with profile() as prof:
        with record_function("main"):
            t = threading.Thread(target=work)
            t.start()
            t.join()
            x + 1
    events = {e.name: e for e in prof.events()}
    assert events["worker"].thread != events["main"].thread
    assert events["worker"].cpu_parent is None
    assert events["mul"].cpu_parent is events["worker"]
    assert events["add"].cpu_parent is events["main"]


# ---- shapes, memory, stacks ---------------------------------------------------------------


def test_input_shapes_and_grouping_by_them():
    with profile(record_shapes=True) as prof:
        for shape in [(2, 3), (2, 3), (4,)]:
            ember.ones(*shape) * ember.ones(*shape)
    mul = prof.key_averages()[0]
    assert (mul.key, mul.count, mul.input_shapes) == ("mul", 3, None)
    grouped = {str(a.input_shapes): a.count
               for a in prof.key_averages(group_by_input_shape=True)}
    assert grouped == {"[[2, 3], [2, 3]]": 2, "[[4], [4]]": 1}
    with profile() as plain:
        ember.ones(2) * 2
    assert plain.events()[0].input_shapes == []
    with pytest.raises(ValueError, match="record_shapes"):
        plain.key_averages(group_by_input_shape=True)


def test_memory_is_the_bytes_of_new_outputs():
    a = ember.ones(100, 100)
    b = ember.ones(10, 10, dtype=ember.float64, requires_grad=True)
    with profile(profile_memory=True) as prof:
        with record_function("block"):
            a * 2
            a.reshape(10000)
            a.t()
        (b * b).sum().backward()
    by_name = {e.name: e for e in reversed(prof.events())}  # the first event of each name
    assert by_name["mul"].self_cpu_memory_usage == 100 * 100 * 4
    assert by_name["reshape"].cpu_memory_usage == 0
    assert by_name["permute"].cpu_memory_usage == 0
    assert by_name["block"].self_cpu_memory_usage == 0
    assert by_name["block"].cpu_memory_usage == 40000
    back = by_name["MulBackward0"]
    assert back.self_cpu_memory_usage == 0
    assert back.cpu_memory_usage == sum(c.cpu_memory_usage for c in back.cpu_children) > 0
    with profile() as plain:
        a * 2
    assert plain.events()[0].cpu_memory_usage == 0


def test_with_stack_records_the_users_line():
    x = ember.ones(2)
    with profile(with_stack=True) as prof:
        x * 2; line = _line()  # noqa: E702 (the op and its line number together)
    (mul,) = prof.events()
    assert mul.stack[0].endswith(f"test_profiler.py({line}): " +
                                 "test_with_stack_records_the_users_line")
    (avg,) = prof.key_averages(group_by_stack_n=1)
    assert avg.stack == mul.stack[:1]
    assert "Source Location" in prof.key_averages(group_by_stack_n=2).table()


def _line():
    import sys

    return sys._getframe(1).f_lineno


# ---- tables, as PyTorch prints them ---------------------------------------------------


def _torch_table_header(**options):
    x = torch.ones(3, requires_grad=True)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU],
                                record_shapes=options.get("record_shapes", False),
                                profile_memory=options.get("profile_memory", False)) as prof:
        (x * 2).sum()
    table = prof.key_averages(**options.get("averages", {})).table(sort_by="cpu_time_total")
    return table.splitlines()[1].split()


@pytest.mark.parametrize("options", [
    {},
    {"profile_memory": True},
    {"record_shapes": True, "profile_memory": True, "averages": {"group_by_input_shape": True}},
])
def test_table_columns_are_pytorchs(options):
    x = ember.ones(3, requires_grad=True)
    with profile(record_shapes=options.get("record_shapes", False),
                 profile_memory=options.get("profile_memory", False)) as prof:
        (x * 2).sum()
    table = prof.key_averages(**options.get("averages", {})).table(sort_by="cpu_time_total")
    lines = table.splitlines()
    assert lines[1].split() == _torch_table_header(**options)
    assert lines[0] == lines[2] == lines[-2] and set(lines[0]) == {"-", " "}
    assert lines[-1].startswith("Self CPU time total: ")


def test_table_rows_follow_sort_by_and_row_limit():
    prof, _ = profile_step(profile_memory=True)
    averages = prof.key_averages()
    for key in ("self_cpu_time_total", "cpu_time_total", "count", "self_cpu_memory_usage",
                "cpu_memory_usage", "cpu_time"):
        table = averages.table(sort_by=key, row_limit=4)
        rows = [line.split()[0] for line in table.splitlines()[3:-2]]
        expected = sorted(averages, key=lambda a: getattr(a, key), reverse=True)[:4]
        assert rows == [a.key for a in expected], key
    with pytest.raises(ValueError, match="sort_by must be one of"):
        averages.table(sort_by="cuda_time_total")


def test_table_of_top_level_events_only():
    prof, _ = profile_step()
    for events in (prof.events(), prof.key_averages()):
        lines = events.table(top_level_events_only=True).splitlines()
        assert lines[1] == "This report only display top-level ops statistics"
        assert [line.split()[0] for line in lines[5:-2]] == ["forward", "backward"]


def test_table_numbers_use_pytorchs_formats():
    for us in (0.0, 0.5, 999.999, 1234.5, 2.5e6):
        assert format_time(us) == torch_util._format_time(us)
    for nbytes in (0, 12, 1023, 1024, 1536, 5 * 1024 ** 2, 3 * 1024 ** 3, -2048):
        assert format_memory(nbytes) == torch_util._format_memory(nbytes)


def test_averages_sum_the_events():
    prof, _ = profile_step(profile_memory=True)
    events = prof.events()
    for avg in prof.key_averages():
        mine = [e for e in events if e.name == avg.key]
        assert avg.count == len(mine)
        assert avg.cpu_time_total == pytest.approx(sum(e.cpu_time_total for e in mine))
        assert avg.self_cpu_time_total == pytest.approx(sum(e.self_cpu_time_total for e in mine))
        assert avg.cpu_memory_usage == sum(e.cpu_memory_usage for e in mine)
        assert avg.cpu_time == pytest.approx(avg.cpu_time_total / avg.count)
    assert prof.key_averages().total_average().count == len(events)


def test_profiled_training_gives_the_same_numbers():
    model, (x, y) = small_net(), small_batch()

    def step():
        model.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return [loss.detach().numpy()] + [p.grad.numpy().copy() for p in model.parameters()]

    expected = step()
    with profile(record_shapes=True, profile_memory=True, with_stack=True):
        got = step()
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)
