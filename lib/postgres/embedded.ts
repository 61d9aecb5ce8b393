// An embedded PostgreSQL server with pgvector: PGlite (PostgreSQL compiled to WASM, data kept in a folder)
// served over the PostgreSQL wire protocol by @electric-sql/pglite-socket, behind a small front that does
// what pglite-socket does not: password authentication (SCRAM-SHA-256, as Cloud SQL for PostgreSQL 15+), the
// user/database check and a connection limit.
//
//   client ──TCP host:port──▶ front (startup, SCRAM, checks) ──unix socket──▶ PGLiteSocketServer ──▶ PGlite
//
// After a successful handshake the front replays the client's startup message to PGlite (which answers
// AuthenticationOk, ParameterStatus…, ReadyForQuery) and then just pipes bytes both ways. The inner unix socket
// lives in a private temp folder, so nobody can bypass the front.
//
// PGlite is a single database: it ignores the user and database named in the startup message (every session is
// `postgres` in database `postgres`). The front therefore decides which database names are accepted (`database`,
// `postgres`, and whatever `acceptDatabase` allows); all of them reach the same data.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { SCRAM_MECHANISM, ScramExchange, ScramProtocolError, isScramVerifier, scramVerifier } from './scram.js';

export interface EmbeddedPostgresOptions {
  /** Address to listen on (a loopback address: 127.0.0.1, 127.0.0.10, …). */
  host: string;
  /** TCP port; 0 = any free port. */
  port: number;
  /** Folder holding the database files (created when missing). */
  dataDir: string;
  /**
   * Password clients must give (SCRAM-SHA-256). Either the password itself or, as in PostgreSQL's
   * `CREATE ROLE … PASSWORD 'SCRAM-SHA-256$…'`, its verifier (scramVerifier). Omitted = no password (trust).
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

/** The verifier kept for a password (a verifier given instead stays as it is). */
const verifierOf = (password: string | undefined) => (password === undefined || isScramVerifier(password) ? password : scramVerifier(password));

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const user = opts.user ?? 'postgres';
  const database = opts.database ?? 'postgres';
  const maxConnections = opts.maxConnections ?? 20;
  let verifier = verifierOf(opts.password);
  // Another user name goes through the same exchange against a verifier nobody knows the password of, and
  // fails like a wrong password, as PostgreSQL does (a client cannot tell which user names exist).
  const unknownUserVerifier = scramVerifier(randomBytes(24).toString('hex'));

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
      verifier: (name) => (verifier === undefined ? undefined : name === user ? verifier : unknownUserVerifier),
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

  const auth = opts.password !== undefined && !isScramVerifier(opts.password) ? `${encodeURIComponent(user)}:${encodeURIComponent(opts.password)}@` : `${encodeURIComponent(user)}@`;
  return {
    host: opts.host,
    port,
    url: `postgres://${auth}${opts.host}:${port}/${encodeURIComponent(database)}`,
    setPassword(password) {
      verifier = verifierOf(password);
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
  /** The verifier a user must match; undefined = no password asked (trust). */
  verifier: (user: string) => string | undefined;
  acceptDatabase: (name: string) => boolean;
  connectInner: () => Promise<net.Socket>;
}

// Authentication request codes of the 'R' message.
const AUTH_SASL = 10;
const AUTH_SASL_CONTINUE = 11;
const AUTH_SASL_FINAL = 12;

/** Reads the startup packet, authenticates, then hands the connection over to PGlite. */
function handshake(socket: net.Socket, opts: HandshakeOptions): void {
  let buffered = Buffer.alloc(0);
  let startup: { raw: Buffer; params: Record<string, string> } | undefined;
  let exchange: ScramExchange | undefined;
  let mechanismChosen = false;
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

  /** One SASL message from the client ('p'): the initial response naming the mechanism, then the final one. */
  const onSaslMessage = (scram: ScramExchange, body: Buffer, user: string): void => {
    if (!mechanismChosen) {
      const nul = body.indexOf(0);
      const mechanism = body.subarray(0, nul).toString('utf8');
      if (nul < 0 || body.length < nul + 5) return fail('08P01', 'malformed SASLInitialResponse message');
      if (mechanism !== SCRAM_MECHANISM) return fail('08P01', 'client selected an invalid SASL authentication mechanism');
      mechanismChosen = true;
      const length = body.readInt32BE(nul + 1);
      const serverFirst = scram.serverFirstMessage(body.subarray(nul + 5, nul + 5 + Math.max(length, 0)).toString('utf8'));
      socket.write(message('R', Buffer.concat([int32(AUTH_SASL_CONTINUE), Buffer.from(serverFirst)])));
      return;
    }
    const serverFinal = scram.serverFinalMessage(body.toString('utf8'));
    if (serverFinal === undefined) return fail('28P01', `password authentication failed for user "${user}"`);
    socket.write(message('R', Buffer.concat([int32(AUTH_SASL_FINAL), Buffer.from(serverFinal)])));
    void admit();
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
        const verifier = opts.verifier(user);
        if (verifier === undefined) {
          if (user !== opts.user) return fail('28000', `role "${user}" does not exist`);
          void admit();
          return;
        }
        exchange = new ScramExchange(verifier);
        socket.write(message('R', Buffer.concat([int32(AUTH_SASL), Buffer.from(`${SCRAM_MECHANISM}\0\0`)])));
        continue;
      }
      // Waiting for the client's SASL messages ('p').
      if (buffered.length < 5) return;
      const length = buffered.readInt32BE(1);
      if (length < 4 || length > 10_000) return fail('08P01', 'invalid message length');
      if (buffered.length < 1 + length) return;
      const type = String.fromCharCode(buffered[0]!);
      const body = buffered.subarray(5, 1 + length);
      buffered = buffered.subarray(1 + length);
      if (type !== 'p') return fail('08P01', `expected SASL response, got message type ${type}`);
      try {
        onSaslMessage(exchange!, body, startup.params.user ?? '');
      } catch (error) {
        if (!(error instanceof ScramProtocolError)) throw error;
        return fail('08P01', error.message);
      }
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
