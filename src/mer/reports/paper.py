"""The paper's reported numbers (Chaki et al., ISMIR 2020, Tables 1-2, ComParE features).

Kept as data so our tables can print them beside our own; never used as results.
Each entry: family group -> (sizes searched, best model, R², mean Kendall tau, MAE).
"""

PAPER_TABLES = {
    ("arousal", "compare"): {
        "LSTM single": ("128, 300, 400, 512, 700, 1024, 2048", "LSTM_1024", 0.73, 0.12, 0.12),
        "LSTM multi": ("700_128, 700_400, 2048_1024, 2048_1024_700", "LSTM_700_128", 0.69, 0.20, 0.12),
        "AT single": ("32, 64, 128, 300, 400, 512, 700, 1024, 2048", "AT_300", 0.75, 0.15, 0.13),
        "AT multi": ("300_128, 400_128, 1024_400, 2048_1024, 2048_1024_512", "AT_2048_1024", 0.78, 0.24, 0.11),
        "BAT single": ("400, 1024, 2048", "BAT_1024", 0.55, 0.04, 0.12),
        "BAT multi": ("300_128, 400_128, 1024_400, 1024_512, 2048_1024, 2048_1024_512", "BAT_2048_1024", 0.58, 0.06, 0.12),
        "Transformer": ("1, 2, 4 layers", "TRANSFORMER_2", 0.64, 0.61, 0.27),
    },
    ("valence", "compare"): {
        "LSTM single": ("128, 300, 400, 512, 700, 1024, 2048", "LSTM_700", 0.39, 0.10, 0.15),
        "LSTM multi": ("700_128, 700_400, 2048_1024, 2048_1024_700", "LSTM_2048_1024", 0.29, 0.17, 0.15),
        "AT single": ("32, 64, 128, 300, 400, 512, 700, 1024, 2048", "AT_400", 0.53, 0.08, 0.16),
        "AT multi": ("300_128, 400_128, 1024_400, 2048_1024, 2048_1024_512", "AT_300_128", 0.51, 0.04, 0.16),
        "BAT single": ("400, 1024, 2048", "BAT_2048", 0.16, 0.13, 0.15),
        "BAT multi": ("300_128, 400_128, 1024_400, 1024_512, 2048_1024, 2048_1024_512", "BAT_400_128", 0.21, 0.16, 0.14),
        "Transformer": ("1, 2, 4 layers", "TRANSFORMER_1", 0.12, 0.11, 0.10),
    },
}
