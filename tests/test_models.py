"""mer.models: shapes, attention properties, causality, no annotation leak, name parsing."""

import pytest
import torch

from mer.errors import ConfigError
from mer.models import (MODEL_FAMILIES, ModelSpec, build_model, describe_model,
                        has_attention, parse_model_name, reference_attention)
from mer.models.attention import shift_right
from mer.models.transformer import sinusoidal_positions
from mer.runtime import seed_everything

torch.set_num_threads(1)

BATCH, T, D = 3, 12, 5
NAMES = ["LSTM_8", "LSTM_8_6", "AT_8", "AT_8_6", "BAT_8", "BAT_8_6", "TRANSFORMER_1",
         "TRANSFORMER_2", "MEAN", "RIDGE", "RIDGE_SONG"]
TRANSFORMER_OPTIONS = {"d_model": 16, "heads": 2, "ff_dim": 32}


def make(name, **options):
    seed_everything(0)
    if name.startswith("TRANSFORMER"):
        options = {**TRANSFORMER_OPTIONS, **options}
    return build_model(name, D, **options)


def inputs(seed=1, batch=BATCH, frames=T):
    return torch.randn(batch, frames, D, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("frames", [T, 1, 61])
def test_output_shapes(name, frames):
    model = make(name).eval()
    prediction, attention = model(inputs(frames=frames))
    assert prediction.shape == (BATCH, frames)
    assert prediction.dtype == torch.float32
    if has_attention(name):
        assert attention.shape == (BATCH, frames, frames)
    else:
        assert attention is None


@pytest.mark.parametrize("name", ["AT_8", "AT_8_6", "TRANSFORMER_2"])
def test_full_attention_rows_sum_to_one(name):
    _, attention = make(name).eval()(inputs())
    assert (attention >= 0).all()
    torch.testing.assert_close(attention.sum(-1), torch.ones(BATCH, T))


def test_backward_attention_only_looks_at_earlier_frames():
    _, attention = make("BAT_8_6").eval()(inputs())
    on_or_above_diagonal = torch.ones(T, T, dtype=torch.bool).triu()
    assert (attention[:, on_or_above_diagonal] == 0).all()
    assert (attention[:, 0] == 0).all()  # frame 1 has nothing to attend to
    torch.testing.assert_close(attention[:, 1:].sum(-1), torch.ones(BATCH, T - 1))


@pytest.mark.parametrize("training", [False, True])
def test_backward_attention_output_is_causal(training):
    """Changing frames after t leaves BAT's output (and attention) at frames <= t as is."""
    model = make("BAT_8_6").train(training)
    x = inputs()
    prediction, attention = model(x)
    for t in (0, 4, T - 2):
        changed = x.clone()
        changed[:, t + 1:] = torch.randn(BATCH, T - t - 1, D)
        new_prediction, new_attention = model(changed)
        assert torch.equal(new_prediction[:, :t + 1], prediction[:, :t + 1])
        assert torch.equal(new_attention[:, :t + 1], attention[:, :t + 1])
        assert not torch.equal(new_prediction[:, t + 1:], prediction[:, t + 1:])


@pytest.mark.parametrize("name", ["AT_8", "BAT_8_6"])
def test_batched_attention_equals_naive_loop(name):
    model = make(name).eval()
    encoded = model.encoder(inputs())
    context, weights = model.attention(shift_right(encoded), encoded, model.causal)
    naive_context, naive_weights = reference_attention(model.attention, encoded, model.causal)
    torch.testing.assert_close(weights, naive_weights)
    torch.testing.assert_close(context, naive_context)
    _, forward_weights = model(inputs())
    torch.testing.assert_close(forward_weights, naive_weights)


def with_feedback(model, value=0.5):
    with torch.no_grad():
        model.feedback_weight.fill_(value)  # initialised to 0: make the feedback matter
    return model


@pytest.mark.parametrize("name", ["AT_8", "BAT_8_6"])
def test_evaluation_ignores_annotations(name):
    model = with_feedback(make(name)).eval()
    x = inputs()
    own, _ = model(x)
    for y in (torch.zeros(BATCH, T), torch.randn(BATCH, T) * 10):
        leaked, _ = model(x, y)
        assert torch.equal(leaked, own)


@pytest.mark.parametrize("name", ["AT_8", "BAT_8_6"])
def test_feedback_modes(name):
    """Free running feeds back its own y_{t-1}; teacher forcing the annotation y_{t-1}."""
    model = with_feedback(make(name)).train()
    x = inputs()
    free, _ = model(x)
    own_fed, _ = model(x, free.detach())  # teacher-forced with its own outputs: same values
    torch.testing.assert_close(own_fed, free)
    y = torch.randn(BATCH, T)
    forced, _ = model(x, y)
    u = model.feedback_weight.detach()
    # differences come only through u * (y_{t-1} - own y_{t-1}); frame 1 always gets y_0 = 0
    torch.testing.assert_close(forced[:, 0], free[:, 0])
    torch.testing.assert_close(forced[:, 1:] - own_fed[:, 1:], u * (y[:, :-1] - free[:, :-1]))
    # free running: gradients reach u through the recurrence
    free.sum().backward()
    assert model.feedback_weight.grad is not None and model.feedback_weight.grad != 0


def test_transformer_attention_only_in_evaluation_mode():
    model = make("TRANSFORMER_1")
    assert model.train()(inputs())[1] is None
    assert model.eval()(inputs())[1] is not None


@pytest.mark.parametrize("name, spec", [
    ("LSTM_400", ModelSpec("LSTM", (400,))),
    ("LSTM_700_128", ModelSpec("LSTM", (700, 128))),
    ("AT_2048_1024", ModelSpec("AT", (2048, 1024))),
    ("BAT_2048_1024_512", ModelSpec("BAT", (2048, 1024, 512))),
    ("TRANSFORMER_2", ModelSpec("TRANSFORMER", (2,))),
    ("MEAN", ModelSpec("MEAN", ())),
    ("RIDGE", ModelSpec("RIDGE", ())),
    ("RIDGE_SONG", ModelSpec("RIDGE_SONG", ())),
])
def test_parse_valid_names(name, spec):
    assert parse_model_name(name) == spec
    assert spec.name == name


@pytest.mark.parametrize("name", ["AT_", "AT_x", "at-64", "LSTM_0", "LSTM", "", "AT__64",
                                  "AT_64_", "GRU_64", "AT_064", "TRANSFORMER_2_2", " AT_64",
                                  "AT_-1", "AT_1.5", "MEAN_3", "RIDGE_1", "RIDGE_SONG_2",
                                  "RIDGE_SONGS", "mean"])
def test_parse_invalid_names(name):
    with pytest.raises(ConfigError) as error:
        parse_model_name(name)
    message = str(error.value)
    assert repr(name) in message
    for family in MODEL_FAMILIES.values():
        assert family.form in message


def test_parse_hint_for_lowercase():
    with pytest.raises(ConfigError, match="did you mean 'AT_64'"):
        parse_model_name("at-64")


@pytest.mark.parametrize("name", ["MEAN_3", "RIDGE_0", "RIDGE_SONG_1_2"])
def test_sized_baseline_says_it_takes_no_size(name):
    family = name.rsplit("_", 1)[0].removesuffix("_1")
    with pytest.raises(ConfigError, match=f"{family} takes no size; write '{family}'"):
        parse_model_name(name)


def test_parse_hint_for_a_lowercase_baseline():
    with pytest.raises(ConfigError, match="did you mean 'RIDGE_SONG'"):
        parse_model_name("ridge-song")


def test_baselines_are_marked_in_the_registry():
    from mer.models import is_baseline
    assert [name for name, family in MODEL_FAMILIES.items() if family.baseline] == \
        ["MEAN", "RIDGE", "RIDGE_SONG"]
    assert is_baseline("RIDGE_SONG") and not is_baseline("AT_8")
    assert not any(has_attention(name) for name in ("MEAN", "RIDGE", "RIDGE_SONG"))
    with pytest.raises(ConfigError):
        is_baseline("MEAN_1")


def test_has_attention():
    assert not has_attention("LSTM_8")
    assert has_attention("AT_8") and has_attention("BAT_8") and has_attention("TRANSFORMER_1")


def test_build_options_are_checked():
    assert make("AT_8", attention_dim=4).attention.query.out_features == 4
    with pytest.raises(ConfigError, match="attention_dim"):
        build_model("LSTM_8", D, attention_dim=4)
    with pytest.raises(ConfigError, match="causal"):  # fixed by the family name
        build_model("AT_8", D, causal=True)
    with pytest.raises(ConfigError, match="heads"):
        build_model("TRANSFORMER_1", D, d_model=10, heads=4)
    with pytest.raises(ConfigError, match="input_dim"):
        build_model("LSTM_8", 0)


def test_layers_have_their_own_sizes():
    model = make("LSTM_8_6")
    assert [layer.hidden_size for layer in model.encoder.layers] == [8, 6]
    assert [layer.input_size for layer in model.encoder.layers] == [D, 8]
    assert len(make("TRANSFORMER_2").encoder.layers) == 2


def test_describe_model_counts_parameters():
    text = describe_model("LSTM_8", D)
    lstm = 4 * 8 * (D + 8 + 2)  # two bias vectors in torch's LSTM
    assert f"trainable parameters: {lstm + 8 + 1:,}" in text
    assert "LSTM_8" in text


from mer.reports.paper import PAPER_GRID  # noqa: E402 (Tables 1-2: the 37 configurations)


def lstm_parameters(n_in, sizes):
    total = 0
    for hidden in sizes:
        total += 4 * hidden * (n_in + hidden + 2)  # two bias vectors in torch's LSTM
        n_in = hidden
    return total


def test_every_size_of_the_paper_builds():
    """All 37 configurations parse and build for ComParE input (on the meta device: no
    memory, no initialisation), with the parameter count the architecture implies."""
    from mer.models import count_parameters

    assert len(PAPER_GRID) == len(set(PAPER_GRID)) == 37
    for name in PAPER_GRID:
        spec = parse_model_name(name)
        with torch.device("meta"):
            model = build_model(name, 6373)
        count = count_parameters(model)
        if spec.family == "LSTM":
            assert count == lstm_parameters(6373, spec.sizes) + spec.sizes[-1] + 1, name
        elif spec.family in ("AT", "BAT"):
            hidden = spec.sizes[-1]  # W, U (hidden x hidden), v, w_h + b, w_c, u
            expected = lstm_parameters(6373, spec.sizes) + 2 * hidden * hidden + hidden \
                + hidden + 1 + hidden + 1
            assert count == expected, name
        else:
            assert len(model.encoder.layers) == spec.sizes[0]


def test_transformer_attention_is_the_mean_over_heads():
    model = make("TRANSFORMER_2").eval()
    x = inputs()
    _, exported = model(x)
    z = model.input_projection(x) + sinusoidal_positions(T, model.d_model)  # dropout: eval
    z = model.encoder.layers[0](z)
    _, per_head = model.encoder.layers[1].self_attn(z, z, z, need_weights=True,
                                                    average_attn_weights=False)
    assert per_head.shape == (BATCH, TRANSFORMER_OPTIONS["heads"], T, T)
    torch.testing.assert_close(exported, per_head.mean(dim=1))


def test_cli_describe(capsys):
    from mer.cli import main

    assert main(["models", "describe", "AT_16_8", "--input-dim", "10"]) == 0
    out = capsys.readouterr().out
    assert "AT_16_8 (10 inputs)" in out and "trainable parameters:" in out


def test_cli_describe_a_baseline(capsys):
    from mer.cli import main

    assert main(["models", "describe", "RIDGE", "--input-dim", "197"]) == 0
    out = capsys.readouterr().out
    assert "RIDGE (197 inputs): baseline: ridge regression per frame" in out
    assert "coefficients (fitted in closed form): 198" in out


@pytest.mark.parametrize("name", ["AT-64", "GRU_64", "TRANSFORMER_1_2"])
def test_cli_describe_malformed_name_fails_with_the_valid_forms(capsys, name):
    from mer.cli import main

    assert main(["models", "describe", name]) != 0
    captured = capsys.readouterr()
    assert captured.out == ""
    for family in MODEL_FAMILIES.values():
        assert family.form in captured.err


# Variable-length songs, padded at the end (lengths = real frames per song).

PADDED_LENGTHS = (5, 9, 7)
PADDED_FAMILIES = ["LSTM_8", "AT_8", "BAT_8", "AT_8_6", "TRANSFORMER_1", "TRANSFORMER_2"]
ATOL = 1e-5  # real frames of a padded batch against the song alone: float rounding only


def padded_songs(seed=2):
    """Three songs of PADDED_LENGTHS frames padded to 9 with garbage: huge values, a NaN."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(PADDED_LENGTHS)
    n_frames = max(PADDED_LENGTHS)
    x = torch.randn(len(lengths), n_frames, D, generator=generator)
    garbage = 1e6 * torch.randn(len(lengths), n_frames, D, generator=generator)
    real = torch.arange(n_frames) < lengths.unsqueeze(1)
    x = torch.where(real.unsqueeze(-1), x, garbage)
    x[0, 7, 1] = float("nan")
    return x, lengths, real


def make_deterministic(name):
    """The model with dropout off, so training mode is comparable too."""
    return make(name, dropout=0.0) if name.startswith("TRANSFORMER") else make(name)


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("name", PADDED_FAMILIES)
def test_padded_batch_equals_each_song_alone(name, training):
    model = with_feedback(make_deterministic(name)) if "AT" in name \
        else make_deterministic(name)
    model.train(training)
    x, lengths, real = padded_songs()
    with torch.no_grad():
        prediction, attention = model(x, lengths=lengths)
        assert prediction.shape == real.shape
        assert torch.isfinite(prediction).all()  # padded frames: finite, meaningless
        for song, length in enumerate(PADDED_LENGTHS):
            alone, alone_attention = model(x[song:song + 1, :length])
            torch.testing.assert_close(prediction[song, :length], alone[0], atol=ATOL, rtol=0)
            if attention is not None:
                torch.testing.assert_close(attention[song, :length, :length],
                                           alone_attention[0], atol=ATOL, rtol=0)
    if attention is None:
        assert not has_attention(name) or (training and name.startswith("TRANSFORMER"))
        return
    assert torch.isfinite(attention).all() and (attention >= 0).all()
    padded_cell = ~(real.unsqueeze(2) & real.unsqueeze(1))  # padded row or padded column
    assert (attention[padded_cell] == 0).all()  # exactly 0: saved matrices stay clean
    first_real_row = 1 if name.startswith("BAT") else 0  # BAT's frame 1 sees nothing
    for song, length in enumerate(PADDED_LENGTHS):
        rows = attention[song, first_real_row:length, :length]
        torch.testing.assert_close(rows.sum(-1), torch.ones(length - first_real_row))


@pytest.mark.parametrize("name", ["AT_8", "BAT_8"])
def test_teacher_forcing_ignores_padded_annotations(name):
    """NaN annotations in padded frames reach no frame (they are replaced by 0)."""
    model = with_feedback(make(name)).train()
    x, lengths, real = padded_songs()
    y = torch.where(real, torch.randn(real.shape), torch.tensor(float("nan")))
    prediction, _ = model(x, y, lengths=lengths)
    assert torch.isfinite(prediction).all()
    for song, length in enumerate(PADDED_LENGTHS):
        alone, _ = model(x[song:song + 1, :length], y[song:song + 1, :length])
        torch.testing.assert_close(prediction[song, :length], alone[0], atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", PADDED_FAMILIES)
def test_full_lengths_run_the_unpadded_code(name):
    model = make(name).eval()
    x = inputs()
    prediction, attention = model(x)
    full, full_attention = model(x, lengths=torch.full((BATCH,), T))
    assert torch.equal(full, prediction)
    assert (attention is None and full_attention is None) or torch.equal(full_attention,
                                                                         attention)


@pytest.mark.parametrize("lengths, match", [
    (torch.tensor([3, 0, 5]), r"in \[1, 12\]"), (torch.tensor([3, 13, 5]), r"in \[1, 12\]"),
    (torch.tensor([3, 5]), "3 songs"), (torch.tensor([3.0, 4.0, 5.0]), "integer"),
])
def test_invalid_lengths(lengths, match):
    with pytest.raises(ValueError, match=match):
        make("AT_8")(inputs(), lengths=lengths)
