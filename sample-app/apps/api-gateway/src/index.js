// The public HTTP API. /health answers 200 once the process serves requests (Cloud Run's rollout checks it).
import http from 'node:http';
import { createLogger } from '@clone/logger';
import { requireFields } from '@clone/validation';
import { connect } from '@clone/database';

const log = createLogger('api-gateway');
const port = Number(process.env.PORT ?? 8080);
const db = connect();

http.createServer(async (req, res) => {
  if (req.url === '/health') return res.writeHead(200).end('ok');
  if (req.method === 'POST' && req.url === '/documents') {
    const check = requireFields({}, ['title', 'content']);
    return res.writeHead(check.ok ? 201 : 400).end(JSON.stringify(check));
  }
  await db;
  res.writeHead(404).end();
}).listen(port, () => log.info(`listening on ${port}`));
