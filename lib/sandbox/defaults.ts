// The project and region a sandbox serves unless told otherwise. A module of its own: finding a running
// sandbox (connect.ts) needs these and nothing of the server.
export const DEFAULT_PROJECT = 'digitwin-sandbox';
export const DEFAULT_REGION = 'us-central1';
