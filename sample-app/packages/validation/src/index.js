// Request validation shared by the HTTP services.
export function requireFields(body, fields) {
  const missing = fields.filter((f) => body?.[f] === undefined || body[f] === '');
  return missing.length ? { ok: false, error: `missing: ${missing.join(', ')}` } : { ok: true };
}
