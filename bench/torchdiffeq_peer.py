"""torchdiffeq side of the bench section `peer-torchdiffeq` (bench/torchdiffeq.ts).

Reads a JSON request (path as the first argument, or stdin) describing Neural ODE
problems exactly as webode solves them, runs each in torchdiffeq on the CPU and
writes a JSON answer to stdout: timings, function-evaluation counts, the forward
outputs and the gradients. bench/torchdiffeq-process.mjs starts this script and passes the
answer back to the benchmark page, which prints it next to webode's figures.

Request:
  {"threads": [2, 1], "warmup": 1, "repeats": 7, "minRepeats": 3, "budgetMs": 3000, "longMs": 5000, "mediumMs": 1500,
   "problems": [{"name", "layers": [2, 50, 2], "activation": "tanh",
                 "params": [...],      # flat, nn.Linear order: weight [out, in] row-major, then bias, layer by layer
                 "y0": [...],          # [batch, dim] row-major
                 "batch", "t": [...], "method": "dopri5", "rtol", "atol",
                 "loss": "mean_square"}]}   # L = mean(y**2) over every output [T, batch, dim]

Answer:
  {"available": true, "torchdiffeq": "0.2.5", "torch": "…", "python": "…",
   "runs": [{"threads": 2,                                         # one per entry of the request's "threads"
             "problems": [{"name", "forwardMs", "backwardMs", "totalMs",   # each {median, min, max, runs}
                           "nfeForward", "nfeBackward",                    # calls of f in the last run
                           "loss", "y": [...], "gy0": [...], "gtheta": [...]}]}]}   # y, gy0, gtheta: first run only
or {"available": false, "reason": "…"} when torch or torchdiffeq cannot be imported.

One run is one `odeint_adjoint` forward solve plus `loss.backward()` (the adjoint
solve), in float32, timed separately with time.perf_counter. After `warmup` untimed
runs: if the last of them took over `longMs`, one timed run; over `mediumMs`, two;
otherwise up to `repeats`, stopping after `minRepeats` once `budgetMs` has been spent
(bench/timing.ts adaptiveRepeat, the page's rule). The whole set runs once per
entry of "threads" (torch.set_num_threads): PyTorch's OpenMP threads spin while they
wait, so on a busy machine two threads can be far slower than one. Everything is torchdiffeq's
defaults apart from method and tolerances.
"""

import json
import platform
import statistics
import sys
import time
import types


def unavailable(reason):
    json.dump({"available": False, "reason": reason}, sys.stdout)
    sys.stdout.write("\n")
    sys.exit(0)


def import_peer():
    """Imports torch and torchdiffeq, or answers 'unavailable' with the reason."""
    try:
        import torch
    except Exception as e:  # ImportError, or a broken install raising something else
        unavailable(f"cannot import torch ({type(e).__name__}: {e})")
    try:
        import scipy.integrate  # noqa: F401
    except ImportError:
        # torchdiffeq imports scipy.integrate.solve_ivp at import time, only for its
        # 'scipy_solver' method, which this script never uses. Debian's python3-torch
        # does not pull in scipy, so stand in a module whose solve_ivp says so if called.
        def solve_ivp(*args, **kwargs):
            raise RuntimeError("scipy is not installed")

        scipy = types.ModuleType("scipy")
        integrate = types.ModuleType("scipy.integrate")
        integrate.solve_ivp = solve_ivp
        scipy.integrate = integrate
        sys.modules["scipy"] = scipy
        sys.modules["scipy.integrate"] = integrate
    try:
        import torchdiffeq
    except Exception as e:
        unavailable(f"cannot import torchdiffeq ({type(e).__name__}: {e})")
    return torch, torchdiffeq


torch, torchdiffeq = import_peer()
from torch import nn  # noqa: E402

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "identity": nn.Identity}


class CountedMLP(nn.Module):
    """dy/dt = MLP(y) (autonomous, like webode's MLP dynamics), counting its calls."""

    def __init__(self, layers, activation, flat, dtype=None):
        super().__init__()
        dtype = dtype or torch.float32
        mods = []
        for i in range(len(layers) - 1):
            mods.append(nn.Linear(layers[i], layers[i + 1]))
            if i + 2 < len(layers):
                mods.append(ACTIVATIONS[activation]())
        self.net = nn.Sequential(*mods).to(dtype)
        self.calls = 0
        # webode's flat vector is nn.Linear's own order: weight [out, in] row-major, then bias;
        # its float32 values first, then widened, so float64 runs see exactly webode's numbers.
        flat = torch.tensor(flat, dtype=torch.float32).to(dtype)
        offset = 0
        with torch.no_grad():
            for p in self.net.parameters():  # Linear 0 weight, Linear 0 bias, Linear 1 weight, …
                n = p.numel()
                p.copy_(flat[offset : offset + n].view_as(p))
                offset += n
        if offset != flat.numel():
            raise ValueError(f"{flat.numel()} parameters given, the MLP {layers} has {offset}")

    def forward(self, t, y):
        self.calls += 1
        return self.net(y)


def summary(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": len(xs)}


def run_problem(p, policy):
    if p.get("loss", "mean_square") != "mean_square":
        raise ValueError(f"unknown loss {p['loss']}")
    func = CountedMLP(p["layers"], p["activation"], p["params"])
    dim = p["layers"][-1]
    y0 = torch.tensor(p["y0"], dtype=torch.float32).view(p["batch"], dim)
    t = torch.tensor(p["t"], dtype=torch.float32)

    def once():
        """One forward solve and one backward; returns (forward ms, backward ms, calls, calls, y, loss, y0)."""
        func.zero_grad(set_to_none=True)
        y0r = y0.clone().requires_grad_(True)
        func.calls = 0
        t0 = time.perf_counter()
        y = torchdiffeq.odeint_adjoint(func, y0r, t, rtol=p["rtol"], atol=p["atol"], method=p["method"])
        t1 = time.perf_counter()
        nfe_forward = func.calls
        loss = y.pow(2).mean()
        loss.backward()
        t2 = time.perf_counter()
        return (t1 - t0) * 1e3, (t2 - t1) * 1e3, nfe_forward, func.calls - nfe_forward, y.detach(), loss.item(), y0r

    # The first run is the warm-up; long runs then get fewer repeats (the page's adaptiveRepeat rule).
    first = once()
    for _ in range(policy["warmup"] - 1):
        first = once()
    first_ms = first[0] + first[1]
    repeats = 1 if first_ms > policy["longMs"] else 2 if first_ms > policy["mediumMs"] else policy["repeats"]
    fwd, bwd, tot = [], [], []
    start = time.perf_counter()
    while len(fwd) < repeats:
        f_ms, b_ms, nfe_f, nfe_b, y, loss, y0r = once()
        fwd.append(f_ms)
        bwd.append(b_ms)
        tot.append(f_ms + b_ms)
        if len(fwd) >= policy["minRepeats"] and (time.perf_counter() - start) * 1e3 > policy["budgetMs"]:
            break
    gtheta = torch.cat([q.grad.reshape(-1) for q in func.net.parameters()])
    return {
        "name": p["name"],
        "forwardMs": summary(fwd),
        "backwardMs": summary(bwd),
        "totalMs": summary(tot),
        "nfeForward": nfe_f,
        "nfeBackward": nfe_b,
        "loss": loss,
        "y": y.reshape(-1).tolist(),
        "gy0": y0r.grad.reshape(-1).tolist(),
        "gtheta": gtheta.tolist(),
    }


def main():
    request = json.load(open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin)
    defaults = (("warmup", 1), ("repeats", 7), ("minRepeats", 3), ("budgetMs", 3000), ("longMs", 5000), ("mediumMs", 1500))
    policy = {k: request.get(k, d) for k, d in defaults}
    runs = []
    # Every problem once per thread count; outputs and gradients only from the first.
    for i, threads in enumerate(request.get("threads", [2])):
        torch.set_num_threads(int(threads))
        answers = []
        for p in request["problems"]:
            a = run_problem(p, policy)
            if i > 0:
                del a["y"], a["gy0"], a["gtheta"]
            answers.append(a)
            print(f"torchdiffeq: {threads} thread(s): {p['name']}: {a['totalMs']['median']:.1f} ms", file=sys.stderr, flush=True)
        runs.append({"threads": torch.get_num_threads(), "problems": answers})
    json.dump(
        {
            "available": True,
            "torchdiffeq": torchdiffeq.__version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "runs": runs,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
