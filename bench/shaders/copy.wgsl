// Storage-buffer copy bandwidth: each invocation copies vec4s with a grid
// stride (the buffer is larger than one dispatch dimension allows), reading
// one buffer and writing another. Specialised by bench/limits.ts (WG).

${PARAMS_STRUCT}

@group(0) @binding(0) var<uniform> P: CopyParams;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(${WG})
fn copy(@builtin(global_invocation_id) gid: vec3<u32>) {
  for (var i = gid.x; i < P.count; i += P.stride) {
    dst[i] = src[i];
  }
}
