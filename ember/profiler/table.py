"""The profiler's text table, with PyTorch's columns, widths, units and number formats."""

from ember._errors import value_error

__all__ = ["build_table", "SORT_KEYS", "format_time", "format_memory"]

SORT_KEYS = ("cpu_time_total", "self_cpu_time_total", "cpu_time", "count",
             "cpu_memory_usage", "self_cpu_memory_usage")
_WIDTH = 12  # the width of every numeric column
_SPACING = "  "
_TIME_UNITS = {"s": 1e6, "ms": 1e3, "us": 1.0}


def format_time(us, unit=None):
    """``"1.234ms"`` for 1234 microseconds (PyTorch's format); ``unit`` forces one."""
    if unit is None:
        unit = "s" if us >= 1e6 else "ms" if us >= 1e3 else "us"
    return f"{us / _TIME_UNITS[unit]:.3f}{unit}"


def format_memory(nbytes):
    """``"1.50 KB"`` for 1536 bytes (PyTorch's format)."""
    for unit, size in (("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
        if abs(nbytes) >= size:
            return f"{nbytes / size:.2f} {unit}"
    return f"{nbytes} B"


def _share(us, total):
    return f"{us * 100 / total:.2f}%" if total else "NaN"


def _check(sort_by, time_unit):
    if time_unit is not None and time_unit not in _TIME_UNITS:
        raise value_error("table", f"time_unit must be one of s, ms, us, got {time_unit!r}")
    if sort_by is None or sort_by in SORT_KEYS:
        return
    hint = " (ember runs on the CPU only)" if "cuda" in sort_by or "device" in sort_by else ""
    raise value_error("table", f"cannot sort by {sort_by!r}{hint}; sort_by must be one of "
                               f"{', '.join(SORT_KEYS)}")


def _clip(text, width):
    return text if len(text) < width - 3 else text[:width - 3] + "..."


def _clip_path(path, width):
    return path if len(path) <= width else "..." + path[len(path) - width + 3:]


def build_table(events, sort_by=None, row_limit=100, max_name_column_width=55,
                max_shapes_column_width=80, max_src_column_width=75, header=None,
                top_level_events_only=False, time_unit=None):
    """The table of ``events`` (an ``EventList``) as one string, rows sorted by ``sort_by``."""
    _check(sort_by, time_unit)
    if not events:
        return ""
    total = sum(e.self_cpu_time_total for e in events)
    rows = list(events)
    if sort_by is not None:
        rows.sort(key=lambda e: getattr(e, sort_by), reverse=True)
    if top_level_events_only:
        rows = [e for e in rows if getattr(e, "cpu_parent", None) is None]
    if row_limit is not None and row_limit >= 0:
        rows = rows[:row_limit]
    columns = _columns(events, max_name_column_width, max_shapes_column_width,
                       max_src_column_width, time_unit)
    fmt = "".join(f"{{:{align}{width}}}{_SPACING}" for _, width, align, _ in columns)
    sep = "".join("-" * width + _SPACING for _, width, _, _ in columns)
    lines = []
    if header is not None:
        lines += ["=" * len(sep), header]
    if top_level_events_only:
        lines += ["=" * len(sep), "This report only display top-level ops statistics"]
    lines += [sep, fmt.format(*(title for title, _, _, _ in columns)), sep]
    for e in rows:
        lines.append(fmt.format(*(value(e, total) for _, _, _, value in columns)))
        if events.with_stack:  # the outer frames of the stack, one per line, as in PyTorch
            blank = [""] * (len(columns) - 1)
            for frame in e.stack[1:]:
                lines.append(fmt.format(*blank, _clip_path(frame, columns[-1][1])))
            lines.append(fmt.format(*blank, ""))
    lines += [sep, f"Self CPU time total: {format_time(total, time_unit)}", ""]
    return "\n".join(lines)


def _columns(events, max_name, max_shapes, max_src, unit):
    """``(title, width, alignment, value(event, total))`` for each column shown."""
    name_width = min(max(len(e.key) for e in events) + 4, max_name)
    columns = [
        ("Name", name_width, ">", lambda e, t: _clip(e.key, max_name)),
        ("Self CPU %", _WIDTH, ">", lambda e, t: _share(e.self_cpu_time_total, t)),
        ("Self CPU", _WIDTH, ">", lambda e, t: format_time(e.self_cpu_time_total, unit)),
        ("CPU total %", _WIDTH, ">", lambda e, t: _share(e.cpu_time_total, t)),
        ("CPU total", _WIDTH, ">", lambda e, t: format_time(e.cpu_time_total, unit)),
        ("CPU time avg", _WIDTH, ">", lambda e, t: format_time(e.cpu_time, unit)),
    ]
    if events.with_memory:
        columns += [
            ("CPU Mem", _WIDTH, ">", lambda e, t: format_memory(e.cpu_memory_usage)),
            ("Self CPU Mem", _WIDTH, ">", lambda e, t: format_memory(e.self_cpu_memory_usage)),
        ]
    columns.append(("# of Calls", _WIDTH, ">", lambda e, t: str(e.count)))
    if events.with_shapes:
        width = min(max(len(str(e.input_shapes)) for e in events) + 4, max_shapes)
        columns.append(("Input Shapes", width, ">", lambda e, t: str(e.input_shapes)[:width]))
    if events.with_stack:
        width = min(max((len(s) for e in events for s in e.stack), default=0) + 4, max_src)
        columns.append(("Source Location", width, "<",
                        lambda e, t: _clip_path(e.stack[0], width) if e.stack else ""))
    return columns
