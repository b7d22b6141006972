"""Plausible wrong implementations of the ch03_bptt functions, as edits to the solution cells."""

WRONG = [
    # the numerical gradient checker
    ("checker_one_sided", "eval_numerical_gradient_array",
     [("        x[i] = old - h\n", "        x[i] = old\n"), ("/ (2 * h)", "/ h")], "eval_numerical_gradient_array"),
    ("checker_does_not_restore_x", "eval_numerical_gradient_array",
     [("        x[i] = old  # restore before the next entry\n", "")], "eval_numerical_gradient_array"),
    ("checker_ignores_df", "eval_numerical_gradient_array",
     [("np.sum((pos - neg) * df)", "np.sum(pos - neg)")], "eval_numerical_gradient_array"),
    # one step backward
    ("step_forgets_tanh_derivative", "rnn_step_backward",
     [("da = dh_next * (1 - h_next ** 2)", "da = dh_next")], "rnn_step_backward"),
    ("step_dh_prev_with_W_hh_transposed", "rnn_step_backward",
     [("dh_prev = da @ W_hh", "dh_prev = da @ W_hh.T")], "rnn_step_backward"),
    ("step_dW_ih_transposed", "rnn_step_backward", [("dW_ih = da.T @ x_t", "dW_ih = x_t.T @ da")],
     "rnn_step_backward"),
    ("step_dW_hh_uses_h_next", "rnn_step_backward", [("dW_hh = da.T @ h_prev", "dW_hh = da.T @ h_next")],
     "rnn_step_backward"),
    ("step_bias_mean_over_batch", "rnn_step_backward",
     [("db_ih = da.sum(axis=0)\n    db_hh = da.sum(axis=0)", "db_ih = da.mean(axis=0)\n    db_hh = da.mean(axis=0)")],
     "rnn_step_backward"),
    # the whole sequence backward
    ("missing_carried_gradient", "rnn_backward", [("dh_t = dhs[t] + dh", "dh_t = dhs[t]")], "rnn_backward"),
    ("forgets_tanh_derivative", "rnn_backward", [("da = dh_t * (1 - hs[t] ** 2)", "da = dh_t")], "rnn_backward"),
    ("carried_gradient_skips_tanh_derivative", "rnn_backward", [("dh = da @ W_hh", "dh = dh_t @ W_hh")],
     "rnn_backward"),
    ("dW_hh_not_summed_over_time", "rnn_backward", [("dW_hh += da.T @ h_prev", "dW_hh = da.T @ h_prev")],
     "rnn_backward"),
    ("bias_not_summed_over_batch", "rnn_backward", [("db_ih += da.sum(axis=0)", "db_ih += da.mean(axis=0)")],
     "rnn_backward"),
    ("transposed_dW_hh", "rnn_backward", [("dW_hh += da.T @ h_prev", "dW_hh += h_prev.T @ da")], "rnn_backward"),
    ("off_by_one_h_t_in_dW_hh", "rnn_backward", [("h_prev = hs[t - 1] if t > 0 else h0", "h_prev = hs[t]")],
     "rnn_backward"),
    # truncated BPTT
    ("tbptt_state_not_carried", "rnn_tbptt",
     [("        h = hs[-1]  # carry the state, not the gradient", "        h = h0")], "rnn_tbptt"),
    ("tbptt_gradient_flows_across_chunks", "rnn_tbptt",
     [("hs, cache = rnn_forward(x[start:stop], h, ", "hs, cache = rnn_forward(x[:stop], h0, "),
      ("logits, out_cache = affine_forward(hs, ", "logits, out_cache = affine_forward(hs[start:], "),
      ("rnn_backward(dhs, cache)", "rnn_backward(np.concatenate([np.zeros((start,) + dhs.shape[1:]), dhs]), cache)")],
     "rnn_tbptt"),
    ("tbptt_drops_short_last_chunk", "rnn_tbptt", [("range(0, T, k)", "range(0, T - k + 1, k)")], "rnn_tbptt"),
]
