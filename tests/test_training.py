"""mer.training: the loop overfits, repeats exactly, stops early, restores, checkpoints."""

import json
import math

import numpy as np
import pytest
import torch

from mer.errors import ConfigError, DataError
from mer.models import build_model, has_attention
from mer.runtime import seed_everything
from mer.training import (TrainConfig, fit, load_checkpoint, predict, resolve_device,
                          save_checkpoint)

torch.set_num_threads(1)

T, D = 12, 5
SMALL = {"LSTM_16": {}, "AT_16": {}, "BAT_16": {},
         "TRANSFORMER_1": {"d_model": 16, "heads": 2, "ff_dim": 32, "dropout": 0.0}}


def songs(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, T, D)).astype(np.float32)
    y = 0.5 * np.sin(np.linspace(0, 3, T))[None] + 0.3 * rng.standard_normal((n, T))
    return x, y.astype(np.float32)


def make(name, seed=0):
    seed_everything(seed)
    return build_model(name, D, **SMALL.get(name, {}))


def without_seconds(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


@pytest.mark.parametrize("name", list(SMALL))
def test_each_family_overfits_four_songs(name):
    """300 full-batch steps bring the training MSE below 5 % of the initial loss."""
    x, y = songs(4)
    model = make(name)
    history = fit(model, x, y, None, None,
                  TrainConfig(max_epochs=300, batch_size=4, learning_rate=3e-3))
    initial = history[0]["train_loss"]  # one batch per epoch: the loss before any step
    assert history[-1]["train_loss"] < 0.05 * initial
    prediction, attention = predict(model, x)
    assert np.mean((prediction - y) ** 2) < 0.05 * initial  # also with its own feedback
    assert (attention is None) == (not has_attention(name))


def test_teacher_forcing_trains():
    x, y = songs(4)
    model = make("AT_16")
    history = fit(model, x, y, None, None, TrainConfig(
        max_epochs=150, batch_size=4, learning_rate=3e-3, feedback="teacher_forcing"))
    assert history[-1]["train_loss"] < 0.2 * history[0]["train_loss"]


@pytest.mark.parametrize("name", ["LSTM_8", "AT_8", "BAT_8", "TRANSFORMER_1"])
def test_cpu_training_is_deterministic(name):
    x, y = songs(10)
    vx, vy = songs(4, seed=1)
    config = TrainConfig(max_epochs=4, batch_size=3)
    runs = []
    for _ in range(2):
        seed_everything(config.seed)
        model = build_model(name, D, d_model=16, heads=2) if name.startswith("TRANS") \
            else build_model(name, D)
        history = fit(model, x, y, vx, vy, config)
        runs.append((without_seconds(history), model.state_dict(), predict(model, vx)))
    (h1, s1, (p1, a1)), (h2, s2, (p2, a2)) = runs
    assert h1 == h2
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    assert np.array_equal(p1, p2) and np.array_equal(a1, a2)


def test_seed_changes_the_shuffle():
    x, y = songs(10)
    histories = []
    for seed in (0, 1):
        model = make("LSTM_8")  # same initial weights; only the shuffle seed differs
        histories.append(fit(model, x, y, None, None,
                             TrainConfig(max_epochs=2, batch_size=3, seed=seed)))
    assert without_seconds(histories[0]) != without_seconds(histories[1])


def test_early_stopping_stops_and_restores_best_weights():
    """Validation targets that are the negated training targets get worse as it fits."""
    x, y = songs(6)
    config = TrainConfig(max_epochs=40, batch_size=6, learning_rate=3e-3, patience=3)
    model = make("LSTM_8")
    history = fit(model, x, y, x, -y, config)
    best_epoch = max(row["epoch"] for row in history if row["improved"])
    best_loss = history[best_epoch - 1]["val_loss"]
    assert len(history) == best_epoch + config.patience < config.max_epochs
    assert all(row["val_loss"] >= best_loss - config.min_delta
               for row in history[best_epoch:])
    # the returned model is the one after best_epoch epochs, bit for bit
    reference = make("LSTM_8")
    fit(reference, x, y, None, None,
        TrainConfig(max_epochs=best_epoch, batch_size=6, learning_rate=3e-3))
    restored, expected = model.state_dict(), reference.state_dict()
    assert all(torch.equal(restored[k], expected[k]) for k in expected)
    prediction, _ = predict(model, x)
    assert np.mean((prediction + y) ** 2) == pytest.approx(best_loss, rel=1e-5)


def test_improvements_below_min_delta_do_not_count():
    x, y = songs(6)
    config = TrainConfig(max_epochs=30, batch_size=6, patience=2, min_delta=1e3)
    history = fit(make("LSTM_8"), x, y, x, y, config)
    assert [row["improved"] for row in history] == [True, False, False]


def test_log_gets_one_line_per_epoch_and_the_stop():
    x, y = songs(6)
    lines = []
    fit(make("LSTM_8"), x, y, x, y, TrainConfig(max_epochs=30, batch_size=6, patience=2,
                                                min_delta=1e3), log=lines.append)
    assert sum(line.startswith("epoch") for line in lines) == 3
    assert any("early stop" in line for line in lines)
    assert "restored weights of epoch 1" in lines[-1]


def test_predict_batches_do_not_change_results():
    x, _ = songs(7)
    model = make("BAT_8")
    one, attention_one = predict(model, x, batch_size=64)
    many, attention_many = predict(model, x, batch_size=2)
    assert one.shape == (7, T) and attention_one.shape == (7, T, T)
    np.testing.assert_allclose(one, many, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(attention_one, attention_many, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["AT_8", "TRANSFORMER_2"])
def test_checkpoint_round_trip(tmp_path, name):
    x, y = songs(5)
    options = {"d_model": 16, "heads": 2} if name.startswith("TRANS") else {"attention_dim": 4}
    seed_everything(0)
    model = build_model(name, D, **options)
    fit(model, x, y, None, None, TrainConfig(max_epochs=2, batch_size=2))
    path = tmp_path / "fold3" / f"{name}.pt"
    extra = {"fold": 3, "config": {"seed": 0}, "val_loss": math.nan}
    save_checkpoint(path, model, model_name=name, input_dim=D, model_options=options,
                    extra=extra)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    assert set(torch.load(path, weights_only=True)) == {"meta", "state_dict"}
    loaded, meta = load_checkpoint(path)
    assert meta["model_name"] == name and meta["input_dim"] == D
    assert meta["model_options"] == options and meta["extra"]["fold"] == 3
    expected, expected_attention = predict(model, x)
    actual, actual_attention = predict(loaded, x)
    assert np.array_equal(actual, expected)
    assert np.array_equal(actual_attention, expected_attention)


def test_checkpoint_metadata_must_be_json(tmp_path):
    with pytest.raises(ConfigError, match="JSON"):
        save_checkpoint(tmp_path / "m.pt", make("LSTM_8"), model_name="LSTM_8",
                        input_dim=D, extra={"array": np.zeros(2)})
    assert not list(tmp_path.iterdir())


def test_unreadable_checkpoint(tmp_path):
    path = tmp_path / "bad.pt"
    path.write_text(json.dumps({"not": "a checkpoint"}))
    with pytest.raises(DataError, match="bad.pt"):
        load_checkpoint(path)


@pytest.mark.parametrize("change, key", [
    ({"max_epochs": 0}, "max_epochs"), ({"batch_size": 2.5}, "batch_size"),
    ({"learning_rate": 0}, "learning_rate"), ({"rho": 1.0}, "rho"),
    ({"feedback": "teacher"}, "feedback"), ({"device": "gpu"}, "device"),
])
def test_invalid_config(change, key):
    x, y = songs(2)
    with pytest.raises(ConfigError, match=key):
        fit(make("LSTM_8"), x, y, None, None, TrainConfig(**change))


def test_invalid_data():
    x, y = songs(3)
    with pytest.raises(DataError, match="shape"):
        fit(make("LSTM_8"), x, y[:, :-1], None, None, TrainConfig(max_epochs=1))
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        fit(make("LSTM_8"), bad, y, None, None, TrainConfig(max_epochs=1))
    with pytest.raises(DataError, match="validation"):
        fit(make("LSTM_8"), x, y, x, None, TrainConfig(max_epochs=1))


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="cuda"):
            resolve_device("cuda")
    with pytest.raises(ConfigError, match="device"):
        resolve_device("tpu")


def test_teacher_forcing_feeds_the_annotations():
    """Same seed and data: the first epoch's loss is the same (u starts at 0), then the
    gradient of u differs (annotation vs own y_{t-1}), so the runs part."""
    x, y = songs(4)
    histories = []
    for feedback in ("free_running", "teacher_forcing"):
        histories.append(fit(make("AT_8"), x, y, None, None,
                             TrainConfig(max_epochs=3, batch_size=4, feedback=feedback)))
    free, forced = histories
    assert free[0]["train_loss"] == forced[0]["train_loss"]
    assert free[2]["train_loss"] != forced[2]["train_loss"]


@pytest.mark.parametrize("device, gpus", [("cpu", 0), ("cuda", 1),
                                          ("auto", int(torch.cuda.is_available()))])
def test_training_gpus(device, gpus):
    from mer.training import training_gpus
    assert training_gpus(device) == gpus


def test_training_gpus_rejects_unknown_devices():
    from mer.training import training_gpus
    with pytest.raises(ConfigError, match="device"):
        training_gpus("gpu")


# Variable-length songs, padded at the end; targets NaN beyond each song's length.

def padded_songs(lengths, seed=0):
    """``songs`` padded to T: garbage features (huge, one NaN) and NaN targets beyond."""
    x, y = songs(len(lengths), seed)
    lengths = np.asarray(lengths)
    real = np.arange(T) < lengths[:, None]
    rng = np.random.default_rng(seed + 100)
    x = np.where(real[..., None], x, 1e6 * rng.standard_normal(x.shape)).astype(np.float32)
    x[np.argmin(lengths), -1, 0] = np.nan
    return x, np.where(real, y, np.nan).astype(np.float32), lengths


LENGTHS = [5, 12, 3, 9, 12, 7]


@pytest.mark.parametrize("name, feedback", [("LSTM_8", "free_running"),
                                            ("AT_8", "teacher_forcing"),
                                            ("BAT_8", "free_running"),
                                            ("TRANSFORMER_1", "free_running")])
def test_padded_songs_train_and_predict(name, feedback):
    x, y, lengths = padded_songs(LENGTHS)
    vx, vy, v_lengths = padded_songs([4, 10, 6], seed=1)
    history = fit(make(name), x, y, vx, vy, TrainConfig(max_epochs=3, batch_size=4,
                                                        feedback=feedback),
                  train_lengths=lengths, val_lengths=v_lengths)
    assert all(math.isfinite(row["train_loss"]) and math.isfinite(row["val_loss"])
               for row in history)


def test_predict_padded_songs_equals_each_song_alone():
    x, _, lengths = padded_songs(LENGTHS)
    model = make("AT_8")
    real = np.arange(T) < lengths[:, None]
    for batch_size in (64, 2):  # batches are formed by length, then cropped
        prediction, attention = predict(model, x, lengths=lengths, batch_size=batch_size)
        assert prediction.shape == (len(x), T) and attention.shape == (len(x), T, T)
        assert np.isnan(prediction[~real]).all() and np.isfinite(prediction[real]).all()
        assert (attention[~(real[:, :, None] & real[:, None, :])] == 0).all()
        for song, length in enumerate(lengths):  # results in the songs' own order
            alone, alone_attention = predict(model, x[song:song + 1, :length])
            np.testing.assert_allclose(prediction[song, :length], alone[0], rtol=0, atol=1e-5)
            np.testing.assert_allclose(attention[song, :length, :length], alone_attention[0],
                                       rtol=0, atol=1e-5)
    without_attention, none = predict(make("LSTM_8"), x, lengths=lengths)
    assert none is None and np.isnan(without_attention[~real]).all()


@pytest.mark.parametrize("name, feedback", [("AT_8", "teacher_forcing"),
                                            ("TRANSFORMER_1", "free_running")])
def test_songs_of_one_length_train_as_the_unpadded_songs(name, feedback):
    """Padding every song from 8 to T frames (NaN targets) changes nothing, bit for bit;
    nor do lengths that are all T."""
    n_real = 8
    x, y, lengths = padded_songs([n_real] * 7)
    vx, vy, v_lengths = padded_songs([n_real] * 3, seed=1)
    config = TrainConfig(max_epochs=3, batch_size=3, feedback=feedback)
    runs = []
    for arrays, kwargs in [
            ((x[:, :n_real], y[:, :n_real], vx[:, :n_real], vy[:, :n_real]), {}),
            ((x, y, vx, vy), {"train_lengths": lengths, "val_lengths": v_lengths})]:
        model = make(name)
        history = fit(model, *arrays, config, **kwargs)
        runs.append((without_seconds(history), model.state_dict()))
    (h1, s1), (h2, s2) = runs
    assert h1 == h2
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    # predictions too, NaN beyond the 8 frames
    model = make(name)
    fit(model, x[:, :n_real], y[:, :n_real], None, None, config)
    unpadded, unpadded_attention = predict(model, vx[:, :n_real])
    padded, padded_attention = predict(model, vx, lengths=v_lengths)
    assert np.array_equal(padded[:, :n_real], unpadded) and np.isnan(padded[:, n_real:]).all()
    assert np.array_equal(padded_attention[:, :n_real, :n_real], unpadded_attention)
    # lengths that are all T are the unpadded run
    x, y = songs(7)
    full = [without_seconds(fit(make(name), x, y, None, None, config, **kwargs))
            for kwargs in ({}, {"train_lengths": np.full(7, T)})]
    assert full[0] == full[1]


def test_masked_loss_is_the_mse_of_the_real_frames():
    """One full batch, one epoch: train_loss is the loss before the step, val_loss that of
    the trained model; both are sums over real frames divided by their count, checked
    against each song run alone."""
    x, y, lengths = padded_songs(LENGTHS)
    vx, vy, v_lengths = padded_songs([4, 10, 6], seed=1)
    model = make("BAT_8")

    def hand_mse(model, x, y, lengths):
        with torch.no_grad():
            errors = [model(torch.as_tensor(x[i:i + 1, :n]))[0][0].numpy() - y[i, :n]
                      for i, n in enumerate(lengths)]
        return float(np.sum(np.concatenate(errors).astype(np.float64) ** 2) / np.sum(lengths))

    expected_train = hand_mse(model.train(), x, y, lengths)
    history = fit(model, x, y, vx, vy,  # init "torch": fit trains the weights as built
                  TrainConfig(max_epochs=1, batch_size=len(x), init="torch"),
                  train_lengths=lengths, val_lengths=v_lengths)
    assert history[0]["train_loss"] == pytest.approx(expected_train, rel=1e-5)
    assert history[0]["val_loss"] == pytest.approx(hand_mse(model.eval(), vx, vy, v_lengths),
                                                   rel=1e-5)
    # what an unmasked mean over all T frames (padding as 0) would give is far off
    padded_mean = np.sum(np.nan_to_num(y) ** 2) / y.size
    assert history[0]["train_loss"] != pytest.approx(padded_mean, rel=0.05)


def test_invalid_lengths():
    x, y, lengths = padded_songs(LENGTHS)
    config = TrainConfig(max_epochs=1)
    with pytest.raises(DataError, match="features contain NaN.*lengths"):
        fit(make("LSTM_8"), x, y, None, None, config)  # padded NaN without lengths
    with pytest.raises(DataError, match="targets contain NaN.*lengths"):
        fit(make("LSTM_8"), np.nan_to_num(x), y, None, None, config)
    bad = y.copy()
    bad[1, 3] = np.nan  # inside a real frame
    with pytest.raises(DataError, match="real frames"):
        fit(make("LSTM_8"), x, bad, None, None, config, train_lengths=lengths)
    bad = x.copy()
    bad[1, 3, 0] = np.inf
    with pytest.raises(DataError, match="song 1 .*real frames"):
        fit(make("LSTM_8"), bad, y, None, None, config, train_lengths=lengths)
    for wrong, match in [(np.array([0, *LENGTHS[1:]]), r"\[1, 12\]"),
                         (np.array([13, *LENGTHS[1:]]), r"\[1, 12\]"),
                         (np.array(LENGTHS[1:]), "6 integers"),
                         (np.array(LENGTHS, dtype=float), "integers")]:
        with pytest.raises(DataError, match=match):
            fit(make("LSTM_8"), x, y, None, None, config, train_lengths=wrong)
        with pytest.raises(DataError, match=match):
            predict(make("LSTM_8"), x, lengths=wrong)
    with pytest.raises(DataError, match="validation lengths"):
        fit(make("LSTM_8"), x, y, None, None, config, train_lengths=lengths,
            val_lengths=lengths)


def test_ragged_attention_is_each_songs_own_map():
    torch.manual_seed(0)
    model = build_model("AT_8", 3)
    x = np.random.default_rng(0).normal(size=(3, 9, 3)).astype(np.float32)
    lengths = np.array([5, 9, 7])
    _, padded = predict(model, x, lengths=lengths)
    _, ragged = predict(model, x, lengths=lengths, ragged_attention=True)
    assert [w.shape for w in ragged] == [(5, 5), (9, 9), (7, 7)]
    for song, n in enumerate(lengths):
        np.testing.assert_array_equal(ragged[song], padded[song, :n, :n])
    _, unpadded = predict(model, x, ragged_attention=True)
    assert [w.shape for w in unpadded] == [(9, 9)] * 3


@pytest.mark.parametrize("name", ["AT_8", "TRANSFORMER_1"])
def test_songs_one_by_one_train_as_the_padded_songs(name):
    """Songs given as a list (padded only per minibatch) train and predict exactly as the
    same songs padded to the longest with lengths."""
    x, y, lengths = padded_songs(LENGTHS)
    vx, vy, v_lengths = padded_songs([4, 10, 6], seed=1)
    listed = [x[i, :n] for i, n in enumerate(lengths)]
    v_listed = [vx[i, :n] for i, n in enumerate(v_lengths)]
    config = TrainConfig(max_epochs=3, batch_size=4)
    runs = []
    for arrays, kwargs in [((x, y, vx, vy), {"train_lengths": lengths, "val_lengths": v_lengths}),
                           ((listed, y, v_listed, [vy[i, :n] for i, n in enumerate(v_lengths)]), {})]:
        model = make(name)
        history = fit(model, *arrays, config, **kwargs)
        runs.append((without_seconds(history), model.state_dict(), model))
    (h1, s1, padded_model), (h2, s2, _) = runs
    assert h1 == h2 and all(torch.equal(s1[k], s2[k]) for k in s1)
    by_list, ragged = predict(padded_model, v_listed, ragged_attention=True)
    padded, attention = predict(padded_model, vx, lengths=v_lengths)
    np.testing.assert_array_equal(by_list, padded[:, :by_list.shape[1]])
    for song, n in enumerate(v_lengths):
        np.testing.assert_array_equal(ragged[song], attention[song, :n, :n])
    with pytest.raises(DataError, match="carry their own lengths"):
        fit(make(name), listed, y, None, None, config, train_lengths=lengths)
    with pytest.raises(DataError, match="one value per frame"):
        fit(make(name), listed, [row[:2] for row in y], None, None, config)
