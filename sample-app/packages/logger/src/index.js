// Structured logging: one JSON line per message in production (LOG_FORMAT=json), plain text otherwise.
const levels = ['debug', 'info', 'warn', 'error'];

export function createLogger(service) {
  const min = levels.indexOf(process.env.LOG_LEVEL ?? 'info');
  const json = process.env.LOG_FORMAT === 'json';
  const write = (level) => (message, fields = {}) => {
    if (levels.indexOf(level) < min) return;
    const line = json
      ? JSON.stringify({ severity: level.toUpperCase(), service, message, ...fields })
      : `${level} [${service}] ${message}`;
    (level === 'error' ? process.stderr : process.stdout).write(line + '\n');
  };
  return Object.fromEntries(levels.map((level) => [level, write(level)]));
}
