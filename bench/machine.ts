import { readFileSync } from "node:fs";
import { arch, cpus, loadavg, release, totalmem, type } from "node:os";

/** The machine a run happened on, printed with every report and stored in its JSON file. */
export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly os: string;
  /** 1, 5 and 15 minute load averages when the run started. */
  readonly loadAtStart: readonly number[];
}

/** The distribution's name when the OS says it (Linux), else the kernel. */
function osName(): string {
  try {
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1];
    if (pretty) return `${pretty} (${type()} ${release()} ${arch()})`;
  } catch {
    // Not Linux, or no os-release: the kernel line is enough.
  }
  return `${type()} ${release()} ${arch()}`;
}

/** 1, 5 and 15 minute load averages, two decimals. */
export const load = (): number[] => loadavg().map((l) => Math.round(l * 100) / 100);

/** Describes this machine now. */
export function machine(): Machine {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? "unknown",
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    os: osName(),
    loadAtStart: load(),
  };
}

/** One line for the console. */
export function describeMachine(m: Machine): string {
  return `machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.os}; load average ${m.loadAtStart.join(" / ")} (1 / 5 / 15 min)`;
}
