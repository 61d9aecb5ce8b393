// Fault injection, reproducible from a seed: transient 429/503 at a rate, permanent errors on matching
// requests, slow responses, unhealthy Cloud Run images/revisions. Set by SANDBOX_FAULTS (JSON) or
// PUT /__sandbox/faults.
import { z } from 'zod';
import { seededRandom } from './random.js';

const rule = z.object({
  /** Method to match (any when absent). */
  method: z.string().optional(),
  /** Substring of the request path (raw or URL-decoded), e.g. `/repositories/digitwinlive` or `:setIamPolicy`. */
  path: z.string(),
  status: z.number().int().min(400).max(599),
  message: z.string().optional(),
  /** How many times it fires; always when absent. */
  times: z.number().int().positive().optional(),
});

export const faultConfigSchema = z.object({
  /** Seed of the fault decisions; the sandbox's seed when absent. */
  seed: z.number().int().optional(),
  /** Fraction (0..1) of API requests answered with a transient error. */
  transientRate: z.number().min(0).max(1).optional(),
  /** Statuses drawn for transient errors (default 429 and 503). */
  transientStatuses: z.array(z.number().int().min(400).max(599)).optional(),
  /** Only requests whose path contains this substring get transient errors. */
  transientPath: z.string().optional(),
  /** Permanent (or `times`-limited) errors. */
  errors: z.array(rule).optional(),
  /** Extra delay for matching requests. */
  slow: z.array(z.object({ method: z.string().optional(), path: z.string().optional(), ms: z.number().min(0), rate: z.number().min(0).max(1).optional() })).optional(),
  /** Cloud Run health: images (substring of the image reference) and revisions (exact names) that fail. */
  unhealthy: z.object({ images: z.array(z.string()).optional(), revisions: z.array(z.string()).optional() }).optional(),
});

export type FaultConfig = z.infer<typeof faultConfigSchema>;
export interface InjectedError { status: number; message: string }

const STATUS_MESSAGES: Record<number, string> = {
  429: 'Quota exceeded (injected by the sandbox): too many requests, retry later.',
  503: 'The service is currently unavailable (injected by the sandbox).',
};

export class FaultInjector {
  private config: FaultConfig = {};
  private random: () => number = Math.random;
  private fired = new Map<number, number>();

  constructor(private readonly defaultSeed: number, config?: FaultConfig) {
    this.set(config ?? {});
  }

  /** Replaces the configuration (validated) and restarts the seeded sequence. */
  set(config: unknown): FaultConfig {
    const parsed = faultConfigSchema.safeParse(config);
    if (!parsed.success) throw new Error(`Invalid fault configuration: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    this.config = parsed.data;
    this.random = seededRandom(parsed.data.seed ?? this.defaultSeed);
    this.fired.clear();
    return this.config;
  }

  get(): FaultConfig {
    return this.config;
  }

  /** The error to answer instead of handling the request, if any. */
  errorFor(method: string, rawPath: string): InjectedError | null {
    const paths = [rawPath, safeDecode(rawPath)];
    const matches = (path: string | undefined, m?: string) => (!m || m === method) && (!path || paths.some((p) => p.includes(path)));
    for (const [i, r] of (this.config.errors ?? []).entries()) {
      if (!matches(r.path, r.method)) continue;
      const count = this.fired.get(i) ?? 0;
      if (r.times !== undefined && count >= r.times) continue;
      this.fired.set(i, count + 1);
      return { status: r.status, message: r.message ?? `Injected ${r.status} for ${method} ${safeDecode(rawPath)}` };
    }
    const rate = this.config.transientRate ?? 0;
    if (rate > 0 && matches(this.config.transientPath) && this.random() < rate) {
      const statuses = this.config.transientStatuses ?? [429, 503];
      const status = statuses[Math.floor(this.random() * statuses.length)]!;
      return { status, message: STATUS_MESSAGES[status] ?? `Injected transient ${status}.` };
    }
    return null;
  }

  /** Extra delay (ms) for this request. */
  delayFor(method: string, rawPath: string): number {
    let ms = 0;
    for (const s of this.config.slow ?? []) {
      if (s.method && s.method !== method) continue;
      if (s.path && !rawPath.includes(s.path) && !safeDecode(rawPath).includes(s.path)) continue;
      if (s.rate !== undefined && this.random() >= s.rate) continue;
      ms += s.ms;
    }
    return ms;
  }

  isUnhealthy(image: string, revision: string): boolean {
    const u = this.config.unhealthy;
    if (!u) return false;
    return (u.revisions ?? []).includes(revision) || (u.images ?? []).some((i) => image.includes(i));
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Reads SANDBOX_FAULTS (JSON) from the environment; a readable error when it is not valid. */
export function faultsFromEnv(env: NodeJS.ProcessEnv = process.env): FaultConfig | undefined {
  const raw = env.SANDBOX_FAULTS;
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as FaultConfig;
  } catch (err) {
    throw new Error(`SANDBOX_FAULTS is not valid JSON (${(err as Error).message}).`);
  }
}
