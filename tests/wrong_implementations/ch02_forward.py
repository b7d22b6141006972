"""Plausible wrong implementations of the ch02_forward functions, as edits to the solution cells.

An optional fifth element names the known mistake (rnncore.mistakes) that the visible checks must report.
"""

WRONG = [
    ("transposed_W_hh", "rnn_step_forward", [("h_prev @ W_hh.T", "h_prev @ W_hh")], "rnn_step_forward",
     "W_hh not transposed"),
    ("missing_bias", "rnn_step_forward", [("+ b_ih + h_prev", "+ h_prev")], "rnn_step_forward",
     "missing b_ih"),
    ("ignores_h_prev", "rnn_step_forward", [(" + h_prev @ W_hh.T", "")], "rnn_step_forward",
     "ignores h_prev"),
    ("sigmoid_for_tanh", "rnn_forward",
     [("h = np.tanh(a) if", "h = 1 / (1 + np.exp(-a)) if")], "rnn_forward",
     "sigmoid instead of tanh"),
    ("zeros_not_h0", "rnn_forward", [("h = h0", "h = np.zeros_like(h0)")], "rnn_forward",
     "starts from zeros"),
    ("off_by_one_in_time", "rnn_forward", [("a = ax[t] + h", "a = ax[t - 1] + h")], "rnn_forward",
     "reads the previous input"),
    ("affine_no_transpose", "affine_forward", [("h @ W.T", "h @ W")], "affine_forward"),
    ("loss_sums_not_means", "softmax_cross_entropy", [("/ M\n", "\n"), ("(mask / M)", "mask")],
     "softmax_cross_entropy",
     "summed, not averaged"),
    ("loss_ignores_mask", "softmax_cross_entropy",
     [("    M = mask.sum()", "    mask = np.ones(y.shape)\n    M = mask.sum()")], "softmax_cross_entropy",
     "mask ignored"),
    ("loss_no_max_shift", "softmax_cross_entropy",
     [("z = logits - logits.max(axis=-1, keepdims=True)", "z = logits")], "softmax_cross_entropy"),
    ("count_one_bias", "param_count", [("(D + H + 2)", "(D + H + 1)")], "param_count",
     "one bias"),
    # the Jordan network (a task rnncore does not answer: its mistakes are in rnngrade/assign/tasks/ch02_forward.py)
    ("jordan_feeds_back_hidden_state", "jordan_forward",
     [("        y_prev = y  # the next step reads back this step's output\n", "        y_prev = h\n")],
     "jordan_forward", "hidden state fed back"),
    ("jordan_ignores_y0", "jordan_forward", [("y_prev = y0  #", "y_prev = np.zeros_like(y0)  #")], "jordan_forward",
     "y0 ignored"),
    ("jordan_returns_the_fed_back_outputs", "jordan_forward", [("        ys[t] = y\n", "        ys[t] = y_prev\n")],
     "jordan_forward", "outputs one step late"),
    ("jordan_W_yh_untransposed", "jordan_forward", [("y_prev @ W_yh.T", "y_prev @ W_yh")], "jordan_forward",
     "W_yh untransposed"),
    ("jordan_one_bias", "jordan_forward", [("+ y_prev @ W_yh.T + b_hh)", "+ y_prev @ W_yh.T)")], "jordan_forward"),
]
