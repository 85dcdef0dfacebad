"""The PyTorch side of test/node/pytorch.test.ts (run by /usr/bin/python3).

  python3 pytorch_roundtrip.py load  <state_dict.json> <problem.json>
      Builds an nn.Sequential from the exported state_dict's "webode" entry,
      loads the parameters, solves the problem in float64, prints the
      solution as JSON.
  python3 pytorch_roundtrip.py write <state_dict.json> <problem.json>
      torch.manual_seed(seed), a fresh nn.Sequential, writes its state_dict
      as JSON (the README's lines), solves in float64, prints the solution.

The solver is torchdiffeq's fixed-step "rk4" (Kutta's 3/8 rule) from
../shared/peers/torchdiffeq relative to the repository root; if that folder
is absent, the same 3/8 rule written below in torch (the output says which).
"""
import json
import os
import sys

import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PEER = os.path.join(os.path.dirname(ROOT), "shared", "peers", "torchdiffeq")
if os.path.isdir(PEER):
    sys.path.insert(0, PEER)
try:
    import scipy.integrate  # noqa: F401
except ImportError:
    # torchdiffeq imports scipy only for its "scipy_solver" method, unused here;
    # Debian's python3-torch does not pull scipy in, so stand in for it.
    import types
    _scipy = types.ModuleType("scipy")
    _scipy.integrate = types.ModuleType("scipy.integrate")
    _scipy.integrate.solve_ivp = None
    sys.modules["scipy"] = _scipy
    sys.modules["scipy.integrate"] = _scipy.integrate
try:
    from torchdiffeq import odeint
    SOLVER = "torchdiffeq rk4 (3/8 rule) from " + PEER
except ImportError:
    odeint = None
    SOLVER = "fallback: float64 fixed-step 3/8-rule RK4 in torch (torchdiffeq not found)"


def rk38(func, y0, t, step):
    """Kutta's 3/8 rule on the grid t0 + k*step; t must lie on the grid."""
    ys, y, tk = [y0], y0, t[0]
    for t_next in t[1:]:
        n = int(round(float((t_next - tk) / step)))
        for _ in range(n):
            h = step
            k1 = func(tk, y)
            k2 = func(tk + h / 3, y + h * k1 / 3)
            k3 = func(tk + 2 * h / 3, y + h * (k2 - k1 / 3))
            k4 = func(tk + h, y + h * (k1 - k2 + k3))
            y = y + (k1 + 3 * (k2 + k3) + k4) * h / 8
            tk = tk + h
        ys.append(y)
    return torch.stack(ys)


ACTIVATIONS = {"Tanh": nn.Tanh, "Softplus": nn.Softplus, "ReLU": nn.ReLU, "Sigmoid": nn.Sigmoid,
               "SiLU": nn.SiLU, "ELU": nn.ELU, "Identity": nn.Identity}


def sequential(layers, act):
    mods = []
    for i in range(len(layers) - 1):
        if i > 0:
            mods.append(ACTIVATIONS[act]())
        mods.append(nn.Linear(layers[i], layers[i + 1]))
    return nn.Sequential(*mods)


def solve(net, time_input, problem):
    net = net.double()
    y0 = torch.tensor(problem["y0"], dtype=torch.float64).reshape(-1, problem["dim"])
    t = torch.tensor(problem["t"], dtype=torch.float64)

    def f(tt, z):
        x = torch.cat([z, tt.expand(z.shape[0], 1)], 1) if time_input else z
        return net(x)

    with torch.no_grad():
        if odeint is not None:
            y = odeint(f, y0, t, method="rk4", options={"step_size": problem["step"]})
        else:
            y = rk38(f, y0, t, problem["step"])
    return y.reshape(-1).tolist()


def main():
    mode, sd_path, problem_path = sys.argv[1:4]
    problem = json.load(open(problem_path))
    if mode == "load":
        # The README's lines, as printed there: build the nn.Sequential from the export, load it.
        sd = json.load(open(sd_path))
        meta = sd.pop("webode")
        act = getattr(nn, meta["torchActivation"])    # e.g. nn.Tanh
        L = meta["layers"]
        mods = []
        for i in range(len(L) - 1):
            mods += ([act()] if i > 0 else []) + [nn.Linear(L[i], L[i + 1])]
        net = nn.Sequential(*mods)
        net.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})
        assert [type(m).__name__ for m in net] == [m.split("(")[0] for m in meta["modules"]], (list(net), meta["modules"])
        time_input = meta["timeInput"]
    else:
        torch.manual_seed(problem["seed"])
        net = sequential(problem["layers"], problem["torchActivation"])
        json.dump({k: v.tolist() for k, v in net.state_dict().items()}, open(sd_path, "w"))
        time_input = problem["timeInput"]
    print(json.dumps({"solver": SOLVER, "torch": torch.__version__, "y": solve(net, time_input, problem)}))


if __name__ == "__main__":
    main()
