// Face model processing: reads uploads from Cloud Storage and writes models back.
import http from 'node:http';
import { createLogger } from '@clone/logger';
import { loadConfig } from '@clone/config';

const log = createLogger('face-processing-service');
const config = loadConfig();

http.createServer((req, res) => {
  res.writeHead(req.url === '/health' ? 200 : 404).end(req.url === '/health' ? 'ok' : '');
}).listen(config.port, () => log.info(`listening on ${config.port}`));
