// The process-wide list of secret values. Every line a logger writes, every command line the gcloud
// wrapper records and every error message passes through redact(), so a secret that reached the
// process (env file, generated value, Secret Manager read) never reaches a log, a cache file or the screen.
const secrets = new Set<string>();
let pattern: RegExp | null = null;

/** Too-short values would redact ordinary words; real secrets are longer. */
const MIN_SECRET_LENGTH = 6;

export function registerSecret(value: string | undefined): void {
  if (!value || value.length < MIN_SECRET_LENGTH || secrets.has(value)) return;
  secrets.add(value);
  // Longest first, so a secret containing another is replaced whole.
  const escaped = [...secrets].sort((a, b) => b.length - a.length).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  pattern = new RegExp(escaped.join('|'), 'g');
}

export function redact(text: string): string {
  return pattern ? text.replace(pattern, '***') : text;
}

/** Env keys whose values are secrets by name (JWT_SECRET, DATABASE_PASSWORD, API_TOKEN, …). */
export function isSecretKey(key: string): boolean {
  return /(SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE_KEY|API_KEY|CREDENTIALS?)$/.test(key) && key !== 'GOOGLE_APPLICATION_CREDENTIALS';
}
