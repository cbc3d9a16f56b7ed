"""Trainer.fit / evaluate / predict against hand-written loops doing the same steps."""

import numpy as np
import pytest

import ember
from ember import nn
from ember.data import DataLoader, TensorDataset
from ember.nn import functional as F
from ember.train import Trainer
from ember.train.callbacks import Callback, LambdaCallback
from tests.train.helpers import assert_same_weights, digits_loaders, mlp, small_cnn, toy_loader


def _hand_written(model, optimizer, train, test, epochs):
    """The loop every tutorial writes, with a validation pass after each epoch."""
    accuracies = []
    for _ in range(epochs):
        model.train()
        for x, y in train:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
        model.eval()
        correct = 0
        with ember.no_grad():
            for x, y in test:
                correct += int((model(x).argmax(1) == y).sum())
        accuracies.append(correct / len(test.dataset))
    return accuracies


@pytest.mark.parametrize("make_model, flatten", [(mlp, True), (small_cnn, False)])
def test_fit_equals_the_hand_written_loop(make_model, flatten):
    # Shuffling, dropout and the validation loader all draw from the default generator,
    # so equal weights mean fit takes exactly the same steps in the same order.
    runs = []
    for use_trainer in (False, True):
        ember.manual_seed(0)
        model = make_model()
        optimizer = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        train, test = digits_loaders(flatten=flatten)
        if use_trainer:
            trainer = Trainer(model, optimizer, "cross_entropy", metrics=["accuracy"])
            history = trainer.fit(train, validation_data=test, epochs=3, verbose=0)
            accuracies = history.history["val_accuracy"]
        else:
            accuracies = _hand_written(model, optimizer, train, test, epochs=3)
        runs.append((model, accuracies))
    (hand, hand_acc), (fit, fit_acc) = runs
    assert_same_weights(hand, fit)
    assert fit_acc == hand_acc
    assert hand_acc[-1] > 0.85


def test_history_and_evaluate_agree():
    ember.manual_seed(1)
    model = mlp()
    train, test = digits_loaders()
    trainer = Trainer(model, ember.optim.Adam(model.parameters(), lr=1e-2), "cross_entropy",
                      metrics=["accuracy"])
    history = trainer.fit(train, validation_data=test, epochs=2, verbose=0)
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert all(len(v) == 2 for v in history.history.values())
    assert history.epoch == [0, 1]
    results = trainer.evaluate(test)
    assert results == {"loss": history.history["val_loss"][-1],
                       "accuracy": history.history["val_accuracy"][-1]}
    # evaluate's loss is the mean over all samples; its accuracy the plain fraction.
    X, y = test.dataset.data, test.dataset.targets
    model.eval()
    with ember.no_grad():
        logits = model(X.reshape(-1, 64).float() / 16)
    np.testing.assert_allclose(results["loss"], float(F.cross_entropy(logits, y)), rtol=1e-5)
    assert results["accuracy"] == int((logits.argmax(1) == y).sum()) / len(y)
    assert model.training is False  # as the test left it: evaluate restores the mode


def test_training_loss_is_the_sample_weighted_mean_of_batch_losses():
    seen = []
    loader = toy_loader(n=30, batch_size=8)  # batches of 8, 8, 8, 6
    model = nn.Linear(3, 1)
    optimizer = ember.optim.SGD(model.parameters(), lr=0.0)  # weights stay put
    trainer = Trainer(model, optimizer, "mse")
    record = LambdaCallback(on_train_batch_begin=lambda step, logs: seen.append(step))
    history = trainer.fit(loader, epochs=1, callbacks=[record], verbose=0)
    losses = [(float(F.mse_loss(model(x), y)), len(y)) for x, y in loader]
    expected = sum(l * n for l, n in losses) / 30
    np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-6)
    assert seen == [0, 1, 2, 3] and trainer.global_step == 4


def test_predict_concatenates_outputs_in_eval_mode():
    ember.manual_seed(2)
    model = mlp(dropout=0.5)
    x = ember.randn(50, 64)
    trainer = Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), "cross_entropy")
    out = trainer.predict(DataLoader(TensorDataset(x), batch_size=16))  # batches of [x]
    assert out.shape == (50, 10) and not out.requires_grad
    model.eval()
    np.testing.assert_allclose(out.numpy(), model(x).detach().numpy(), rtol=1e-6, atol=1e-6)
    bare = trainer.predict([x[:20], x[20:]])  # batches may be the inputs alone
    np.testing.assert_array_equal(bare.numpy(), out.numpy())


def test_inputs_as_tuples_and_dicts_and_tuple_outputs():
    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(2, 1), nn.Linear(3, 1)

        def forward(self, left, right):
            return self.a(left) + self.b(right)

    ember.manual_seed(3)
    model = TwoInputs()
    left, right, y = ember.randn(8, 2), ember.randn(8, 3), ember.randn(8, 1)
    trainer = Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), "mse",
                      metrics=["mae"])
    as_tuple = trainer.evaluate([((left, right), y)])
    as_dict = trainer.evaluate([({"left": left, "right": right}, y)])
    assert as_tuple == as_dict
    np.testing.assert_allclose(as_tuple["mae"],
                               float((model(left, right) - y).abs().mean()), rtol=1e-6)

    class Pair(nn.Module):
        def forward(self, x):
            return x * 2, x.sum(1)

    parts = Trainer(Pair(), None, "mse").predict([ember.ones(2, 3), ember.ones(1, 3)])
    assert isinstance(parts, tuple) and parts[0].shape == (3, 3) and parts[1].shape == (3,)


def test_loss_names_and_functions():
    model = nn.Linear(3, 1)
    loader = toy_loader()
    by_name = Trainer(model, None, "mse").evaluate(loader)
    by_fn = Trainer(model, None, F.mse_loss).evaluate(loader)
    by_module = Trainer(model, None, nn.MSELoss()).evaluate(loader)
    assert by_name == by_fn == by_module
    assert Trainer(model, None, "l1").loss_fn is F.l1_loss
    assert Trainer(model, None, "cross_entropy").loss_fn is F.cross_entropy
    with pytest.raises(ValueError, match="unknown loss 'relu'"):
        Trainer(model, None, "relu")
    with pytest.raises(ValueError, match="unknown metric 'acc'"):
        Trainer(model, None, "mse", metrics=["acc"])


def test_a_callback_stops_training_after_its_epoch():
    class StopAfterSecond(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.trainer.stop_training = True

    model = nn.Linear(3, 1)
    trainer = Trainer(model, ember.optim.SGD(model.parameters(), lr=0.01), "mse")
    history = trainer.fit(toy_loader(), epochs=10, callbacks=[StopAfterSecond()], verbose=0)
    assert history.epoch == [0, 1] and trainer.global_step == 8


def test_a_bad_batch_says_what_is_wrong():
    model = nn.Linear(3, 1)
    trainer = Trainer(model, ember.optim.SGD(model.parameters(), lr=0.01), "mse")
    with pytest.raises(ValueError, match=r"pair \(inputs, targets\); got a tuple of 3"):
        trainer.fit([(ember.ones(2, 3), ember.ones(2, 1), 0)], verbose=0)
    with pytest.raises(ValueError, match="got a Tensor"):
        trainer.evaluate([ember.ones(2, 3)])


def test_training_state_is_only_at_epoch_ends():
    model = nn.Linear(3, 1)
    trainer = Trainer(model, ember.optim.SGD(model.parameters(), lr=0.01), "mse")
    with pytest.raises(RuntimeError, match="at the end of an epoch"):
        trainer.training_state()
    states = []
    grab = LambdaCallback(on_epoch_end=lambda epoch, logs: states.append(
        trainer.training_state()["epoch"]))
    trainer.fit(toy_loader(), epochs=2, callbacks=[grab], verbose=0)
    assert states == [1, 2]
    grab = LambdaCallback(on_batch_end=lambda step, logs: trainer.training_state())
    with pytest.raises(RuntimeError, match="epoch boundaries only"):
        trainer.fit(toy_loader(), epochs=1, callbacks=[grab], verbose=0)
