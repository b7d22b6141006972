"""Plausible wrong implementations of the ch06_architectures functions, as edits to the solution cells."""

WRONG = [
    # bidirectional_rnn_forward
    ("bi_directions_swapped", "bidirectional_rnn_forward",
     [("np.concatenate([f, b], axis=-1)", "np.concatenate([b, f], axis=-1)")], "bidirectional_rnn_forward"),
    ("bi_backward_not_flipped_back", "bidirectional_rnn_forward",
     [("run(x[rev, n], h0_bwd, params_bwd)[rev, n]", "run(x[rev, n], h0_bwd, params_bwd)")],
     "bidirectional_rnn_forward"),
    ("bi_backward_starts_on_padding", "bidirectional_rnn_forward",
     [("rev = np.where(valid, lengths - 1 - t, t)", "rev = np.broadcast_to(T - 1 - t, (T, N))")],
     "bidirectional_rnn_forward"),
    ("bi_h_n_backward_at_last_step", "bidirectional_rnn_forward", [("b[0]])", "b[lengths - 1, n]])")],
     "bidirectional_rnn_forward"),
    ("bi_padding_not_zeroed", "bidirectional_rnn_forward", [(" * valid[..., None]", "")], "bidirectional_rnn_forward"),
    # last_valid_state
    ("last_uses_output_minus_one", "last_valid_state",
     [("hs[np.asarray(lengths) - 1, np.arange(hs.shape[1])]", "hs[-1]")], "last_valid_state"),
    ("last_off_by_one", "last_valid_state", [("np.asarray(lengths) - 1", "np.asarray(lengths)")], "last_valid_state"),
    # masked_mean_pool
    ("mean_divides_by_T", "masked_mean_pool", [("/ m.sum(axis=0)[:, None]", "/ hs.shape[0]")], "masked_mean_pool"),
    ("mean_ignores_mask", "masked_mean_pool",
     [("(hs * m[..., None]).sum(axis=0) / m.sum(axis=0)[:, None]", "hs.mean(axis=0)")], "masked_mean_pool"),
    # greedy_decode
    ("greedy_no_stop_at_end", "greedy_decode", [("        if token == end_token:\n            break\n", "")],
     "greedy_decode"),
    ("greedy_stops_one_late", "greedy_decode",
     [("        tokens.append(token)\n        if token == end_token:\n            break\n",
       "        stop = bool(tokens) and tokens[-1] == end_token  # looks at the previous token\n"
       "        tokens.append(token)\n        if stop:\n            break\n")], "greedy_decode"),
    ("greedy_no_feedback", "greedy_decode",
     [("log_probs, h = step_fn(token, h)", "log_probs, h = step_fn(start_token, h)")], "greedy_decode"),
    # beam_search
    ("beam_no_length_normalisation", "beam_search", [("logp / len(tokens) ** alpha for", "logp for")], "beam_search"),
    ("beam_extends_finished", "beam_search",
     [("            if candidates[i][0][-1] == end_token:\n"
       "                finished.append(candidates[i])  # finished: leaves the beam\n"
       "            else:\n                live.append(candidates[i])\n",
       "            live.append(candidates[i])  # finished hypotheses stay in the beam and are extended\n")],
     "beam_search"),
    ("beam_finished_keep_their_slots", "beam_search",
     [("        candidates = []  # in the order (hypothesis, token id)\n",
       "        candidates, finished = list(finished), []  # finished hypotheses compete for the beam again\n")],
     "beam_search"),
    ("beam_drops_finished", "beam_search",
     [("finished.append(candidates[i])  # finished: leaves the beam", "pass  # finished hypotheses are dropped")],
     "beam_search"),
    ("beam_stops_at_first_finished", "beam_search", [("        if not live:\n", "        if not live or finished:\n")],
     "beam_search"),
]
