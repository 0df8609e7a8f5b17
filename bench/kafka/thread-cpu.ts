// CPU time of this process by kind of thread, from Linux's /proc/self/task/*/stat: the benchmark's
// CPU figure (process.cpuUsage) counts every thread, and this says which ones it went to. V8's own
// platform threads (concurrent marking, parallel scavenging, background compiling) are named
// `V8Worker`; paysignal's processing workers `paysignal-worker-N` (shortened to 15 characters by the
// kernel); the main thread is the one whose id is the process id.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ThreadCpuMs {
  readonly main: number;
  readonly workers: number;
  readonly v8: number;
  readonly other: number;
}

const TASKS = '/proc/self/task';

function clockTicksPerSecond(): number | null {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(ticks) && ticks > 0 ? ticks : null;
  } catch {
    return null;
  }
}

const ticksPerSecond = clockTicksPerSecond();

/** CPU (user + system) per kind of thread so far, in ms; null where /proc or getconf is missing. */
export function threadCpuMs(): ThreadCpuMs | null {
  if (ticksPerSecond === null) return null;
  let tids: string[];
  try {
    tids = readdirSync(TASKS);
  } catch {
    return null;
  }
  let main = 0;
  let workers = 0;
  let v8 = 0;
  let other = 0;
  for (const tid of tids) {
    let stat: string;
    try {
      stat = readFileSync(`${TASKS}/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended between the listing and the read
    }
    // The name sits in parentheses and may itself contain spaces or parentheses: the fields after it
    // start after the last ')'. utime and stime are fields 14 and 15 of the whole line.
    const close = stat.lastIndexOf(')');
    const name = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    const ms = ((Number(fields[11]) + Number(fields[12])) / ticksPerSecond) * 1000;
    if (Number(tid) === process.pid) main += ms;
    else if (name.startsWith('paysignal-work')) workers += ms;
    else if (name === 'V8Worker') v8 += ms;
    else other += ms;
  }
  return { main, workers, v8, other };
}

/** `later` less `earlier`, per kind; null when either is. */
export function threadCpuSince(earlier: ThreadCpuMs | null, later: ThreadCpuMs | null): ThreadCpuMs | null {
  if (earlier === null || later === null) return null;
  return { main: later.main - earlier.main, workers: later.workers - earlier.workers, v8: later.v8 - earlier.v8, other: later.other - earlier.other };
}
