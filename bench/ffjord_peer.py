"""PyTorch + torchdiffeq side of the bench section `flows` (bench/flows.ts): an
FFJORD-style continuous normalizing flow, the same model webode trains.

Model: f(t, z) = MLP([z, t]) (t appended as the last input column, webode's
`timeInput`), tanh between the Linear layers; the state [z, Δlogp] is integrated
from t0 = 0 (data x) to t1 with dz/dt = f and dΔlogp/dt = −tr(∂f/∂z), and
log p(x) = log N(z(t1); 0, I) − Δlogp(t1). The trace is exact (D reverse-mode
passes through f, as FFJORD's `divergence_bf`) or Hutchinson's estimator
εᵀ(∂f/∂z)ε with one Gaussian ε per sample held fixed over the solve
(FFJORD's `divergence_approx`). Solves use torchdiffeq's `odeint_adjoint`
(dopri5), gradients the adjoint method, in float32.

Reads a JSON request (path as the first argument, or stdin), writes a JSON
answer to stdout; progress lines go to stderr. bench/flows-process.mjs runs it.

Request:
  {"threads": 1,
   "train": {"layers": [3, 64, 64, 2], "params": [...],   # flat, nn.Linear order (weight [out, in], bias), layer by layer
             "data": [...], "test": [...],               # [N][2], [M][2] row-major
             "name": "8gaussians", "batch": 512, "seed": 1, # batch b of draw k takes data[sampleIndex(seed, k, b, N)] as webode's PointSampler
             "iterations": 100, "lr": 1e-3, "t1": 0.5, "rtol": 1e-5, "atol": 1e-5,
             "evalChunk": 2048},                          # optional; one entry per dataset in "trains": [...] also accepted
   "speed": {"t1": 0.5, "rtol": 1e-5, "atol": 1e-5, "budgetMs": 4000, "maxRuns": 5,
             "cases": [{"dim": 2, "batch": 512, "trace": "exact", "seed": 0,     # MLP [dim + 1, 64, 64, dim]
                        "params": [...], "x": [...], "noise": [...]}, …]}}  # optional: webode's; else torch's from seed

Answer:
  {"available": true, "torch": "…", "torchdiffeq": "0.2.5", "python": "…", "threads": 1,
   "trains": [{"name", "iterations", "seconds", "itPerSec", "losses": [...every iteration's mean NLL],
               "testLogLik", "nfeForward": [...], "nfeBackward": [...]}],
   "speed": [{"dim", "batch", "trace", "runs", "ms": {"median", "min", "max"}, "perSec", "nfeForward", "nfeBackward"}]}
or {"available": false, "reason": "…"}.
"""

import json
import math
import platform
import statistics
import sys
import time

from torchdiffeq_peer import import_peer  # torch and torchdiffeq (scipy stood in), or an "unavailable" answer

torch, torchdiffeq = import_peer()
from torch import nn  # noqa: E402


def pcg_hash(v):
    """The PCG hash of webode's minibatch.wgsl (src/kernels/minibatch.ts pcgHash)."""
    state = (v * 747796405 + 2891336453) & 0xFFFFFFFF
    word = (((state >> ((state >> 28) + 4)) ^ state) * 277803737) & 0xFFFFFFFF
    return ((word >> 22) ^ word) & 0xFFFFFFFF


def batch_indices(seed, draw, batch, n):
    """The indices webode's PointSampler draws: pcg(pcg(pcg(seed) + draw) + b) mod n."""
    h = pcg_hash((pcg_hash(seed) + draw) & 0xFFFFFFFF)
    return [pcg_hash((h + b) & 0xFFFFFFFF) % n for b in range(batch)]


class CNFFunc(nn.Module):
    """The augmented dynamics (dz/dt, dΔlogp/dt) of FFJORD's ODEfunc, counting calls of f."""

    def __init__(self, layers, params=None, seed=0):
        super().__init__()
        mods = []
        for i in range(len(layers) - 1):
            mods.append(nn.Linear(layers[i], layers[i + 1]))
            if i + 2 < len(layers):
                mods.append(nn.Tanh())
        self.net = nn.Sequential(*mods)
        if params is not None:
            flat = torch.tensor(params, dtype=torch.float32)
            offset = 0
            with torch.no_grad():
                for p in self.net.parameters():
                    n = p.numel()
                    p.copy_(flat[offset : offset + n].view_as(p))
                    offset += n
            if offset != flat.numel():
                raise ValueError(f"{flat.numel()} parameters given, the MLP {layers} has {offset}")
        self.trace = "exact"
        self.noise = None
        self.calls = 0

    def forward(self, t, state):
        z, _ = state
        self.calls += 1
        with torch.enable_grad():
            z = z.requires_grad_(True)
            tt = torch.ones_like(z[:, :1]) * t
            f = self.net(torch.cat([z, tt], 1))
            if self.trace == "exact":
                div = 0.0
                for i in range(z.shape[1]):
                    div = div + torch.autograd.grad(f[:, i].sum(), z, create_graph=True)[0][:, i]
            else:
                e = self.noise
                div = (torch.autograd.grad(f, z, e, create_graph=True)[0] * e).sum(1)
        return f, -div


def log_prob(func, x, t1, rtol, atol, adjoint=True):
    """log p(x) [B] and the solve's calls of f."""
    zero = torch.zeros(x.shape[0], dtype=x.dtype)
    t = torch.tensor([0.0, t1], dtype=torch.float32)
    solve = torchdiffeq.odeint_adjoint if adjoint else torchdiffeq.odeint
    kw = {"adjoint_params": tuple(func.parameters())} if adjoint else {}
    func.calls = 0
    zt, dlogp = solve(func, (x, zero), t, rtol=rtol, atol=atol, method="dopri5", **kw)
    z1 = zt[-1]
    logpz = -0.5 * z1.pow(2).sum(1) - 0.5 * z1.shape[1] * math.log(2 * math.pi)
    return logpz - dlogp[-1], func.calls


def run_train(spec):
    layers = spec["layers"]
    D = layers[-1]
    func = CNFFunc(layers, spec["params"])
    func.trace = "exact"
    data = torch.tensor(spec["data"], dtype=torch.float32).view(-1, D)
    test = torch.tensor(spec["test"], dtype=torch.float32).view(-1, D)
    opt = torch.optim.Adam(func.parameters(), lr=spec["lr"])
    t1, rtol, atol = spec["t1"], spec["rtol"], spec["atol"]
    losses, nfe_f, nfe_b = [], [], []
    start = time.perf_counter()
    for k in range(spec["iterations"]):
        x = data[batch_indices(spec["seed"], k, spec["batch"], data.shape[0])]
        opt.zero_grad(set_to_none=True)
        logp, nf = log_prob(func, x, t1, rtol, atol)
        loss = -logp.mean()
        loss.backward()
        nfe_b.append(func.calls - nf)
        nfe_f.append(nf)
        opt.step()
        losses.append(loss.item())
        if (k + 1) % 25 == 0:
            print(f"ffjord peer: {spec.get('name', '')} iteration {k + 1}: NLL {losses[-1]:.4f}", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - start
    chunk = spec.get("evalChunk", 2048)
    total = 0.0
    with torch.no_grad():
        for i in range(0, test.shape[0], chunk):
            lp, _ = log_prob(func, test[i : i + chunk], t1, rtol, atol, adjoint=False)
            total += lp.double().sum().item()
    return {
        "name": spec.get("name", ""),
        "iterations": spec["iterations"],
        "seconds": seconds,
        "itPerSec": spec["iterations"] / seconds,
        "losses": losses,
        "testLogLik": total / test.shape[0],
        "nfeForward": nfe_f,
        "nfeBackward": nfe_b,
    }


def run_speed(spec):
    out = []
    for c in spec["cases"]:
        D, B = c["dim"], c["batch"]
        torch.manual_seed(c.get("seed", 0))
        func = CNFFunc([D + 1, 64, 64, D], c.get("params"))
        func.trace = c["trace"]
        x = torch.tensor(c["x"], dtype=torch.float32).view(B, D) if "x" in c else torch.randn(B, D)
        func.noise = torch.tensor(c["noise"], dtype=torch.float32).view(B, D) if "noise" in c else torch.randn(B, D)
        times = []
        start = time.perf_counter()
        runs = -1  # the first run is a warm-up
        while True:
            t0 = time.perf_counter()
            func.zero_grad(set_to_none=True)
            logp, nf = log_prob(func, x, spec["t1"], spec["rtol"], spec["atol"])
            (-logp.mean()).backward()
            nb = func.calls - nf
            ms = (time.perf_counter() - t0) * 1e3
            runs += 1
            if runs > 0:
                times.append(ms)
            spent = (time.perf_counter() - start) * 1e3
            if runs >= spec.get("maxRuns", 5) or (runs >= 1 and spent > spec.get("budgetMs", 4000)) or (runs == 0 and ms > spec.get("budgetMs", 4000)):
                break
        if not times:
            times = [ms]  # one run over the budget: its time, warm-up included
        med = statistics.median(times)
        out.append({"dim": D, "batch": B, "trace": c["trace"], "runs": len(times),
                    "ms": {"median": med, "min": min(times), "max": max(times)},
                    "perSec": 1e3 / med, "nfeForward": nf, "nfeBackward": nb})
        print(f"ffjord peer: D {D} B {B} {c['trace']}: {med:.0f} ms ({len(times)} runs)", file=sys.stderr, flush=True)
    return out


def main():
    request = json.load(open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin)
    torch.set_num_threads(int(request.get("threads", 1)))
    answer = {"available": True, "torch": torch.__version__, "torchdiffeq": torchdiffeq.__version__,
              "python": platform.python_version(), "threads": torch.get_num_threads()}
    trains = request.get("trains") or ([request["train"]] if "train" in request else [])
    answer["trains"] = [run_train(s) for s in trains]
    answer["speed"] = run_speed(request["speed"]) if "speed" in request else []
    json.dump(answer, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
