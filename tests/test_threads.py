"""ember.set_num_threads controls NumPy's BLAS, like torch.set_num_threads."""

import pytest

import ember


def test_set_and_get_num_threads_round_trip():
    before = ember.get_num_threads()
    try:
        ember.set_num_threads(2)
        assert ember.get_num_threads() == 2
        ember.set_num_threads(1)
        assert ember.get_num_threads() == 1
    finally:
        ember.set_num_threads(before)


def test_bad_thread_count():
    with pytest.raises(ValueError, match="positive number of threads"):
        ember.set_num_threads(0)
