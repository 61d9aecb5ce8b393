// The settings every service reads from its environment (Cloud Run sets them from the env file and Secret Manager).
export function loadConfig(env = process.env) {
  return {
    port: Number(env.PORT ?? 8080),
    nodeEnv: env.NODE_ENV ?? 'development',
    projectId: env.GCP_PROJECT_ID,
    region: env.GCP_REGION,
    urls: {
      apiGateway: env.API_GATEWAY_URL,
      websocket: env.WEBSOCKET_URL,
      faceProcessing: env.FACE_PROCESSING_URL,
    },
    debugEndpoints: env.ENABLE_DEBUG_ENDPOINTS === 'true',
  };
}
