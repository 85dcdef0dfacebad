// webode: reduces the per-sample solver state to the few numbers the host
// reads between chunks of dispatches: how many samples are still running,
// how many failed, the function-evaluation and step totals, and the first
// sample that has not finished (its index, status and time reached).
//
// `summarize` also zeroes the workgroup count of the indirect dispatches once
// no sample is running. One workgroup; each invocation folds a strided slice
// of the batch, then a tree reduction in workgroup memory. The order of the
// additions is fixed, so the totals are the same on every run.
//
// `probe` (below) is the cheap check between the units of a deferred solve;
// `fold` adds one summary into the report of a deferred solve (a solve that
// returns without reading anything back): totals add up over chunks of
// samples, and the report keeps the first unfinished sample by global index.

// Bindings and the structs they use: declared from the bindings record of
// the kernel's definition (src/kernels/summary.ts), numbered in its order.
${BINDINGS}

${STATUS_CONSTS}

const NO_SAMPLE: u32 = 0xffffffffu;

const WG: u32 = ${WG}u;
// Fields reduced: running, failed, nfe (sum), nfe (max), accepted, rejected,
// first unfinished sample (min).
var<workgroup> acc: array<array<u32, 7>, WG>;

@compute @workgroup_size(${WG})
fn summarize(@builtin(local_invocation_index) lid: u32) {
  var v = array<u32, 7>(0u, 0u, 0u, 0u, 0u, 0u, NO_SAMPLE);
  for (var b = lid; b < S.batch; b += WG) {
    let s = samples[b];
    if (s.status < STATUS_DONE) { v[0] += 1u; }
    if (s.status > STATUS_DONE) { v[1] += 1u; }
    if (s.status != STATUS_DONE) { v[6] = min(v[6], b); }
    v[2] += s.n_fe;
    v[3] = max(v[3], s.n_fe);
    v[4] += s.n_accepted;
    v[5] += s.n_rejected;
  }
  acc[lid] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      let o = acc[lid + stride];
      acc[lid][0] += o[0];
      acc[lid][1] += o[1];
      acc[lid][2] += o[2];
      acc[lid][3] = max(acc[lid][3], o[3]);
      acc[lid][4] += o[4];
      acc[lid][5] += o[5];
      acc[lid][6] = min(acc[lid][6], o[6]);
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    summary.running = acc[0][0];
    summary.failed = acc[0][1];
    summary.nfe_total = acc[0][2];
    summary.nfe_max = acc[0][3];
    summary.accepted = acc[0][4];
    summary.rejected = acc[0][5];
    let first = acc[0][6];
    summary.first_unfinished = first;
    if (first == NO_SAMPLE) {
      summary.first_status = STATUS_DONE;
      summary.first_t = 0.0;
    } else {
      let s = samples[first];
      summary.first_status = s.status;
      summary.first_t = s.t_hi + s.t_lo;
    }
    indirect[0] = select(0u, S.workgroups, acc[0][0] > 0u);
    indirect[1] = 1u;
    indirect[2] = 1u;
    summary.folds = 1u;
  }
}

// `probe`, between the units of a deferred solve: only whether any sample
// still runs (one barrier instead of a reduction), zeroing the workgroup
// count of the next dispatches once none does.
var<workgroup> any_running: atomic<u32>;

@compute @workgroup_size(${PROBE_WG})
fn probe(@builtin(local_invocation_index) lid: u32) {
  var running = false;
  for (var b = lid; b < S.batch; b += ${PROBE_WG}u) {
    if (samples[b].status < STATUS_DONE) {
      running = true;
      break;
    }
  }
  if (running) { atomicOr(&any_running, 1u); }
  workgroupBarrier();
  if (lid == 0u) {
    indirect[0] = select(0u, S.workgroups, atomicLoad(&any_running) != 0u);
    indirect[1] = 1u;
    indirect[2] = 1u;
  }
}

@compute @workgroup_size(1)
fn fold() {
  report.running += summary.running;
  report.failed += summary.failed;
  report.nfe_total += summary.nfe_total;
  report.nfe_max = max(report.nfe_max, summary.nfe_max);
  report.accepted += summary.accepted;
  report.rejected += summary.rejected;
  report.folds += summary.folds;
  if (report.first_unfinished == NO_SAMPLE && summary.first_unfinished != NO_SAMPLE) {
    report.first_unfinished = S.offset + summary.first_unfinished;
    report.first_status = summary.first_status;
    report.first_t = summary.first_t;
  }
}
