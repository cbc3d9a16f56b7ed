"""Crash safety: a save killed at any moment, or failing, never harms the previous
checkpoint. The kills are real: a writer process gets SIGKILL mid-save."""

import os
import pathlib
import signal
import stat
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import ember
import ember.serialization.format
from ember.serialization import load, save
from ember.serialization.checkpoint import _save

ROOT = pathlib.Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and fsync of directories")


def good_checkpoint(path):
    save({"w": ember.ones(1000), "epoch": 1}, path)
    return path.read_bytes()


def assert_still_good(path, before):
    assert path.read_bytes() == before
    out = load(path)
    assert out["epoch"] == 1 and out["w"].tolist() == [1.0] * 1000


def strays(directory, keep):
    return sorted(p.name for p in directory.iterdir() if p.name not in keep)


def run_writer(script, *args):
    code = textwrap.dedent("""
        import sys, time, io
        import numpy as np
        import ember
        import ember.serialization.format as fmt
        from ember.serialization.checkpoint import _save
        path, ready = sys.argv[1], sys.argv[2]

        def signal_ready(text=""):
            with open(ready + ".part", "w") as f:
                f.write(text)
            import os
            os.replace(ready + ".part", ready)
    """) + textwrap.dedent(script)
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def wait_for(path, process, limit=120.0):
    """Wait until the writer signals (a safety limit against a hung test, not a timing
    assertion)."""
    deadline = time.monotonic() + limit
    while not path.exists():
        assert process.poll() is None, "the writer exited before signalling"
        assert time.monotonic() < deadline, "the writer never signalled"
        time.sleep(0.01)
    return path.read_text()


def kill(process):
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL


def test_killed_between_write_and_rename(tmp_path):
    target, ready = tmp_path / "ckpt", tmp_path / "ready"
    before = good_checkpoint(target)
    writer = run_writer("""
        big = {"w": ember.from_numpy(np.full(4_000_000, 7.0, np.float32)), "epoch": 2}
        _save(big, path, _before_replace=lambda temporary: (signal_ready(temporary),
                                                             time.sleep(600)))
    """, target, ready)
    temporary = pathlib.Path(wait_for(ready, writer))
    kill(writer)
    assert_still_good(target, before)
    # The new checkpoint was complete and synced; only the rename had not happened.
    assert temporary.parent == tmp_path and temporary.name.startswith(".ckpt.")
    assert load(temporary)["epoch"] == 2


def test_killed_in_the_middle_of_writing(tmp_path):
    target, ready = tmp_path / "ckpt", tmp_path / "ready"
    before = good_checkpoint(target)
    writer = run_writer("""
        real_write = fmt.write

        def half_then_hang(stream, arrays, metadata):
            whole = io.BytesIO()
            real_write(whole, arrays, metadata)
            stream.write(whole.getvalue()[:len(whole.getvalue()) // 2])
            stream.flush()
            signal_ready(str(len(whole.getvalue())))
            time.sleep(600)

        fmt.write = half_then_hang
        _save({"w": ember.from_numpy(np.full(1_000_000, 7.0, np.float32))}, path)
    """, target, ready)
    full_size = int(wait_for(ready, writer))
    kill(writer)
    assert_still_good(target, before)
    [stray] = strays(tmp_path, {"ckpt", "ready"})
    assert 0 < (tmp_path / stray).stat().st_size < full_size


def test_killed_at_an_arbitrary_moment_of_repeated_saves(tmp_path):
    target, ready = tmp_path / "ckpt", tmp_path / "ready"
    good_checkpoint(target)
    writer = run_writer("""
        for i in range(1_000_000):
            _save({"w": ember.from_numpy(np.full(4_000_000, float(i), np.float32)),
                   "epoch": 100 + i}, path)
            if i == 0:
                signal_ready()
    """, target, ready)
    wait_for(ready, writer)
    time.sleep(np.random.default_rng().uniform(0.0, 0.3))
    kill(writer)
    out = load(target)  # whichever save was last renamed into place, it is whole
    assert out["epoch"] >= 100
    np.testing.assert_array_equal(out["w"].numpy(), float(out["epoch"] - 100))
    assert len(strays(tmp_path, {"ckpt", "ready"})) <= 1


def test_an_error_while_writing_removes_the_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "ckpt"
    before = good_checkpoint(target)

    def fail_halfway(stream, arrays, metadata):
        stream.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ember.serialization.format, "write", fail_halfway)
    with pytest.raises(OSError, match="No space left"):
        save({"w": ember.zeros(5)}, target)
    monkeypatch.undo()
    assert_still_good(target, before)
    assert strays(tmp_path, {"ckpt"}) == []


def test_an_interrupt_before_the_rename_removes_the_temporary_file(tmp_path):
    target = tmp_path / "ckpt"
    before = good_checkpoint(target)

    def interrupt(temporary):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _save({"w": ember.zeros(5)}, target, _before_replace=interrupt)
    assert_still_good(target, before)
    assert strays(tmp_path, {"ckpt"}) == []


def test_the_file_is_synced_before_the_rename_and_the_directory_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(
        ("fsync", "dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")), real_fsync(fd)))
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("replace",)),
                                                     real_replace(a, b)))
    save({"w": ember.ones(3)}, tmp_path / "ckpt")
    monkeypatch.undo()
    assert events == [("fsync", "file"), ("replace",), ("fsync", "dir")]
    assert load(tmp_path / "ckpt")["w"].tolist() == [1.0, 1.0, 1.0]


def test_permissions_are_kept_and_new_files_get_the_usual_ones(tmp_path):
    existing = tmp_path / "existing"
    good_checkpoint(existing)
    existing.chmod(0o640)
    save({"w": ember.ones(2)}, existing)
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640
    umask = os.umask(0)
    os.umask(umask)
    save({"w": ember.ones(2)}, tmp_path / "new")
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o666 & ~umask


def test_a_symlink_is_followed(tmp_path):
    real, link = tmp_path / "ckpt-10", tmp_path / "latest"
    good_checkpoint(real)
    link.symlink_to(real.name)
    save({"epoch": 11}, link)
    assert link.is_symlink() and load(real) == {"epoch": 11}


def test_impossible_targets_leave_nothing_behind(tmp_path):
    with pytest.raises(FileNotFoundError):
        save({"w": ember.ones(1)}, tmp_path / "missing-dir" / "ckpt")
    (tmp_path / "a-dir").mkdir()
    with pytest.raises(IsADirectoryError):
        save({"w": ember.ones(1)}, tmp_path / "a-dir")
    assert strays(tmp_path, set()) == ["a-dir"] and list((tmp_path / "a-dir").iterdir()) == []
