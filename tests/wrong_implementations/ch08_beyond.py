"""Plausible wrong implementations of the ch08_beyond functions, as edits to the solution cells."""

_SCAN_ROUND = (
    "        B[step:] = A[step:] * B[:-step] + B[step:]\n"
    "        A[step:] = A[step:] * A[:-step]\n"
)

WRONG = [
    ("loop_zeros_not_h0", "linear_recurrence",
     [("h = np.zeros(a.shape[1:]) if h0 is None else np.asarray(h0, dtype=float)", "h = np.zeros(a.shape[1:])")],
     "linear_recurrence"),
    ("loop_stores_previous_state", "linear_recurrence",
     [("        h = a[t] * h + b[t]\n        hs[t] = h", "        hs[t] = h\n        h = a[t] * h + b[t]")],
     "linear_recurrence"),
    # (a1, b1) o (a2, b2) = (a1 a2, a1 b2 + b1): the later step applied first
    ("scan_wrong_order", "parallel_scan",
     [("B[step:] = A[step:] * B[:-step] + B[step:]", "B[step:] = A[:-step] * B[step:] + B[:-step]")],
     "parallel_scan"),
    ("scan_ignores_h0", "parallel_scan",
     [("        B[0] = A[0] * h0 + B[0]  # fold h0 into the first step", "        pass")], "parallel_scan"),
    # exclusive scan: returns h_0 .. h_{T-1} instead of h_1 .. h_T
    ("scan_exclusive", "parallel_scan",
     [("    return B", "    first = np.zeros(B.shape[1:]) if h0 is None else np.asarray(h0, dtype=float)\n"
                       "    return np.concatenate([first[None], B[:-1]])")], "parallel_scan"),
    ("scan_updates_A_before_B", "parallel_scan",
     [(_SCAN_ROUND, "        A[step:] = A[step:] * A[:-step]\n        B[step:] = A[step:] * B[:-step] + B[step:]\n")],
     "parallel_scan"),
    ("scan_never_composes_A", "parallel_scan", [("        A[step:] = A[step:] * A[:-step]\n", "")], "parallel_scan"),
    ("mingru_z_swapped", "mingru_forward", [("A, B = 1 - z, z * h_tilde", "A, B = z, (1 - z) * h_tilde")],
     "mingru_forward"),
    ("mingru_tanh_candidate", "mingru_forward",
     [("h_tilde = x @ W_h.T + b_h", "h_tilde = np.tanh(x @ W_h.T + b_h)")], "mingru_forward"),
    ("mingru_zeros_not_h0", "mingru_forward",
     [("    B[0] = A[0] * h0 + B[0]  # fold h0 into the first step\n", "")], "mingru_forward"),
    ("mingru_transposed_weights", "mingru_forward",
     [("sigmoid(x @ W_z.T + b_z)", "sigmoid(x @ W_z + b_z)"), ("x @ W_h.T + b_h", "x @ W_h + b_h")],
     "mingru_forward"),
]
