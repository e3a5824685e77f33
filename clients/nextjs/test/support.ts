// Real processes for the tests: the Python service (uvicorn, SQLite), the repo's
// OpenAI-compatible test server, and `next start`. Every process started here is killed when
// the test that started it ends, and on any exit of the test process.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { mintFastAPIToken } from '@/lib/fastapi-token';
import type { SessionUser } from '@/lib/session';

export const KIT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = resolve(KIT, '..', '..');
export const PYTHON = process.env.PYTHON ?? join(ROOT, '.venv', 'bin', 'python');

/** The secret the tests share between the Python service and the kit (32+ bytes). */
export const SECRET = 'contract-test-secret-0123456789-abcdefghijklmnop';
export const USER: SessionUser = { id: 'kit-user', orgId: 'kit-org', role: 'analyst' };

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** The environment minus the service's own settings, so nothing leaks in from the caller. */
export function cleanEnv(overrides: Record<string, string>): NodeJS.ProcessEnv {
  const prefixes = ['APP_', 'FASTAPI_', 'DATABASE_', 'CORS_', 'JWT_', 'LLM_', 'OPENAI_', 'AZURE_', 'DEMO_'];
  const env: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!prefixes.some((prefix) => key.startsWith(prefix))) env[key] = value;
  }
  return { ...env, ...overrides } as NodeJS.ProcessEnv;
}

export interface Proc {
  child: ChildProcess;
  log: string;
  stop(): Promise<void>;
  output(): Promise<string>;
}

export function start(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; log: string; readStdout?: boolean },
): Proc {
  const log = createWriteStream(options.log);
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.stderr?.pipe(log, { end: false });
  if (!options.readStdout) child.stdout?.pipe(log, { end: false });
  const exited = once(child, 'exit');
  return {
    child,
    log: options.log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      children.delete(child);
      log.end();
    },
    async output() {
      return readFile(options.log, 'utf8').catch(() => '');
    },
  };
}

async function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (out += chunk));
  const [code] = await once(child, 'exit');
  children.delete(child);
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${code}:\n${out}`);
  return out;
}

async function waitFor(url: string, proc: Proc, timeoutMs: number, ok = (status: number) => status === 200) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) {
      throw new Error(`${url}: the process exited early:\n${await proc.output()}`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (ok(response.status)) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready in ${timeoutMs} ms:\n${await proc.output()}`);
}

export interface Service {
  baseUrl: string;
  dir: string;
  proc: Proc;
  stop(): Promise<void>;
}

/**
 * The Python service on a free port with its own SQLite database, migrated first, started with
 * `APP_ENV=test` and the shared secret; resolves once `/ready` answers 200.
 */
export async function startService(extraEnv: Record<string, string> = {}): Promise<Service> {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} not found: run \`uv sync\` (make install) first`);
  const dir = await mkdtemp(join(tmpdir(), 'kit-service-'));
  const env = cleanEnv({
    APP_ENV: 'test',
    FASTAPI_JWT_SECRET: SECRET,
    DATABASE_URL: `sqlite+aiosqlite:///${join(dir, 'service.db')}`,
    USER_REQUESTS_PER_MINUTE: '1000',
    ...extraEnv,
  });
  await run(PYTHON, ['-m', 'alembic', 'upgrade', 'head'], ROOT, env);
  const port = await freePort();
  const proc = start(
    PYTHON,
    ['-m', 'uvicorn', 'app.main:app', '--host', '127.0.0.1', '--port', String(port)],
    { cwd: ROOT, env, log: join(dir, 'service.log') },
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`${baseUrl}/ready`, proc, 60_000);
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return {
    baseUrl,
    dir,
    proc,
    async stop() {
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The repo's OpenAI-compatible test server answering `textFile` in paced chunks. */
export async function startModelServer(textFile: string, log: string, delay = 0.03): Promise<{ baseUrl: string; proc: Proc }> {
  const proc = start(
    PYTHON,
    [join(ROOT, 'devtools', 'openai_server.py'), '--port', '0', '--text-file', textFile, '--chunk', '8', '--delay', String(delay)],
    { cwd: ROOT, env: cleanEnv({}), log, readStdout: true },
  );
  const lines = createInterface({ input: proc.child.stdout! });
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 30_000);
  const [first] = (await once(lines, 'line')) as [string];
  clearTimeout(timer);
  lines.on('line', () => undefined);
  const baseUrl = first.trim();
  if (!baseUrl.startsWith('http')) throw new Error(`unexpected first line from the test server: ${first}`);
  return { baseUrl, proc };
}

/** `next start` for the built kit, pointed at `service`. */
export async function startNext(serviceUrl: string, log: string): Promise<{ baseUrl: string; proc: Proc }> {
  if (!existsSync(join(KIT, '.next', 'BUILD_ID'))) throw new Error('run `next build` first (npm run build)');
  const port = await freePort();
  const proc = start(
    process.execPath,
    [join(KIT, 'node_modules', 'next', 'dist', 'bin', 'next'), 'start', '--hostname', '127.0.0.1', '--port', String(port)],
    {
      cwd: KIT,
      env: cleanEnv({
        NODE_ENV: 'production',
        NEXT_TELEMETRY_DISABLED: '1',
        FASTAPI_BASE_URL: serviceUrl,
        FASTAPI_JWT_SECRET: SECRET,
        DEMO_USER_ID: USER.id,
        DEMO_ORG_ID: USER.orgId,
        DEMO_ROLE: USER.role,
      }),
      log,
    },
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitFor(baseUrl, proc, 60_000);
  return { baseUrl, proc };
}

/** A fresh token for USER, signed with the test secret, from the kit's own minting code. */
export function token(user: SessionUser = USER, secret = SECRET): Promise<string> {
  return mintFastAPIToken(user, { secret: new TextEncoder().encode(secret), env: {} });
}

export async function api(service: Service, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has('authorization')) headers.set('authorization', `Bearer ${await token()}`);
  if (init.body && !headers.has('content-type')) headers.set('content-type', 'application/json');
  return fetch(`${service.baseUrl}${path}`, { ...init, headers });
}

export async function example(name: string): Promise<string> {
  return readFile(join(ROOT, 'examples', `${name}.txt`), 'utf8');
}

/** The chunks of a fetch() body as text, as they arrive. */
export async function* textChunks(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield decoder.decode(value, { stream: true });
  }
}
