/**
 * Node side of the bench sections with a PyTorch + torchdiffeq peer
 * (`peer-torchdiffeq`: bench/torchdiffeq_peer.py; `precision`:
 * bench/precision_peer.py; `flows`: bench/ffjord_peer.py): runs the peer script on the request the page sends,
 * in a child process, and returns its answer, or `{ available: false, reason }`
 * — a missing peer never fails the bench.
 *
 *   WEBODE_TORCHDIFFEQ  the folder holding the `torchdiffeq` package
 *                       (default: ../shared/peers/torchdiffeq from the repository root)
 *   WEBODE_PYTHON       the interpreter (default /usr/bin/python3, where Debian's python3-torch lives)
 *   WEBODE_TORCHDIFFEQ_THREADS  PyTorch's thread counts instead of the page's (2,1): comma-separated, the first
 *                               is the one checked against webode
 *
 * The answer also carries the load average before and after the peer ran:
 * PyTorch's OpenMP threads wait by spinning, so on a busy 2-core machine two
 * threads can be many times slower than one, and the load explains its figures.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');

/** Where the peer is looked for, and with which Python. */
export function torchdiffeqLocation() {
  return {
    path: resolve(root, process.env.WEBODE_TORCHDIFFEQ ?? '../shared/peers/torchdiffeq'),
    python: process.env.WEBODE_PYTHON ?? '/usr/bin/python3',
  };
}

/** Longest the torchdiffeq peer may take for all problems before it is reported unavailable. */
const TIMEOUT_MS = 600_000;

/**
 * Runs the request `{ threads, problems, … }` (see bench/torchdiffeq_peer.py,
 * or the script named: bench/latent_peer.py for the section `latent`) and
 * resolves to the script's answer; never rejects.
 */
export function runTorchdiffeq(request, log = () => {}) {
  return runPythonPeer({ script: 'torchdiffeq_peer.py', tag: 'torchdiffeq: ', timeoutMs: TIMEOUT_MS }, request, log);
}

/**
 * Runs the request of section `precision` (see bench/precision_peer.py: odeint
 * on the work-precision problems at every tolerance, method and dtype) and
 * resolves to its answer; never rejects.
 */
export function runPrecisionPeer(request, log = () => {}) {
  return runPythonPeer({ script: 'precision_peer.py', tag: 'torchdiffeq: ', timeoutMs: TIMEOUT_MS }, request, log);
}

/**
 * Runs the request of section `latent` (see bench/latent_peer.py: 300 and more
 * training iterations of a latent ODE) and resolves to its answer; never rejects.
 */
export function runLatent(request, log = () => {}) {
  return runPythonPeer({ script: 'latent_peer.py', tag: 'torchdiffeq: ', timeoutMs: 1_800_000 }, request, log);
}

/**
 * Runs the request of section `flows` (see bench/ffjord_peer.py: training
 * runs and logProb + backward speed) and resolves to its answer; never rejects.
 * Its training runs take minutes, hence the longer timeout.
 */
export function runFfjord(request, log = () => {}) {
  return runPythonPeer({ script: 'ffjord_peer.py', tag: 'ffjord peer: ', timeoutMs: 3_600_000 }, request, log);
}

/**
 * Runs `bench/<script>` with `request` (a JSON file as its argument) and
 * parses its stdout; stderr lines starting with `tag` are progress.
 */
async function runPythonPeer({ script, tag, timeoutMs }, request, log) {
  const { path, python } = torchdiffeqLocation();
  const unavailable = (reason) => ({ available: false, reason, path, interpreter: python });
  if (!existsSync(join(path, 'torchdiffeq', '__init__.py'))) return unavailable(`no torchdiffeq package in ${path} (set WEBODE_TORCHDIFFEQ)`);
  if (!existsSync(python)) return unavailable(`no Python at ${python} (set WEBODE_PYTHON)`);
  // The request goes through a file: a few hundred kB of parameters and initial states.
  const dir = mkdtempSync(join(os.tmpdir(), 'webode-torchdiffeq-'));
  const file = join(dir, 'request.json');
  const threads = process.env.WEBODE_TORCHDIFFEQ_THREADS;
  writeFileSync(file, JSON.stringify(threads ? { ...request, threads: threads.split(',').map(Number) } : request));
  const loadBefore = os.loadavg();
  try {
    const { code, signal, stdout, stderr, error } = await new Promise((done) => {
      const child = spawn(python, [resolve(here, script), file], {
        env: { ...process.env, PYTHONPATH: [path, process.env.PYTHONPATH].filter(Boolean).join(':') },
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: timeoutMs,
      });
      const out = [];
      let err = '';
      child.stdout.on('data', (d) => out.push(d));
      child.stderr.on('data', (d) => {
        err += d;
        // The script's progress lines ("torchdiffeq: <problem>: <ms>").
        for (const line of String(d).split('\n')) if (line.startsWith(tag)) log(line);
      });
      child.on('error', (e) => done({ error: e, stdout: '', stderr: err }));
      child.on('close', (c, s) => done({ code: c, signal: s, stdout: Buffer.concat(out).toString(), stderr: err }));
    });
    if (error) return unavailable(`cannot start ${python}: ${error.message}`);
    if (code !== 0) {
      const last = stderr.trim().split('\n').filter(Boolean).pop() ?? '';
      return unavailable(`${python} exited with ${signal ?? code}${signal === 'SIGTERM' ? ` (over ${timeoutMs / 1000} s?)` : ''}: ${last}`);
    }
    try {
      return { ...JSON.parse(stdout), path, interpreter: python, loadAverage: { before: loadBefore, after: os.loadavg() } };
    } catch (e) {
      return unavailable(`unreadable answer (${e instanceof Error ? e.message : e})`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
