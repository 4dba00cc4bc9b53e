import { once } from 'node:events';
/** Output helpers: human tables by default, JSON for scripts. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface Out {
  json: boolean;
  print(value: unknown, human: () => string): void;
  info(line: string): void;
  /** Writes a large output (an export) piece by piece, waiting whenever stdout's buffer is full. */
  stream(chunks: AsyncIterable<string>): Promise<void>;
}

export function createOut(json: boolean, stdout = process.stdout, stderr = process.stderr): Out {
  return {
    json,
    print(value, human) {
      stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
    },
    info(line) {
      stderr.write(`${line}\n`);
    },
    async stream(chunks) {
      for await (const chunk of chunks) {
        if (!stdout.write(chunk)) await once(stdout, 'drain');
      }
    },
  };
}

export function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cell = (v: unknown) => (v === null || v === undefined ? '-' : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(columns), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n');
}
