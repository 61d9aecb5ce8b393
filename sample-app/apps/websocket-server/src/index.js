// Real-time sessions over long-lived connections (Cloud Run: session affinity, timeout up to 3600 s).
import http from 'node:http';
import { createLogger } from '@clone/logger';
import { connect } from '@clone/database';

const log = createLogger('websocket-server');
const port = Number(process.env.PORT ?? 8080);
connect().catch((error) => log.error(`database: ${error.message}`));

const server = http.createServer((req, res) => res.writeHead(req.url === '/health' ? 200 : 426).end());
server.on('upgrade', (req, socket) => {
  socket.end('HTTP/1.1 501 Not Implemented\r\n\r\n');
});
server.listen(port, () => log.info(`listening on ${port}`));
