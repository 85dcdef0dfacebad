// webode: the latent ODE's posterior q(z0 | x) = N(μ, σ²) on the GPU —
// noise, reparameterisation, the KL term against N(0, I) and its gradients.
//
// head [B][2L] holds each series' encoder output: μ (the first L values)
// then log σ (the next L). Samples are sample-major: z0 row s·B + b is
// sample s of series b.
//
// `noise`: ε[i] ~ N(0, 1) for i < S·B·L by Box–Muller from two PCG draws,
//   pcg(pcg(pcg(seed) + draw) + 2i) and … + 2i + 1, each turned into a
//   uniform in (0, 1) from its top 24 bits (never 0: the log stays finite).
// `reparam`: z0[s·B + b][l] = μ[b][l] + exp(log σ[b][l]) · ε[s·B·L + b·L + l].
// `kl`: one workgroup sums, in a fixed order, the analytic
//   KL(N(μ, σ²) ‖ N(0, 1)) = ½(σ² + μ² − 1) − log σ over every (b, l), and
//   writes stats = [loss, nll, kl, β] with kl = scale · Σ KL, nll = the
//   likelihood loss's value (read from `nll`), loss = nll + β · kl.
// `reparam_backward` (S = 1): from dL/dz0 and the KL weight β · scale,
//   dL/dμ = dL/dz0 + β·scale·μ,
//   dL/dlog σ = dL/dz0 · ε · σ + β·scale·(σ² − 1),
//   written into dhead [B][2L] (the encoder head's output gradient).
//
// Specialised by src/kernels/latent.ts (workgroup size only).

${BINDINGS}

const WG: u32 = ${WG}u;
var<workgroup> sums: array<f32, WG>;

// The PCG hash (src/wgsl/pcg.ts).
${PCG}

fn unit(h: u32) -> f32 {
  return (f32(h >> 8u) + 0.5) * (1.0 / 16777216.0);
}

@compute @workgroup_size(WG)
fn noise(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= P.samples * P.batch * P.latent) { return; }
  let base = pcg(pcg(P.seed) + P.draw);
  let u1 = unit(pcg(base + 2u * i));
  let u2 = unit(pcg(base + 2u * i + 1u));
  // cos(2π u2) = −cos(2π u2 − π): WGSL bounds cos's error (2^-11 absolute) on [−π, π] only.
  eps[i] = -sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2 - 3.141592653589793);
}

@compute @workgroup_size(WG)
fn reparam(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let BL = P.batch * P.latent;
  if (i >= P.samples * BL) { return; }
  let r = i % BL;
  let b = r / P.latent;
  let l = r % P.latent;
  let mu = head[b * 2u * P.latent + l];
  let logsig = head[b * 2u * P.latent + P.latent + l];
  z0[i] = mu + exp(logsig) * eps[i];
}

@compute @workgroup_size(WG)
fn kl(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var r = lid; r < P.batch * P.latent; r += WG) {
    let b = r / P.latent;
    let l = r % P.latent;
    let mu = head[b * 2u * P.latent + l];
    let logsig = head[b * 2u * P.latent + P.latent + l];
    s += 0.5 * (exp(2.0 * logsig) + mu * mu - 1.0) - logsig;
  }
  sums[lid] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) { sums[lid] += sums[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let k = P.scale * sums[0];
    let n = nll[0];
    stats[0] = n + P.beta * k;
    stats[1] = n;
    stats[2] = k;
    stats[3] = P.beta;
  }
}

@compute @workgroup_size(WG)
fn reparam_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.x;
  if (r >= P.batch * P.latent) { return; }
  let b = r / P.latent;
  let l = r % P.latent;
  let im = b * 2u * P.latent + l;
  let mu = head[im];
  let logsig = head[im + P.latent];
  let sig = exp(logsig);
  let w = P.beta * P.scale;
  let g = dz0[r];
  dhead[im] = g + w * mu;
  dhead[im + P.latent] = g * eps[r] * sig + w * (sig * sig - 1.0);
}
