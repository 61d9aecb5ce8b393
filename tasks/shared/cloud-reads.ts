// The tasks' reads of Google Cloud, one function per resource: its REST path in one place, the shape its
// answer is checked against, and null when it does not exist. Tasks look before they change anything, and
// poll while they wait; each look is one HTTP request over the run's connection pool, not a gcloud process
// (a second of Python start-up each). The changes themselves stay gcloud commands.
import type { TaskContext } from '../../lib/engine/types.js';
import type { RestCallOptions } from '../../lib/gcp/rest.js';
import * as shapes from '../../lib/gcp/resources.js';

type Reader = Pick<TaskContext, 'rest' | 'project' | 'region'>;
type Options = Pick<RestCallOptions, 'timeoutMs'>;

const seg = encodeURIComponent;
/** IAM's policy version 3 carries conditional bindings; asking for it is what gcloud does. */
const POLICY_V3 = { options: { requestedPolicyVersion: 3 } };

export const readProjectPolicy = (ctx: Reader, opts: Options = {}) =>
  ctx.rest.get('cloudresourcemanager', `v1/projects/${ctx.project}:getIamPolicy`, shapes.iamPolicy, { ...opts, body: POLICY_V3 });

export const listEnabledServices = (ctx: Reader, opts: Options = {}) =>
  ctx.rest.list('serviceusage', `v1/projects/${ctx.project}/services`, 'services', shapes.enabledService, { ...opts, query: { filter: 'state:ENABLED', pageSize: '200' } });

/** `projects/-`: the account is found by its email whatever project it lives in, as gcloud does. */
export const readServiceAccount = (ctx: Reader, email: string) => ctx.rest.get('iam', `v1/projects/-/serviceAccounts/${seg(email)}`, shapes.serviceAccount);

export const listServiceAccounts = (ctx: Reader, opts: Options = {}) => ctx.rest.list('iam', `v1/projects/${ctx.project}/serviceAccounts`, 'accounts', shapes.serviceAccount, opts);

export const readBucket = (ctx: Reader, name: string) => ctx.rest.get('storage', `b/${seg(name)}`, shapes.bucket, { query: { projection: 'full' } });
export const listBuckets = (ctx: Reader, opts: Options = {}) => ctx.rest.list('storage', 'b', 'items', shapes.bucket, { ...opts, query: { project: ctx.project, projection: 'full' } });
/** An object's bytes as text (a build's log). */
export const readObjectText = (ctx: Reader, bucket: string, name: string) => ctx.rest.text('storage', `b/${seg(bucket)}/o/${seg(name)}`, { query: { alt: 'media' } });
/** Names and sizes only, a thousand to a page: a bucket's usage adds up every object. */
export const listObjectSizes = (ctx: Reader, bucket: string, opts: Options = {}) =>
  ctx.rest.list('storage', `b/${seg(bucket)}/o`, 'items', shapes.storageObject, { ...opts, query: { fields: 'items(name,size),nextPageToken', maxResults: '1000' } });

const repositoriesPath = (ctx: Reader, location: string) => `v1/projects/${ctx.project}/locations/${location}/repositories`;
export const readRepository = (ctx: Reader, location: string, name: string) => ctx.rest.get('artifactregistry', `${repositoriesPath(ctx, location)}/${seg(name)}`, shapes.repository);
export const listRepositories = (ctx: Reader, location: string, opts: Options = {}) => ctx.rest.list('artifactregistry', repositoriesPath(ctx, location), 'repositories', shapes.repository, opts);
export const listDockerImages = (ctx: Reader, location: string, repository: string, opts: Options = {}) =>
  ctx.rest.list('artifactregistry', `${repositoriesPath(ctx, location)}/${seg(repository)}/dockerImages`, 'dockerImages', shapes.dockerImage, opts);

const secretPath = (ctx: Reader, name: string) => `v1/projects/${ctx.project}/secrets/${seg(name)}`;
export const readSecret = (ctx: Reader, name: string) => ctx.rest.get('secretmanager', secretPath(ctx, name), shapes.secret);
export const readSecretPolicy = (ctx: Reader, name: string) => ctx.rest.get('secretmanager', `${secretPath(ctx, name)}:getIamPolicy`, shapes.iamPolicy);
export const listSecretVersions = (ctx: Reader, name: string, opts: Options = {}) => ctx.rest.list('secretmanager', `${secretPath(ctx, name)}/versions`, 'versions', shapes.secretVersion, opts);
export const listSecrets = (ctx: Reader, opts: Options = {}) => ctx.rest.list('secretmanager', `v1/projects/${ctx.project}/secrets`, 'secrets', shapes.secret, opts);
export const readLatestSecretVersion = (ctx: Reader, name: string) => ctx.rest.get('secretmanager', `${secretPath(ctx, name)}/versions/latest`, shapes.secretVersion);

const instancePath = (ctx: Reader, instance: string) => `sql/v1beta4/projects/${ctx.project}/instances/${seg(instance)}`;
export const listSqlInstances = (ctx: Reader, opts: Options = {}) => ctx.rest.list('sql', `sql/v1beta4/projects/${ctx.project}/instances`, 'items', shapes.sqlInstance, opts);
/** Found in the list, one request too: Cloud SQL may refuse the read of one instance that does not exist as not permitted. */
export const readSqlInstance = async (ctx: Reader, instance: string) => (await listSqlInstances(ctx))?.find((i) => i.name === instance) ?? null;
export const readSqlDatabase = (ctx: Reader, instance: string, database: string) =>
  ctx.rest.get('sql', `${instancePath(ctx, instance)}/databases/${seg(database)}`, shapes.sqlDatabase);
export const listSqlDatabases = (ctx: Reader, instance: string, opts: Options = {}) => ctx.rest.list('sql', `${instancePath(ctx, instance)}/databases`, 'items', shapes.sqlDatabase, opts);

export const readBuild = (ctx: Reader, id: string) => ctx.rest.get('cloudbuild', `v1/projects/${ctx.project}/locations/global/builds/${seg(id)}`, shapes.build);

export const listClusters = (ctx: Reader, opts: Options = {}) => ctx.rest.list('container', `v1/projects/${ctx.project}/locations/-/clusters`, 'clusters', shapes.cluster, opts);
export const listAlertPolicies = (ctx: Reader, opts: Options = {}) => ctx.rest.list('monitoring', `v3/projects/${ctx.project}/alertPolicies`, 'alertPolicies', shapes.alertPolicy, opts);

/** Cloud Run's Knative API, on the region's own host. */
const knative = (ctx: Reader) => `apis/serving.knative.dev/v1/namespaces/${ctx.project}`;
export const readRunService = (ctx: Reader, name: string) => ctx.rest.get('run', `${knative(ctx)}/services/${seg(name)}`, shapes.runService, { region: ctx.region });
export const listRunServices = (ctx: Reader, opts: Options = {}) => ctx.rest.list('run', `${knative(ctx)}/services`, 'items', shapes.runService, { ...opts, region: ctx.region });
export const listRevisions = (ctx: Reader, service: string) =>
  ctx.rest.list('run', `${knative(ctx)}/revisions`, 'items', shapes.revision, { region: ctx.region, query: { labelSelector: `serving.knative.dev/service=${service}` } });
