// webode: one optimizer step on a parameter vector, in place, one invocation
// per parameter: θ ← update(θ, g, state). The update follows PyTorch's
// torch.optim formulas (see src/kernels/optim.ts); the step counter, bias
// corrections and hyperparameters come from the host in the uniform, so the
// step needs no readback.
//
// Specialised by src/kernels/optim.ts: the optimizer's uniform struct and
// update function.

${PARAMS_STRUCT}

@group(0) @binding(0) var<uniform> O: OptimParams;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
// Optimizer state: SGD's momentum buffer; Adam's exp_avg and exp_avg_sq.
@group(0) @binding(3) var<storage, read_write> s1: array<f32>;
@group(0) @binding(4) var<storage, read_write> s2: array<f32>;

${UPDATE}

@compute @workgroup_size(${WG})
fn optimize(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x >= O.n) { return; }
  update(gid.x);
}
