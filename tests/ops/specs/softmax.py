"""Op specifications: softmax, log_softmax, softmin along every dimension."""

from tests.ops.harness import F, Spec

# Every dimension of a 3-D tensor, negative ones included.
DIMS = [0, 1, 2, -1, -2, -3]


def _along_dims(shape=(2, 3, 4)):
    return [[F(shape), d] for d in DIMS]


EDGE = [[F((3, 4), noncontig=True), 1], [F((3, 4), noncontig=True), 0], [F(()), 0], [F(()), -1],
        [F((5,)), 0], [F((1, 4)), 0], [F((3, 4), 40.0, 90.0), 1]]

SPECS = [
    Spec("softmax", lambda m, x, d: m.softmax(x, d), _along_dims() + EDGE),
    Spec("softmax_functional", lambda m, x, d: m.nn.functional.softmax(x, dim=d),
         [[F((3, 4)), -1]]),
    Spec("softmax_method", lambda m, x, d: x.softmax(d), [[F((3, 4)), 0]]),
    Spec("softmax_dtype", lambda m, x, d: m.nn.functional.softmax(x, d, dtype=m.float64),
         [[F((3, 4)), 1]]),
    Spec("log_softmax", lambda m, x, d: m.log_softmax(x, d), _along_dims() + EDGE),
    Spec("log_softmax_functional", lambda m, x, d: m.nn.functional.log_softmax(x, dim=d),
         [[F((3, 4)), -1]]),
    Spec("log_softmax_method", lambda m, x, d: x.log_softmax(d), [[F((2, 5)), -1]]),
    Spec("log_softmax_dtype", lambda m, x, d: x.log_softmax(d, dtype=m.float64), [[F((4,)), 0]]),
    Spec("softmin", lambda m, x, d: m.nn.functional.softmin(x, d),
         [[F((2, 3, 4)), 1], [F((2, 3, 4)), -1], [F((3, 4), noncontig=True), 0], [F(()), 0]]),
]
