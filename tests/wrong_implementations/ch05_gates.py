"""Plausible wrong implementations of the ch05_gates functions, as edits to the solution cells."""

WRONG = [
    # lstm_step_forward
    ("lstm_cs231n_gate_order", "lstm_step_forward",
     [("a_i, a_f, a_g, a_o = np.split", "a_i, a_f, a_o, a_g = np.split")], "lstm_step_forward"),
    ("lstm_c_from_tanh_c_prev", "lstm_step_forward",
     [("c_next = f * c_prev + i * g", "c_next = f * np.tanh(c_prev) + i * g")], "lstm_step_forward"),
    ("lstm_c_missing_forget_term", "lstm_step_forward",
     [("c_next = f * c_prev + i * g", "c_next = i * g")], "lstm_step_forward"),
    ("lstm_h_missing_tanh", "lstm_step_forward",
     [("h_next = o * np.tanh(c_next)", "h_next = o * c_next")], "lstm_step_forward"),
    ("lstm_all_gates_sigmoid", "lstm_step_forward",
     [("np.tanh(a_g)", "sigmoid(a_g)")], "lstm_step_forward"),
    # lstm_step_backward
    ("lstm_backward_forgets_tanh_derivative", "lstm_step_backward",
     [("dh_next * o * (1 - tanh_c ** 2)", "dh_next * o")], "lstm_step_backward"),
    ("lstm_backward_no_path_through_h", "lstm_step_backward",
     [("dc = dc_next + dh_next * o * (1 - tanh_c ** 2)", "dc = dc_next")], "lstm_step_backward"),
    ("lstm_backward_drops_dc_next", "lstm_step_backward",
     [("dc = dc_next + dh_next", "dc = dh_next")], "lstm_step_backward"),
    ("lstm_backward_carousel_without_f", "lstm_step_backward",
     [("dc_prev = dc * f", "dc_prev = dc")], "lstm_step_backward"),
    ("lstm_backward_cs231n_block_order", "lstm_step_backward",
     [("dg * (1 - g ** 2), do * o * (1 - o)]", "do * o * (1 - o), dg * (1 - g ** 2)]")], "lstm_step_backward"),
    # gru_step_forward
    ("gru_paper_form", "gru_step_forward",
     [("n = np.tanh(ax[:, 2 * H:] + r * ah_n)",
       "n = np.tanh(ax[:, 2 * H:] + (r * h_prev) @ W_hh[2 * H:].T + b_hh[2 * H:])")], "gru_step_forward"),
    ("gru_z_swapped", "gru_step_forward",
     [("h_next = (1 - z) * n + z * h_prev", "h_next = z * n + (1 - z) * h_prev")], "gru_step_forward"),
    ("gru_reset_skips_bias", "gru_step_forward",
     [("n = np.tanh(ax[:, 2 * H:] + r * ah_n)",
       "n = np.tanh(ax[:, 2 * H:] + r * (ah_n - b_hh[2 * H:]) + b_hh[2 * H:])")],
     "gru_step_forward"),
    # gru_forward
    ("gru_forward_zeros_not_h0", "gru_forward", [("h = h0", "h = np.zeros_like(h0)")], "gru_forward"),
    ("gru_forward_paper_form", "gru_forward",
     [("n = np.tanh(ax[t, :, 2 * H:] + r * ah[:, 2 * H:])",
       "n = np.tanh(ax[t, :, 2 * H:] + (r * h) @ W_hh[2 * H:].T + b_hh[2 * H:])")], "gru_forward"),
    ("gru_forward_z_swapped", "gru_forward",
     [("h = (1 - z) * n + z * h", "h = z * n + (1 - z) * h")], "gru_forward"),
    ("gru_forward_off_by_one_in_time", "gru_forward", [("hs[t] = h", "hs[t - 1] = h")], "gru_forward"),
]
