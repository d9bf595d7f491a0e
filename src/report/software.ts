// What software produced a run, for the record: bench version and git commit, Node, and the
// versions of the libraries that talk to hardware or shape results.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SoftwareInfo } from './record.ts';

/** The package root (the folder holding package.json, bench/, rigs/). */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const TRACKED = ['commander', 'influx', 'yaml', 'zod', 'tsx', 'ws', 'fastify', 'serialport', 'modbus-serial', 'socketcan', 'mqtt', 'candied', '@noble/curves'];

function version(pkgJson: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(pkgJson, 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

export function softwareInfo(): SoftwareInfo {
  const packages: Record<string, string> = {};
  for (const name of TRACKED) {
    const v = version(path.join(PACKAGE_ROOT, 'node_modules', name, 'package.json'));
    if (v) packages[name] = v;
  }
  let gitSha: string | undefined;
  try {
    gitSha = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 }).toString().trim() || undefined;
  } catch {
    gitSha = undefined;
  }
  return {
    benchVersion: version(path.join(PACKAGE_ROOT, 'package.json')) ?? '0.0.0',
    ...(gitSha ? { gitSha } : {}),
    node: process.version,
    packages,
  };
}

export function hostInfo(): { hostname: string; platform: string } {
  return { hostname: os.hostname(), platform: `${process.platform}-${process.arch}` };
}
