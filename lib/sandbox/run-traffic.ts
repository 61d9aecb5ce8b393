// Cloud Run traffic: what `spec.traffic` resolves to (status.traffic), its validation, and which revision
// serves a request. A request to the service URL goes to the target with the highest percent (ties: the
// newest revision) — deterministic, so health checks see one revision; a tag URL goes to its tag's revision.

export interface TrafficTarget {
  revisionName?: string;
  latestRevision?: boolean;
  percent?: number;
  tag?: string;
  url?: string;
}

export interface RevisionView {
  name: string;
  generation: number;
  state: 'pending' | 'ready' | 'failed';
  /** Why it failed (Ready False message), when failed. */
  message?: string;
}

const TAG = /^[a-z]([-a-z0-9]{0,45}[a-z0-9])?$/;

/** Checks `spec.traffic` as the API does; `known` are the revisions that exist (or are being created). */
export function validateTraffic(traffic: TrafficTarget[], known: Set<string>): string | null {
  let total = 0;
  const tags = new Set<string>();
  for (const [i, t] of traffic.entries()) {
    const field = `spec.traffic[${i}]`;
    if (t.latestRevision && t.revisionName) return `${field}: may not set revisionName when latestRevision is true`;
    if (!t.latestRevision && !t.revisionName) return `${field}: either revisionName or latestRevision must be set`;
    if (t.revisionName && !known.has(t.revisionName)) return `${field}.revisionName: Revision '${t.revisionName}' referenced in traffic not found.`;
    if (t.percent !== undefined && (!Number.isInteger(t.percent) || t.percent < 0 || t.percent > 100)) return `${field}.percent: must be an integer between 0 and 100`;
    if (t.tag !== undefined) {
      if (!TAG.test(t.tag)) return `${field}.tag: '${t.tag}' must start with a lowercase letter and contain only lowercase letters, digits and hyphens`;
      if (tags.has(t.tag)) return `${field}.tag: duplicate tag '${t.tag}'`;
      tags.add(t.tag);
    }
    total += t.percent ?? 0;
  }
  if (total !== 100) return `spec.traffic: the traffic percentages must add up to 100 (got ${total})`;
  return null;
}

export interface ResolvedTraffic {
  targets: TrafficTarget[];
  /** 'True' when every target is on a ready revision, 'Unknown' while one is pending, 'False' (with message) otherwise. */
  status: 'True' | 'Unknown' | 'False';
  message?: string;
}

/** status.traffic: `latestRevision` targets point at the latest ready revision. */
export function resolveTraffic(spec: TrafficTarget[], revisions: Map<string, RevisionView>, latestReady: string | undefined, urlOfTag: (tag: string) => string): ResolvedTraffic {
  const targets: TrafficTarget[] = [];
  let status: ResolvedTraffic['status'] = 'True';
  let message: string | undefined;
  for (const t of spec) {
    const name = t.latestRevision ? latestReady : t.revisionName;
    const rev = name ? revisions.get(name) : undefined;
    if (!rev || rev.state === 'failed') {
      if (t.latestRevision && !latestReady) {
        status = status === 'False' ? 'False' : 'Unknown';
      } else {
        status = 'False';
        message ??= rev ? `Revision '${rev.name}' is not ready and cannot serve traffic. ${rev.message ?? ''}`.trim() : `Revision '${name}' referenced in traffic not found.`;
      }
      continue;
    }
    if (rev.state === 'pending' && status === 'True') status = 'Unknown';
    const out: TrafficTarget = { revisionName: rev.name };
    if (t.percent) out.percent = t.percent;
    if (t.latestRevision) out.latestRevision = true;
    if (t.tag) {
      out.tag = t.tag;
      out.url = urlOfTag(t.tag);
    }
    targets.push(out);
  }
  return { targets, status, message };
}

/** The revision a request to the service URL (no tag) or to a tag URL reaches, if any. */
export function pickRevision(targets: TrafficTarget[], revisions: Map<string, RevisionView>, tag?: string): string | undefined {
  if (tag) return targets.find((t) => t.tag === tag)?.revisionName;
  const serving = targets.filter((t) => (t.percent ?? 0) > 0 && t.revisionName);
  serving.sort((a, b) => (b.percent ?? 0) - (a.percent ?? 0) || (revisions.get(b.revisionName!)?.generation ?? 0) - (revisions.get(a.revisionName!)?.generation ?? 0));
  return serving[0]?.revisionName;
}
