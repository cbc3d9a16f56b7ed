"""Op specifications: shape ops."""

from tests.ops.harness import F, Spec

SPECS = [
    Spec("reshape", lambda m, a: a.reshape(4, 3), [[(3, 4)], [F((3, 4), noncontig=True)]]),
    Spec("reshape_infer", lambda m, a: m.reshape(a, (-1,)), [[(2, 3, 2)]]),
    Spec("view", lambda m, a: a.view(2, 6), [[(3, 4)]]),
    Spec("permute", lambda m, a: a.permute(2, 0, 1), [[(2, 3, 4)]]),
    Spec("transpose", lambda m, a: a.transpose(0, -1), [[(2, 3, 4)]]),
    Spec("T", lambda m, a: a.T, [[(2, 3)]]),
    Spec("mT", lambda m, a: a.mT, [[(2, 3, 4)]]),
    Spec("squeeze", lambda m, a: a.squeeze(), [[(1, 3, 1, 2)]]),
    Spec("squeeze_dim", lambda m, a: a.squeeze(2), [[(1, 3, 1, 2)]]),
    Spec("unsqueeze", lambda m, a: a.unsqueeze(-1), [[(3, 2)]]),
    Spec("expand", lambda m, a: a.expand(2, 3, 4), [[(3, 1)]]),
    Spec("expand_keep", lambda m, a: a.expand(-1, 4), [[(3, 1)]]),
    Spec("broadcast_to", lambda m, a: m.broadcast_to(a, (2, 3)), [[(3,)]]),
    Spec("clone", lambda m, a: a.clone(), [[(3,)]]),
    Spec("movedim", lambda m, a: m.movedim(a, 0, -1), [[(2, 3, 4)]]),
    Spec("to_float64", lambda m, a: a.float().double(), [[(3,)]], gradcheck=False,
         gradgradcheck=False),
]
