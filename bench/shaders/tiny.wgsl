// The smallest useful dispatch: one invocation writes one word. Used to
// measure the fixed cost of a dispatch inside a pass and of a submit, which
// is what per-step host control would pay on every step.

@group(0) @binding(0) var<storage, read_write> sink: array<u32>;

@compute @workgroup_size(1)
fn tiny() {
  sink[0] = sink[0] + 1u;
}
