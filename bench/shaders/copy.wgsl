// Storage-buffer copy bandwidth: each invocation copies vec4s with a grid
// stride (the buffer is larger than one dispatch dimension allows), reading
// one buffer and writing another. Specialised by bench/limits.ts (WG).

// Bindings and the structs they use: declared from the bindings record of
// the kernel's definition (bench/limits.ts), numbered in its order.
${BINDINGS}

@compute @workgroup_size(${WG})
fn copy(@builtin(global_invocation_id) gid: vec3<u32>) {
  for (var i = gid.x; i < P.count; i += P.stride) {
    dst[i] = src[i];
  }
}
