"""Plausible wrong implementations of the ch06_architectures functions, as edits to the solution cells.

An optional fifth element names the known mistake (rnncore.mistakes) that the visible checks must report.
"""

WRONG = [
    # bidirectional_rnn_forward
    ("bi_directions_swapped", "bidirectional_rnn_forward",
     [("np.concatenate([f, b], axis=-1)", "np.concatenate([b, f], axis=-1)")], "bidirectional_rnn_forward",
     "directions in the wrong order"),
    ("bi_backward_not_flipped_back", "bidirectional_rnn_forward",
     [("run(x[rev, n], h0_bwd, params_bwd)[rev, n]", "run(x[rev, n], h0_bwd, params_bwd)")],
     "bidirectional_rnn_forward", "backward states not put back in time order"),
    ("bi_backward_starts_on_padding", "bidirectional_rnn_forward",
     [("rev = np.where(valid, lengths - 1 - t, t)", "rev = np.broadcast_to(T - 1 - t, (T, N))")],
     "bidirectional_rnn_forward", "backward direction starts at the padded end"),
    ("bi_h_n_backward_at_last_step", "bidirectional_rnn_forward", [("b[0]])", "b[lengths - 1, n]])")],
     "bidirectional_rnn_forward", "h_n backward at the last step"),
    ("bi_padding_not_zeroed", "bidirectional_rnn_forward", [(" * valid[..., None]", "")], "bidirectional_rnn_forward",
     "padding not zeroed"),
    ("bi_backward_reads_forwards", "bidirectional_rnn_forward",
     [("run(x[rev, n], h0_bwd, params_bwd)[rev, n]", "run(x, h0_bwd, params_bwd)")], "bidirectional_rnn_forward",
     "backward direction not reversed"),
    ("bi_same_parameters", "bidirectional_rnn_forward",
     [("run(x[rev, n], h0_bwd, params_bwd)", "run(x[rev, n], h0_bwd, params_fwd)")], "bidirectional_rnn_forward",
     "same parameters for both directions"),
    ("bi_h_n_forward_at_padded_end", "bidirectional_rnn_forward", [("f[lengths - 1, n], b[0]", "f[-1], b[0]")],
     "bidirectional_rnn_forward", "h_n forward at the padded end"),
    # last_valid_state
    ("last_uses_output_minus_one", "last_valid_state",
     [("hs[np.asarray(lengths) - 1, np.arange(hs.shape[1])]", "hs[-1]")], "last_valid_state", "output[-1]"),
    ("last_off_by_one", "last_valid_state", [("np.asarray(lengths) - 1", "np.asarray(lengths)")], "last_valid_state",
     "one step too late"),
    ("last_one_step_early", "last_valid_state", [("np.asarray(lengths) - 1", "np.asarray(lengths) - 2")],
     "last_valid_state", "one step too early"),
    ("last_time_and_batch_swapped", "last_valid_state",
     [("hs[np.asarray(lengths) - 1, np.arange(hs.shape[1])]", "hs[np.arange(hs.shape[1]), np.asarray(lengths) - 1]")],
     "last_valid_state", "time and batch indices swapped"),
    # masked_mean_pool
    ("mean_divides_by_T", "masked_mean_pool", [("/ m.sum(axis=0)[:, None]", "/ hs.shape[0]")], "masked_mean_pool",
     "divided by T"),
    ("mean_ignores_mask", "masked_mean_pool",
     [("(hs * m[..., None]).sum(axis=0) / m.sum(axis=0)[:, None]", "hs.mean(axis=0)")], "masked_mean_pool",
     "mask ignored"),
    ("mean_is_a_sum", "masked_mean_pool", [(" / m.sum(axis=0)[:, None]", "")], "masked_mean_pool", "sum, not mean"),
    ("mean_sums_the_padding", "masked_mean_pool", [("(hs * m[..., None]).sum(axis=0)", "hs.sum(axis=0)")],
     "masked_mean_pool", "padding in the sum"),
    # greedy_decode
    ("greedy_no_stop_at_end", "greedy_decode", [("        if token == end_token:\n            break\n", "")],
     "greedy_decode", "no stop at the end token"),
    ("greedy_stops_one_late", "greedy_decode",
     [("        tokens.append(token)\n        if token == end_token:\n            break\n",
       "        stop = bool(tokens) and tokens[-1] == end_token  # looks at the previous token\n"
       "        tokens.append(token)\n        if stop:\n            break\n")], "greedy_decode",
     "stops one token late"),
    ("greedy_no_feedback", "greedy_decode",
     [("log_probs, h = step_fn(token, h)", "log_probs, h = step_fn(start_token, h)")], "greedy_decode",
     "token not fed back"),
    ("greedy_state_not_carried", "greedy_decode",
     [("log_probs, h = step_fn(token, h)", "log_probs, h = step_fn(token, h0)")], "greedy_decode", "state not carried"),
    ("greedy_leaves_out_the_end_token", "greedy_decode",
     [("        logp += float(log_probs[token])\n        tokens.append(token)\n        if token == end_token:\n"
       "            break\n",
       "        if token == end_token:\n            break\n        logp += float(log_probs[token])\n"
       "        tokens.append(token)\n")], "greedy_decode", "end token left out"),
    ("greedy_one_token_too_many", "greedy_decode", [("while len(tokens) < max_len:", "while len(tokens) <= max_len:")],
     "greedy_decode", "one token too many"),
    ("greedy_returns_probability", "greedy_decode",
     [("tokens, logp, h, token = [], 0.0, h0, start_token", "tokens, logp, h, token = [], 1.0, h0, start_token"),
      ("logp += float(log_probs[token])", "logp *= float(np.exp(log_probs[token]))")], "greedy_decode",
     "probability, not log-probability"),
    # beam_search
    ("beam_no_length_normalisation", "beam_search", [("logp / len(tokens) ** alpha for", "logp for")], "beam_search",
     "no length normalisation"),
    ("beam_start_token_counted", "beam_search",
     [("logp / len(tokens) ** alpha for", "logp / (len(tokens) + 1) ** alpha for")], "beam_search",
     "start token counted in the length"),
    ("beam_alpha_ignored", "beam_search", [("logp / len(tokens) ** alpha for", "logp / len(tokens) for")],
     "beam_search", "alpha taken as 1"),
    ("beam_extends_finished", "beam_search",
     [("            if candidates[i][0][-1] == end_token:\n"
       "                finished.append(candidates[i])  # finished: leaves the beam\n"
       "            else:\n                live.append(candidates[i])\n",
       "            live.append(candidates[i])  # finished hypotheses stay in the beam and are extended\n")],
     "beam_search", "finished hypotheses extended"),
    ("beam_finished_keep_their_slots", "beam_search",
     [("        candidates = []  # in the order (hypothesis, token id)\n",
       "        candidates, finished = list(finished), []  # finished hypotheses compete for the beam again\n")],
     "beam_search", "finished hypotheses compete again"),
    ("beam_drops_finished", "beam_search",
     [("finished.append(candidates[i])  # finished: leaves the beam", "pass  # finished hypotheses are dropped")],
     "beam_search"),
    ("beam_stops_at_first_finished", "beam_search", [("        if not live:\n", "        if not live or finished:\n")],
     "beam_search", "stops at the first finished hypothesis"),
    # scheduled_sampling_loss: the coin read the wrong way round; the coins ignored (teacher forcing); the loss summed;
    # predictions taken from a separate teacher-forced pass; each step scored against the token read next; the state
    # restarted from s0 at every step (no known mistake: the checks only say the numbers are wrong)
    ("scheduled_coin_reversed", "scheduled_sampling_loss", [("if u[k] < epsilon else", "if u[k] >= epsilon else")],
     "scheduled_sampling_loss", "coin reversed"),
    ("scheduled_coins_ignored", "scheduled_sampling_loss",
     [("token = int(np.argmax(log_p)) if u[k] < epsilon else int(targets[k])", "token = int(targets[k])")],
     "scheduled_sampling_loss", "coins ignored"),
    ("scheduled_loss_summed", "scheduled_sampling_loss", [("return total / K, inputs", "return total, inputs")],
     "scheduled_sampling_loss", "loss summed"),
    ("scheduled_predictions_from_teacher_forcing", "scheduled_sampling_loss",
     [("    token, total = start_token, 0.0\n",
       "    tf_pred, s_tf = [], np.asarray(s0, dtype=np.float64)\n"
       "    for k in range(K):  # one teacher-forced pass first, for the predictions\n"
       "        x = start_token if k == 0 else int(targets[k - 1])\n"
       "        s_tf = np.tanh(E[x] + s_tf @ W_hh.T + b_h)\n"
       "        tf_pred.append(int(np.argmax(s_tf @ W_hy.T + b_y)))\n"
       "    token, total = start_token, 0.0\n"),
      ("int(np.argmax(log_p)) if u[k] < epsilon", "tf_pred[k] if u[k] < epsilon")],
     "scheduled_sampling_loss", "predictions of a teacher-forced pass"),
    ("scheduled_scores_the_next_input", "scheduled_sampling_loss",
     [("        total -= log_p[targets[k]]\n"
       "        if k + 1 < K:  # the coin u[k] chooses what step k + 1 reads\n"
       "            token = int(np.argmax(log_p)) if u[k] < epsilon else int(targets[k])\n",
       "        if k + 1 < K:  # the coin u[k] chooses what step k + 1 reads\n"
       "            token = int(np.argmax(log_p)) if u[k] < epsilon else int(targets[k])\n"
       "        total -= log_p[token if k + 1 < K else targets[k]]  # the token read next is the target\n")],
     "scheduled_sampling_loss", "loss scored against the tokens read next"),
    ("scheduled_state_restarts", "scheduled_sampling_loss",
     [("        s = np.tanh(E[token] + s @ W_hh.T + b_h)", "        s = np.tanh(E[token] + s0 @ W_hh.T + b_h)")],
     "scheduled_sampling_loss"),
]
