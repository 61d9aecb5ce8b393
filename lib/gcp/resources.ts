// The shapes of the Google Cloud answers the tasks read, checked at the boundary: rest.ts validates every
// item, gcloud.read its JSON output (mostly the REST resource itself; gcloud's own list formats are marked).
// Only the fields a task uses are named; the rest passes through untouched. 64-bit integers arrive as JSON
// strings, so sizes are string-or-number.
import { z } from 'zod';

const int64 = z.union([z.string(), z.number()]).optional();
const labels = z.record(z.string(), z.string()).optional();

/** Service Usage: `GET v1/projects/{p}/services?filter=state:ENABLED`. */
export const enabledService = z.looseObject({ name: z.string().optional(), config: z.looseObject({ name: z.string().optional() }).optional(), state: z.string().optional() });
export type EnabledService = z.infer<typeof enabledService>;

/** Resource Manager: `POST v1/projects/{p}:getIamPolicy`. */
export const iamPolicy = z.looseObject({
  bindings: z.array(z.looseObject({ role: z.string(), members: z.array(z.string()).optional() })).optional(),
  etag: z.string().optional(),
});
export type IamPolicyShape = z.infer<typeof iamPolicy>;

/** Monitoring: `GET v3/projects/{p}/alertPolicies`. */
export const alertPolicy = z.looseObject({ name: z.string().optional(), displayName: z.string().optional(), enabled: z.boolean().optional() });

/** Cloud Run (Knative v1): `GET apis/serving.knative.dev/v1/namespaces/{p}/services` on the regional host, and gcloud's `run services describe/list`. */
const envVar = z.looseObject({
  name: z.string(),
  value: z.string().optional(),
  valueFrom: z.looseObject({ secretKeyRef: z.looseObject({ name: z.string(), key: z.string().optional() }).optional() }).optional(),
});
/** Knative's traffic percent is an int32: a JSON number. */
export const trafficTarget = z.looseObject({
  revisionName: z.string().optional(),
  latestRevision: z.boolean().optional(),
  percent: z.number().optional(),
  tag: z.string().optional(),
  url: z.string().optional(),
});
const condition = z.looseObject({ type: z.string(), status: z.string().optional(), message: z.string().optional() });
/** A container of a revision template (the sandbox reads deploy requests with it too). */
export const runContainer = z.looseObject({ image: z.string().optional(), env: z.array(envVar).optional(), resources: z.looseObject({ limits: labels }).optional() });
export const runService = z.looseObject({
  metadata: z.looseObject({ name: z.string(), labels, annotations: labels }),
  spec: z
    .looseObject({
      template: z
        .looseObject({
          metadata: z.looseObject({ annotations: labels }).optional(),
          spec: z
            .looseObject({
              containers: z.array(runContainer).optional(),
              timeoutSeconds: int64,
              serviceAccountName: z.string().optional(),
            })
            .optional(),
        })
        .optional(),
      traffic: z.array(trafficTarget).optional(),
    })
    .optional(),
  status: z
    .looseObject({
      url: z.string().optional(),
      latestReadyRevisionName: z.string().optional(),
      latestCreatedRevisionName: z.string().optional(),
      conditions: z.array(condition).optional(),
      traffic: z.array(trafficTarget).optional(),
    })
    .optional(),
});
export type RunService = z.infer<typeof runService>;

/** Cloud Run revisions, as `gcloud run revisions list` prints them. */
export const revision = z.looseObject({
  metadata: z.looseObject({ name: z.string(), creationTimestamp: z.string().optional(), labels }),
  spec: z.looseObject({ containers: z.array(z.looseObject({ image: z.string().optional() })).optional() }).optional(),
  status: z.looseObject({ conditions: z.array(condition).optional() }).optional(),
});
export type Revision = z.infer<typeof revision>;

/** GKE: `GET v1/projects/{p}/locations/-/clusters`. */
export const cluster = z.looseObject({
  name: z.string(),
  location: z.string().optional(),
  zone: z.string().optional(),
  status: z.string().optional(),
  currentNodeCount: int64,
  currentMasterVersion: z.string().optional(),
  resourceLabels: labels,
});

/** Cloud SQL instance settings (the sandbox reads insert and patch requests with them too). */
export const sqlSettings = z.looseObject({
  tier: z.string().optional(),
  activationPolicy: z.string().optional(),
  availabilityType: z.string().optional(),
  dataDiskSizeGb: int64,
  dataDiskType: z.string().optional(),
  storageAutoResize: z.boolean().optional(),
  userLabels: labels,
  databaseFlags: z.array(z.looseObject({ name: z.string(), value: z.string() })).optional(),
  maintenanceWindow: z.looseObject({ day: z.number().optional(), hour: z.number().optional() }).optional(),
  backupConfiguration: z.looseObject({ enabled: z.boolean().optional(), startTime: z.string().optional() }).optional(),
  ipConfiguration: z.looseObject({ requireSsl: z.boolean().optional(), sslMode: z.string().optional() }).optional(),
});
/** Cloud SQL Admin v1beta4: `GET sql/v1beta4/projects/{p}/instances`. */
export const sqlInstance = z.looseObject({
  name: z.string(),
  region: z.string().optional(),
  state: z.string().optional(),
  databaseVersion: z.string().optional(),
  connectionName: z.string().optional(),
  ipAddresses: z.array(z.looseObject({ type: z.string().optional(), ipAddress: z.string().optional() })).optional(),
  settings: sqlSettings.optional(),
});
export type SqlInstance = z.infer<typeof sqlInstance>;
export const sqlDatabase = z.looseObject({ name: z.string() });
export const sqlUser = z.looseObject({ name: z.string() });

/** Cloud Storage JSON v1: `GET storage/v1/b?project=` and `GET storage/v1/b/{b}/o`. */
const lifecycleRule = z.looseObject({
  action: z.looseObject({ type: z.string() }),
  condition: z.looseObject({ age: z.number().optional(), matchesPrefix: z.array(z.string()).optional() }),
});
export const bucket = z.looseObject({
  name: z.string(),
  location: z.string().optional(),
  labels,
  lifecycle: z.looseObject({ rule: z.array(lifecycleRule).optional() }).optional(),
  iamConfiguration: z
    .looseObject({ uniformBucketLevelAccess: z.looseObject({ enabled: z.boolean().optional() }).optional(), publicAccessPrevention: z.string().optional() })
    .optional(),
  versioning: z.looseObject({ enabled: z.boolean().optional() }).optional(),
});
export type Bucket = z.infer<typeof bucket>;
export const storageObject = z.looseObject({ name: z.string(), size: int64 });

/** Artifact Registry v1: repositories and their Docker images. */
export const repository = z.looseObject({ name: z.string(), format: z.string().optional(), labels, sizeBytes: int64 });
export const dockerImage = z.looseObject({ name: z.string().optional(), uri: z.string(), tags: z.array(z.string()).optional(), imageSizeBytes: int64 });
export type DockerImage = z.infer<typeof dockerImage>;
/** gcloud's own listing (`artifacts docker images list --include-tags`): tags are a list or a comma-separated string, by version. */
export const dockerImageListing = z.looseObject({ package: z.string().optional(), version: z.string().optional(), tags: z.union([z.array(z.string()), z.string()]).optional() });
export type DockerImageListing = z.infer<typeof dockerImageListing>;

/** Secret Manager v1: secrets and their versions. */
export const secret = z.looseObject({ name: z.string(), labels });
export const secretVersion = z.looseObject({ name: z.string(), state: z.string().optional() });
/** `secrets versions access`: the version's name and its payload, base64. */
export const secretAccess = z.looseObject({ name: z.string().optional(), payload: z.looseObject({ data: z.string().optional() }).optional() });

/** Cloud Build v1: a build (`builds describe`). */
export const build = z.looseObject({
  id: z.string(),
  status: z.string().optional(),
  statusDetail: z.string().optional(),
  failureInfo: z.looseObject({ type: z.string().optional(), detail: z.string().optional() }).optional(),
  logsBucket: z.string().optional(),
  logUrl: z.string().optional(),
  results: z.looseObject({ images: z.array(z.looseObject({ name: z.string().optional(), digest: z.string().optional() })).optional() }).optional(),
  steps: z.array(z.looseObject({ status: z.string().optional() })).optional(),
});
export type Build = z.infer<typeof build>;

/** IAM v1: `GET v1/projects/{p}/serviceAccounts`. */
export const serviceAccount = z.looseObject({ email: z.string(), displayName: z.string().optional(), description: z.string().optional(), disabled: z.boolean().optional() });
