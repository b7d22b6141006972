"""Plausible wrong implementations of the ch07_applications functions, as edits to the solution cells."""

WRONG = [
    # build_vocab: the order of first appearance instead of sorted order (deterministic, but not the vocabulary
    # any other run of the model expects), and ids counted from 1 (a slot kept for padding that nobody asked for)
    ("vocab_in_order_of_appearance", "build_vocab",
     [("itos = sorted(chars)", "itos = list(dict.fromkeys(text))")], "build_vocab"),
    ("vocab_ids_from_one", "build_vocab",
     [("{c: i for i, c in enumerate(itos)}", "{c: i + 1 for i, c in enumerate(itos)}")], "build_vocab"),
    # encode: ignores the given stoi and makes its own sorted vocabulary; returns a list
    ("encode_ignores_stoi", "encode",
     [("return np.array([stoi[c] for c in text], dtype=np.int64)",
       "own = {c: i for i, c in enumerate(sorted(set(text)))}\n"
       "    return np.array([own[c] for c in text], dtype=np.int64)")], "encode"),
    ("encode_returns_list", "encode",
     [("return np.array([stoi[c] for c in text], dtype=np.int64)", "return [stoi[c] for c in text]")], "encode"),
    # decode: does not invert encode
    ("decode_joins_with_spaces", "decode",
     [('return "".join(itos[i] for i in ids)', 'return " ".join(itos[i] for i in ids)')], "decode"),
    ("decode_off_by_one", "decode",
     [('return "".join(itos[i] for i in ids)', 'return "".join(itos[i - 1] for i in ids)')], "decode"),
    # sample_with_temperature: the temperature multiplies; the argmax whatever the temperature; no max shift
    ("temperature_multiplies", "sample_with_temperature",
     [("z = np.asarray(logits, dtype=np.float64) / temperature",
       "z = np.asarray(logits, dtype=np.float64) * temperature")], "sample_with_temperature"),
    ("sample_is_argmax", "sample_with_temperature",
     [("return int(min((c <= u).sum(), V - 1))", "return int(np.argmax(z))"),
      ("return np.minimum((c <= u[:, None]).sum(axis=-1), V - 1).astype(np.int64)",
       "return np.argmax(z, axis=-1).astype(np.int64)")], "sample_with_temperature"),
    ("sample_no_max_shift", "sample_with_temperature",
     [("    z = z - z.max(axis=-1, keepdims=True)  # the largest score becomes 0: exp cannot overflow\n", "")],
     "sample_with_temperature"),
    # make_windows: the target overlaps the window (leakage); batch-major inputs
    ("windows_target_overlaps_input", "make_windows",
     [("Y[n] = series[n + window : n + window + horizon]",
       "Y[n] = series[n + window - 1 : n + window - 1 + horizon]")], "make_windows"),
    ("windows_batch_major", "make_windows",
     [("X = np.empty((window, N, 1), dtype=series.dtype)", "X = np.empty((N, window, 1), dtype=series.dtype)"),
      ("X[:, n, 0] = series[n : n + window]", "X[n, :, 0] = series[n : n + window]")], "make_windows"),
    # train_forecaster: persistence or the training mean instead of a model; a model on unscaled numbers
    ("forecast_is_persistence", "train_forecaster",
     [("    torch.manual_seed(seed)\n",
       "    return np.repeat(X_test[-1, :, 0][:, None], Y_train.shape[1], axis=1)\n    torch.manual_seed(seed)\n")],
     "train_forecaster"),
    ("forecast_is_training_mean", "train_forecaster",
     [("    torch.manual_seed(seed)\n",
       "    return np.full((X_test.shape[1], Y_train.shape[1]), Y_train.mean())\n    torch.manual_seed(seed)\n")],
     "train_forecaster"),
    ("forecaster_without_scaling", "train_forecaster",
     [("m, s = X_train.mean(), X_train.std()", "m, s = 0.0, 1.0")], "train_forecaster"),
]
