"""PyTorch + torchdiffeq side of the bench section `latent` (bench/latent.ts).

Trains the same latent ODE as webode's LatentODE on the same irregular series,
from the same initial parameters, with the same ε per iteration, the same
iterations and the same Adam, then reports interpolation and extrapolation
errors and iterations per second. bench/torchdiffeq-process.mjs runs it with
torchdiffeq on PYTHONPATH (default ../shared/peers/torchdiffeq from the
repository root).

Request (JSON file, path as the first argument):
  {"threads": 1,
   "config": {"obsDim", "latentDim", "encoderHidden", "fieldLayers": [L, …, L], "activation": "elu", "obsStd"},
   "params": {"gru": [...], "head": [...], "field": [...], "decoder": [...]},
        # flat, PyTorch layouts: GRUCell weight_ih, weight_hh, bias_ih, bias_hh; Linear weight [out, in] then bias
   "train": SERIES, "heldOut": SERIES, "extrapolation": SERIES,
        # SERIES = {"batch", "length", "dim", "times": [B][T], "values": [T*B*D], "mask": [T*B*D]}
   "iterations", "lr", "klWeight", "klWarmup", "rtol", "atol", "method": "dopri5",
   "eps": [iterations][B*L],            # ε of each iteration (webode's PCG draws)
   "predictEps": [S][B*L]}              # ε of the S z0 samples used for the errors

Answer: {"available": true, "torch", "torchdiffeq", "python", "threads",
         "trainSeconds", "itPerSec", "losses": [...], "nll": [...], "kl": [...],
         "interpolationMse", "extrapolationMse"}
or {"available": false, "reason"}.

The model, as webode's: a GRUCell runs over each series' observations from the
last to the first with inputs [x*m, m, t] (steps with nothing observed keep h),
Linear(h) -> mu, log sigma; z0 = mu + sigma*eps; dz/dt = MLP(z) solved by
torchdiffeq's odeint_adjoint from t = 0 over the union of the batch's times
(torchdiffeq has no per-sample output times; each series reads its own rows);
x^ = Linear(z); loss = (1/B) sum_b [sum_observed -log N(x | x^, obsStd^2) + beta KL],
beta = klWeight * min(1, k / klWarmup). Errors: the mean over the S samples of
x^ at the held-out (interpolation) or extrapolation times against the
noise-free values, mean squared over the observed entries.
"""

import json
import math
import platform
import sys
import time

from torchdiffeq_peer import import_peer  # torch and torchdiffeq (scipy stood in), or an "unavailable" answer

torch, torchdiffeq = import_peer()
from torch import nn  # noqa: E402

ACT = {"elu": nn.ELU, "tanh": nn.Tanh, "relu": nn.ReLU, "softplus": nn.Softplus}


def load_flat(module, flat):
    flat = torch.tensor(flat, dtype=torch.float32)
    offset = 0
    with torch.no_grad():
        for p in module.parameters():
            n = p.numel()
            p.copy_(flat[offset:offset + n].view_as(p))
            offset += n
    assert offset == flat.numel(), (offset, flat.numel())


class Field(nn.Module):
    def __init__(self, layers, activation):
        super().__init__()
        mods = []
        for i in range(len(layers) - 1):
            mods.append(nn.Linear(layers[i], layers[i + 1]))
            if i + 2 < len(layers):
                mods.append(ACT[activation]())
        self.net = nn.Sequential(*mods)
        self.calls = 0

    def forward(self, t, z):
        self.calls += 1
        return self.net(z)


class Model(nn.Module):
    def __init__(self, cfg, params):
        super().__init__()
        D, L, H = cfg["obsDim"], cfg["latentDim"], cfg["encoderHidden"]
        self.D, self.L, self.H = D, L, H
        self.gru = nn.GRUCell(2 * D + 1, H)
        self.head = nn.Linear(H, 2 * L)
        self.field = Field(cfg["fieldLayers"], cfg["activation"])
        self.decoder = nn.Linear(L, D)
        load_flat(self.gru, params["gru"])
        load_flat(self.head, params["head"])
        load_flat(self.field, params["field"])
        load_flat(self.decoder, params["decoder"])


class Series:
    """A padded SeriesBatch as tensors, with the union of its times for torchdiffeq."""

    def __init__(self, s):
        B, T, D = s["batch"], s["length"], s["dim"]
        self.B, self.T, self.D = B, T, D
        self.values = torch.tensor(s["values"], dtype=torch.float32).view(T, B, D)
        self.mask = torch.tensor(s["mask"], dtype=torch.float32).view(T, B, D)
        self.times = torch.tensor(s["times"], dtype=torch.float64)  # [B, T]
        union = sorted(set(float(v) for v in self.times.flatten().tolist()))
        self.grid = torch.tensor([0.0] + union, dtype=torch.float32)
        index = {v: i + 1 for i, v in enumerate(union)}
        self.rows = torch.tensor([[index[float(v)] for v in row] for row in self.times.tolist()], dtype=torch.long)  # [B, T]
        step = (self.mask.sum(-1) > 0).float()  # [T, B]
        self.step = step
        t32 = self.times.float().t()  # [T, B]
        self.inputs = torch.cat([self.values * self.mask, self.mask, (t32 * step).unsqueeze(-1)], dim=-1)  # [T, B, 2D+1]


def encode(model, s):
    h = torch.zeros(s.B, model.H)
    for i in reversed(range(s.T)):
        m = s.step[i].unsqueeze(-1)
        h = m * model.gru(s.inputs[i], h) + (1 - m) * h
    out = model.head(h)
    return out[:, :model.L], out[:, model.L:]


def decode_at(model, z0, s, rtol, atol, method, adjoint):
    solve = torchdiffeq.odeint_adjoint if adjoint else torchdiffeq.odeint
    kw = {"adjoint_params": tuple(model.field.parameters())} if adjoint else {}
    zs = solve(model.field, z0, s.grid, rtol=rtol, atol=atol, method=method, **kw)  # [G, B, L]
    b = torch.arange(s.B).unsqueeze(0).expand(s.T, s.B)
    z = zs[s.rows.t(), b]  # [T, B, L]
    return model.decoder(z)


def main():
    with open(sys.argv[1]) as fh:
        req = json.load(fh)
    threads = req.get("threads", 1)
    torch.set_num_threads(int(threads[0] if isinstance(threads, list) else threads))
    torch.manual_seed(0)
    cfg = req["config"]
    model = Model(cfg, req["params"])
    train = Series(req["train"])
    held = Series(req["heldOut"])
    extra = Series(req["extrapolation"])
    L, B = model.L, train.B
    std = cfg["obsStd"]
    const = 0.5 * math.log(2 * math.pi) + math.log(std)
    opt = torch.optim.Adam(model.parameters(), lr=req["lr"])
    losses, nlls, kls = [], [], []
    rtol, atol, method = req["rtol"], req["atol"], req["method"]
    model.field.calls = 0
    t0 = time.perf_counter()
    for k in range(1, req["iterations"] + 1):
        opt.zero_grad()
        mu, logsig = encode(model, train)
        eps = torch.tensor(req["eps"][k - 1], dtype=torch.float32).view(B, L)
        z0 = mu + torch.exp(logsig) * eps
        xhat = decode_at(model, z0, train, rtol, atol, method, True)
        r = (train.values - xhat) / std
        nll = (train.mask * (0.5 * r * r + const)).sum() / B
        kl = (0.5 * (torch.exp(2 * logsig) + mu * mu - 1) - logsig).sum() / B
        beta = req["klWeight"] * (1.0 if req["klWarmup"] == 0 else min(1.0, k / req["klWarmup"]))
        loss = nll + beta * kl
        loss.backward()
        opt.step()
        losses.append(loss.item())
        nlls.append(nll.item())
        kls.append(kl.item())
        if k % 50 == 0:
            print(f"torchdiffeq: latent iteration {k}, loss {losses[-1]:.4g}", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - t0

    def error(target):
        with torch.no_grad():
            mu, logsig = encode(model, train)
            preds = []
            for e in req["predictEps"]:
                z0 = mu + torch.exp(logsig) * torch.tensor(e, dtype=torch.float32).view(B, L)
                preds.append(decode_at(model, z0, target, rtol, atol, method, False))
            mean = torch.stack(preds).mean(0)
            d = (mean - target.values) * target.mask
            return (d * d).sum().item() / target.mask.sum().item()

    json.dump({
        "available": True,
        "torch": torch.__version__,
        "torchdiffeq": getattr(torchdiffeq, "__version__", "?"),
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "trainSeconds": seconds,
        "itPerSec": req["iterations"] / seconds,
        "losses": losses,
        "nll": nlls,
        "kl": kls,
        "interpolationMse": error(held),
        "extrapolationMse": error(extra),
    }, sys.stdout)
    sys.stdout.write("\n")


main()
