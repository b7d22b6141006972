"""Plausible wrong implementations of the ch08_beyond functions, as edits to the solution cells.

An optional fifth element names the known mistake (rnncore.mistakes) that the visible checks must report.
"""

_SCAN_ROUND = (
    "        B[step:] = A[step:] * B[:-step] + B[step:]\n"
    "        A[step:] = A[step:] * A[:-step]\n"
)

WRONG = [
    ("loop_zeros_not_h0", "linear_recurrence",
     [("h = np.zeros(a.shape[1:]) if h0 is None else np.asarray(h0, dtype=float)", "h = np.zeros(a.shape[1:])")],
     "linear_recurrence", "starts from zeros"),
    ("loop_stores_previous_state", "linear_recurrence",
     [("        h = a[t] * h + b[t]\n        hs[t] = h", "        hs[t] = h\n        h = a[t] * h + b[t]")],
     "linear_recurrence", "states shifted by one step"),
    ("loop_a_b_swapped", "linear_recurrence", [("        h = a[t] * h + b[t]\n", "        h = b[t] * h + a[t]\n")],
     "linear_recurrence", "a and b swapped"),
    # (a1, b1) o (a2, b2) = (a1 a2, a1 b2 + b1): the later step applied first
    ("scan_wrong_order", "parallel_scan",
     [("B[step:] = A[step:] * B[:-step] + B[step:]", "B[step:] = A[:-step] * B[step:] + B[:-step]")],
     "parallel_scan", "wrong composition order"),
    ("scan_ignores_h0", "parallel_scan",
     [("        B[0] = A[0] * h0 + B[0]  # fold h0 into the first step", "        pass")], "parallel_scan",
     "ignores h0"),
    # exclusive scan: returns h_0 .. h_{T-1} instead of h_1 .. h_T
    ("scan_exclusive", "parallel_scan",
     [("    return B", "    first = np.zeros(B.shape[1:]) if h0 is None else np.asarray(h0, dtype=float)\n"
                       "    return np.concatenate([first[None], B[:-1]])")], "parallel_scan", "exclusive scan"),
    ("scan_updates_A_before_B", "parallel_scan",
     [(_SCAN_ROUND, "        A[step:] = A[step:] * A[:-step]\n        B[step:] = A[step:] * B[:-step] + B[step:]\n")],
     "parallel_scan", "A updated before B"),
    ("scan_never_composes_A", "parallel_scan", [("        A[step:] = A[step:] * A[:-step]\n", "")], "parallel_scan",
     "A never composed"),
    # floor(log2 T) rounds: too few when T is not a power of two
    ("scan_too_few_rounds", "parallel_scan",
     [("    while step < A.shape[0]:\n", "    for _ in range(int(np.log2(A.shape[0]))):\n")], "parallel_scan",
     "too few rounds"),
    ("mingru_z_swapped", "mingru_forward", [("A, B = 1 - z, z * h_tilde", "A, B = z, (1 - z) * h_tilde")],
     "mingru_forward", "z and 1 - z swapped"),
    ("mingru_tanh_candidate", "mingru_forward",
     [("h_tilde = x @ W_h.T + b_h", "h_tilde = np.tanh(x @ W_h.T + b_h)")], "mingru_forward",
     "tanh on the candidate"),
    ("mingru_zeros_not_h0", "mingru_forward",
     [("    B[0] = A[0] * h0 + B[0]  # fold h0 into the first step\n", "")], "mingru_forward",
     "starts from zeros"),
    ("mingru_transposed_weights", "mingru_forward",
     [("sigmoid(x @ W_z.T + b_z)", "sigmoid(x @ W_z + b_z)"), ("x @ W_h.T + b_h", "x @ W_h + b_h")],
     "mingru_forward", "weights not transposed"),
    ("mingru_no_sigmoid", "mingru_forward", [("z = sigmoid(x @ W_z.T + b_z)", "z = x @ W_z.T + b_z")],
     "mingru_forward", "no sigmoid on the gate"),
    # Blelloch's scan (the task no page of the course edition and no rnncore function answers)
    ("blelloch_up_swapped", "blelloch_scan",
     [("        B[right] = A[right] * B[left] + B[right]\n        A[right] = A[left] * A[right]\n",
       "        B[right] = A[left] * B[right] + B[left]\n        A[right] = A[left] * A[right]\n")],
     "blelloch_scan", "up-sweep composes in the wrong order"),
    ("blelloch_down_swapped", "blelloch_scan",
     [("        B[right] = old_A * B[right] + old_B\n", "        B[right] = A[right] * old_B + B[right]\n")],
     "blelloch_scan", "down-sweep composes in the wrong order"),
    ("blelloch_exclusive", "blelloch_scan",
     [("    hs = a * B[:T] + first  # exclusive prefix, then the step itself, applied to 0\n",
       "    hs = B[:T].copy()\n")], "blelloch_scan", "exclusive scan returned"),
    ("blelloch_ignores_h0", "blelloch_scan",
     [("    if h0 is not None:\n        first[0] = a[0] * h0 + b[0]\n", "")], "blelloch_scan", "h0 ignored"),
    # one Newton step of DEER (the second task no page of the course edition and no rnncore function answers)
    ("deer_not_shifted", "deer_newton_step",
     [("p = np.concatenate([h0[None], hs_guess[:-1]])", "p = hs_guess")],
     "deer_newton_step", "linearised at h_t instead of h_{t-1}"),
    ("deer_no_slope", "deer_newton_step", [("a = w * (1 - f**2)", "a = w * np.ones_like(f)")],
     "deer_newton_step", "no tanh derivative in the Jacobian"),
    ("deer_slope_at_p", "deer_newton_step", [("a = w * (1 - f**2)", "a = w * (1 - p**2)")],
     "deer_newton_step", "tanh derivative at the previous state"),
    ("deer_no_offset", "deer_newton_step", [("b = f - a * p", "b = f.copy()")],
     "deer_newton_step", "offset without the -J p term"),
    ("deer_ignores_h0", "deer_newton_step",
     [("p = np.concatenate([h0[None], hs_guess[:-1]])", "p = np.concatenate([0 * h0[None], hs_guess[:-1]])"),
      ("    B[0] = A[0] * h0 + B[0]  # fold h0 into the first step\n", "")],
     "deer_newton_step", "h0 ignored"),
]
