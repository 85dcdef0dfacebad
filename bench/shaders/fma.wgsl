// Peak float32 FMA rate of the adapter. Each invocation runs CHAINS
// independent vec4 accumulator chains, so consecutive FMAs of one chain never
// wait on each other and the figure is the issue rate, not the latency. The
// loop count and coefficients come from a uniform so the compiler can neither
// fold the loop nor shorten it; the sum is stored so it cannot be removed.
// Specialised by bench/limits.ts (CHAINS, UNROLL, WG).

// Bindings and the structs they use: declared from the bindings record of
// the kernel's definition (bench/limits.ts), numbered in its order.
${BINDINGS}

@compute @workgroup_size(${WG})
fn fma_peak(@builtin(global_invocation_id) gid: vec3<u32>) {
  let s = f32(gid.x) * 1e-9;
  let a = vec4<f32>(P.a);
  let b = vec4<f32>(P.b);
${INIT}
  for (var i = 0u; i < P.iters; i++) {
${BODY}
  }
  sink[gid.x] = ${SUM};
}
