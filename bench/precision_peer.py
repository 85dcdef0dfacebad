"""torchdiffeq side of the work-precision section (bench/precision.ts, table 7c).

Reads a JSON request (path as the first argument, or stdin) holding the
work-precision problems exactly as webode solves them, solves each with
torchdiffeq's `odeint` at every tolerance, method and dtype asked for, and
writes a JSON answer to stdout: y(T) of every sample, the number of calls of
f, and the wall time. The page computes the error of y(T) against its own
float64 reference, the same one webode's rows are measured against.
bench/torchdiffeq-process.mjs starts this script (runPrecisionPeer).

Request:
  {"methods": ["dopri5", "tsit5"], "tolerances": [1e-3, …], "atolFactor": 0.1,
   "dtypes": ["float32", "float64"], "threads": 1, "repeats": 3, "budgetMs": 2000,
   "problems": [{"name", "layers": [2, 50, 2], "activation": "tanh" | "identity",
                 "params": [...],   # flat, nn.Linear order: weight [out, in] row-major, then bias, layer by layer
                 "y0": [...],       # [batch, dim] row-major (float32 values)
                 "batch", "T"}]}

Answer:
  {"available": true, "torchdiffeq", "torch", "python", "threads",
   "problems": [{"name", "runs": [{"method", "dtype", "rtol", "atol",
                                   "nfe",          # calls of f (each evaluates the whole batch)
                                   "wallMs",       # {median, min, max, runs}
                                   "yT": [...]}]}]}  # [batch, dim] row-major
or {"available": false, "reason": "…"} when torch or torchdiffeq cannot be imported,
or a method is missing from torchdiffeq's solvers (then only that method's runs are
left out and "missing" names it).

Everything is torchdiffeq's default apart from method and tolerances: one step
size for the whole batch, chosen from one RMS error norm over every component
of every sample, its I controller (safety 0.9, ifactor 10, dfactor 0.2) and its
initial step selection. The parameters and y0 are the float32 values webode
uses; in float64 they are the same numbers widened, so the float64 runs differ
from the reference only by their truncation error. Timing: one untimed solve,
then up to `repeats` timed ones within `budgetMs` (at least one).
"""

import json
import platform
import sys
import time

from torchdiffeq_peer import CountedMLP, import_peer, summary

torch, torchdiffeq = import_peer()

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def solve(p, method, dtype, rtol, atol, policy):
    func = CountedMLP(p["layers"], p["activation"], p["params"], DTYPES[dtype])
    dim = p["layers"][0]
    y0 = torch.tensor(p["y0"], dtype=torch.float32).to(DTYPES[dtype]).view(p["batch"], dim)
    t = torch.tensor([0.0, p["T"]], dtype=DTYPES[dtype])

    def once():
        func.calls = 0
        t0 = time.perf_counter()
        with torch.no_grad():
            y = torchdiffeq.odeint(func, y0, t, rtol=rtol, atol=atol, method=method)
        return (time.perf_counter() - t0) * 1e3, func.calls, y[-1]

    _, nfe, yT = once()  # untimed: the counts and outputs are the same every run
    times = []
    start = time.perf_counter()
    while len(times) < policy["repeats"]:
        ms, _, _ = once()
        times.append(ms)
        if (time.perf_counter() - start) * 1e3 > policy["budgetMs"]:
            break
    return {
        "method": method,
        "dtype": dtype,
        "rtol": rtol,
        "atol": atol,
        "nfe": nfe,
        "wallMs": summary(times),
        "yT": yT.reshape(-1).tolist(),
    }


def main():
    request = json.load(open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin)
    policy = {"repeats": request.get("repeats", 3), "budgetMs": request.get("budgetMs", 2000)}
    torch.set_num_threads(int(request.get("threads", 1)))
    # torchdiffeq._impl.odeint is shadowed by the function of that name; the module holds the table.
    solvers = sys.modules["torchdiffeq._impl.odeint"].SOLVERS
    methods = [m for m in request["methods"] if m in solvers]
    missing = [m for m in request["methods"] if m not in solvers]
    problems = []
    for p in request["problems"]:
        runs = []
        for method in methods:
            for dtype in request.get("dtypes", ["float32"]):
                for rtol in request["tolerances"]:
                    atol = rtol * request.get("atolFactor", 0.1)
                    r = solve(p, method, dtype, rtol, atol, policy)
                    runs.append(r)
                    print(
                        f"torchdiffeq: {p['name']}: {method} {dtype} rtol {rtol:g}: nfe {r['nfe']}, {r['wallMs']['median']:.1f} ms",
                        file=sys.stderr,
                        flush=True,
                    )
        problems.append({"name": p["name"], "runs": runs})
    json.dump(
        {
            "available": True,
            "torchdiffeq": torchdiffeq.__version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "threads": torch.get_num_threads(),
            "missing": missing,
            "problems": problems,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
