// An embedded PostgreSQL server with pgvector: PGlite (PostgreSQL compiled to WASM, data kept in a folder)
// served over the PostgreSQL wire protocol by @electric-sql/pglite-socket, behind a small front that does
// what pglite-socket does not: password authentication (md5), the user/database check and a connection limit.
//
//   client ──TCP host:port──▶ front (startup, md5 password, checks) ──unix socket──▶ PGLiteSocketServer ──▶ PGlite
//
// After a successful handshake the front replays the client's startup message to PGlite (which answers
// AuthenticationOk, ParameterStatus…, ReadyForQuery) and then just pipes bytes both ways. The inner unix socket
// lives in a private temp folder, so nobody can bypass the front.
//
// PGlite is a single database: it ignores the user and database named in the startup message (every session is
// `postgres` in database `postgres`). The front therefore decides which database names are accepted (`database`,
// `postgres`, and whatever `acceptDatabase` allows); all of them reach the same data.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedPostgresOptions {
  /** Address to listen on (a loopback address: 127.0.0.1, 127.0.0.10, …). */
  host: string;
  /** TCP port; 0 = any free port. */
  port: number;
  /** Folder holding the database files (created when missing). */
  dataDir: string;
  /**
   * Password clients must give (md5 authentication). Either the password itself or, as in PostgreSQL's
   * `CREATE ROLE … PASSWORD 'md5…'`, its hash `'md5' + md5(password + user)`. Omitted = no password (trust).
   */
  password?: string;
  /** The one user accepted (default `postgres`). */
  user?: string;
  /** Database name used in `url` (default `postgres`). */
  database?: string;
  /** Extra database names accepted at connection time (the sandbox passes the databases created through its API). */
  acceptDatabase?: (name: string) => boolean;
  /** Simultaneous client connections (default 20). */
  maxConnections?: number;
  /** Called as soon as the address is bound (clients may connect; they wait until the database is ready). */
  onListening?: (port: number) => void;
}

export interface EmbeddedPostgres {
  host: string;
  port: number;
  /** `postgres://user[:password]@host:port/database` (the password only when it was given in clear). */
  url: string;
  /** Changes the accepted password (same forms as the option) for new connections. */
  setPassword(password: string | undefined): void;
  /** Closes every connection and the database (files stay in dataDir). Idempotent. */
  stop(): Promise<void>;
}

/** Raised when host:port is already taken; `code` is 'EADDRINUSE' like Node's own error. */
export class PortInUseError extends Error {
  readonly code = 'EADDRINUSE';
  constructor(readonly host: string, readonly port: number) {
    super(`${host}:${port} is already in use by another program`);
  }
}

/** PostgreSQL's stored form of an md5 password: 'md5' + md5(password + user). */
export function md5PasswordHash(password: string, user: string): string {
  return isMd5Hash(password) ? password : 'md5' + md5hex(password + user);
}

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const user = opts.user ?? 'postgres';
  const database = opts.database ?? 'postgres';
  const maxConnections = opts.maxConnections ?? 20;
  let passwordHash = opts.password === undefined ? undefined : md5PasswordHash(opts.password, user);

  const clients = new Set<net.Socket>();
  let inner: { socketPath: string; db: PGlite; server: PGLiteSocketServer } | undefined;
  let ready: Promise<void> = Promise.resolve();

  const front = net.createServer((socket) => {
    if (clients.size >= maxConnections) {
      socket.end(errorResponse('53300', 'sorry, too many clients already'));
      return;
    }
    clients.add(socket);
    socket.on('close', () => clients.delete(socket));
    socket.on('error', () => socket.destroy());
    handshake(socket, {
      user,
      passwordHash: () => passwordHash,
      acceptDatabase: (name) => name === database || name === 'postgres' || (opts.acceptDatabase?.(name) ?? false),
      connectInner: async () => {
        await ready;
        if (!inner) throw new Error('the database is shutting down');
        return net.connect(inner.socketPath);
      },
    });
  });

  const port = await listen(front, opts.host, opts.port);
  opts.onListening?.(port);
  ready = (async () => {
    fs.mkdirSync(opts.dataDir, { recursive: true });
    const socketDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-embedded-'));
    const socketPath = path.join(socketDir, 'pglite.sock');
    const db = await PGlite.create({ dataDir: opts.dataDir, extensions: { vector } });
    // maxConnections + 1: the front already enforces the limit with PostgreSQL's own error message.
    const server = new PGLiteSocketServer({ db, path: socketPath, maxConnections: maxConnections + 1 });
    await server.start();
    inner = { socketPath, db, server };
  })();
  try {
    await ready;
  } catch (err) {
    await new Promise<void>((resolve) => front.close(() => resolve()));
    throw err;
  }

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await new Promise<void>((resolve) => {
        front.close(() => resolve());
        for (const socket of clients) socket.destroy();
      });
      const current = inner;
      inner = undefined;
      if (!current) return;
      await current.server.stop();
      await current.db.close();
      fs.rmSync(path.dirname(current.socketPath), { recursive: true, force: true });
    })();
    return stopping;
  };

  const auth = opts.password !== undefined && !isMd5Hash(opts.password) ? `${encodeURIComponent(user)}:${encodeURIComponent(opts.password)}@` : `${encodeURIComponent(user)}@`;
  return {
    host: opts.host,
    port,
    url: `postgres://${auth}${opts.host}:${port}/${encodeURIComponent(database)}`,
    setPassword(password) {
      passwordHash = password === undefined ? undefined : md5PasswordHash(password, user);
    },
    stop,
  };
}

function listen(server: net.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new PortInUseError(host, port) : err);
    });
    server.listen(port, host, () => resolve((server.address() as net.AddressInfo).port));
  });
}

// ---- The startup phase of the PostgreSQL protocol (v3) ----

const PROTOCOL_V3 = 196608;
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;

interface HandshakeOptions {
  user: string;
  passwordHash: () => string | undefined;
  acceptDatabase: (name: string) => boolean;
  connectInner: () => Promise<net.Socket>;
}

/** Reads the startup packet, authenticates, then hands the connection over to PGlite. */
function handshake(socket: net.Socket, opts: HandshakeOptions): void {
  let buffered = Buffer.alloc(0);
  let startup: { raw: Buffer; params: Record<string, string> } | undefined;
  let salt: Buffer | undefined;
  let done = false;

  const fail = (code: string, message: string) => {
    done = true;
    socket.removeListener('data', onData);
    socket.end(errorResponse(code, message));
  };

  const admit = async () => {
    done = true;
    socket.removeListener('data', onData);
    socket.pause();
    const params = startup!.params;
    const database = params.database || params.user;
    if (!opts.acceptDatabase(database)) return fail('3D000', `database "${database}" does not exist`);
    let upstream: net.Socket;
    try {
      upstream = await opts.connectInner();
    } catch {
      return fail('57P03', 'the database system is not accepting connections');
    }
    upstream.on('error', () => socket.destroy());
    upstream.on('close', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
    upstream.write(startup!.raw);
    if (buffered.length) upstream.write(buffered);
    socket.pipe(upstream);
    upstream.pipe(socket);
    socket.resume();
  };

  const onData = (chunk: Buffer) => {
    if (done) return;
    buffered = Buffer.concat([buffered, chunk]);
    while (!done) {
      if (!startup) {
        if (buffered.length < 8) return;
        const length = buffered.readInt32BE(0);
        const code = buffered.readInt32BE(4);
        if (length < 8 || length > 10_000) return fail('08P01', 'invalid length of startup packet');
        if (buffered.length < length) return;
        const packet = buffered.subarray(0, length);
        buffered = buffered.subarray(length);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          socket.write('N'); // no TLS / GSS encryption: the client goes on in clear (loopback only)
          continue;
        }
        if (code === CANCEL_REQUEST) {
          done = true; // PGlite has no backend to signal; the protocol expects no answer
          socket.end();
          return;
        }
        if (code !== PROTOCOL_V3) return fail('0A000', `unsupported frontend protocol ${code >> 16}.${code & 0xffff}: server supports 3.0`);
        startup = { raw: Buffer.from(packet), params: parseStartupParams(packet.subarray(8)) };
        const user = startup.params.user ?? '';
        const hash = opts.passwordHash();
        if (hash === undefined) {
          if (user !== opts.user) return fail('28000', `role "${user}" does not exist`);
          void admit();
          return;
        }
        salt = randomBytes(4);
        socket.write(message('R', Buffer.concat([int32(5), salt]))); // AuthenticationMD5Password
        continue;
      }
      // Waiting for the PasswordMessage ('p').
      if (buffered.length < 5) return;
      const length = buffered.readInt32BE(1);
      if (buffered.length < 1 + length) return;
      const type = String.fromCharCode(buffered[0]);
      const body = buffered.subarray(5, 1 + length);
      buffered = buffered.subarray(1 + length);
      const user = startup.params.user ?? '';
      if (type !== 'p') return fail('08P01', `expected password response, got message type ${type}`);
      const given = body.toString('utf8').replace(/\0$/, '');
      const hash = opts.passwordHash();
      const expected = hash === undefined ? undefined : 'md5' + md5hex(Buffer.concat([Buffer.from(hash.slice(3)), salt!]));
      if (user !== opts.user || given !== expected) return fail('28P01', `password authentication failed for user "${user}"`);
      void admit();
      return;
    }
  };
  socket.on('data', onData);
}

function parseStartupParams(body: Buffer): Record<string, string> {
  const parts = body.toString('utf8').split('\0');
  const params: Record<string, string> = {};
  for (let i = 0; i + 1 < parts.length && parts[i] !== ''; i += 2) params[parts[i]] = parts[i + 1];
  return params;
}

/** ErrorResponse with severity FATAL, as a server sends it before closing a connection. */
function errorResponse(sqlState: string, text: string): Buffer {
  const field = (code: string, value: string) => Buffer.from(`${code}${value}\0`, 'utf8');
  return message('E', Buffer.concat([field('S', 'FATAL'), field('V', 'FATAL'), field('C', sqlState), field('M', text), Buffer.from([0])]));
}

function message(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(type), int32(body.length + 4), body]);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function md5hex(data: string | Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

function isMd5Hash(value: string): boolean {
  return /^md5[0-9a-f]{32}$/.test(value);
}
