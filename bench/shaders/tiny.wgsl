// The smallest useful dispatch: one invocation writes one word. Used to
// measure the fixed cost of a dispatch inside a pass and of a submit, which
// is what per-step host control would pay on every step.

// Bindings and the structs they use: declared from the bindings record of
// the kernel's definition (bench/limits.ts), numbered in its order.
${BINDINGS}

@compute @workgroup_size(1)
fn tiny() {
  sink[0] = sink[0] + 1u;
}
