import 'server-only';

import { SignJWT } from 'jose';

import { type Env, getSession, type SessionUser } from './session';

/**
 * The per-request token for the FastAPI service: HS256, signed with the secret both sides share
 * (FASTAPI_JWT_SECRET), carrying `sub`, `org`, `role`, `iat`, a two-minute `exp` and a random
 * `jti`. The service accepts a token with a `jti` only once, so mint one per outgoing call, use
 * it for that call and drop it: it is never stored in a cookie or sent to the browser.
 *
 * The user comes from `getSession()` in ./session.ts, a demo session read from environment
 * variables; Auth.js replaces it (see that file).
 *
 * The secret: FASTAPI_JWT_SECRET. In production it is required, at least 32 bytes and not the
 * development secret (the Python service refuses the same). Outside production, when it is
 * unset, this falls back to the Python service's built-in development secret (DEV_JWT_SECRET in
 * app/config.py) with a loud warning, so `make run` + `next dev` work with no setup.
 *
 * Optional: FASTAPI_JWT_AUDIENCE / FASTAPI_JWT_ISSUER add `aud` / `iss`, for a service that
 * sets JWT_AUDIENCE / JWT_ISSUER.
 */

/** The Python service's development secret (app/config.py): never valid in production. */
export const DEV_JWT_SECRET = 'dev-only-insecure-secret-change-me-0123456789';
export const MIN_SECRET_BYTES = 32;
export const TOKEN_LIFETIME_SECONDS = 120;

/** No signed-in user: the route answers 401. */
export class UnauthenticatedError extends Error {
  constructor(message = 'not signed in') {
    super(message);
    this.name = 'UnauthenticatedError';
  }
}

/** The server is misconfigured (no usable secret): the route answers 500. */
export class TokenConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenConfigError';
  }
}

let warnedAboutDevSecret = false;

export function fastapiSecret(env: Env = process.env): Uint8Array {
  const configured = env.FASTAPI_JWT_SECRET;
  const production = env.NODE_ENV === 'production';
  if (configured) {
    const bytes = new TextEncoder().encode(configured);
    if (production && configured === DEV_JWT_SECRET) {
      throw new TokenConfigError('FASTAPI_JWT_SECRET must not be the development secret in production');
    }
    if (production && bytes.length < MIN_SECRET_BYTES) {
      throw new TokenConfigError(
        `FASTAPI_JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes in production`,
      );
    }
    return bytes;
  }
  if (production) {
    throw new TokenConfigError('FASTAPI_JWT_SECRET is required in production');
  }
  if (!warnedAboutDevSecret) {
    warnedAboutDevSecret = true;
    console.warn(
      '\n*** FASTAPI_JWT_SECRET is not set: signing FastAPI tokens with the built-in DEVELOPMENT ' +
        'secret. Anyone can mint tokens with it. Never run like this in production. ***\n',
    );
  }
  return new TextEncoder().encode(DEV_JWT_SECRET);
}

export interface MintOptions {
  /** Defaults to fastapiSecret() (FASTAPI_JWT_SECRET). */
  secret?: Uint8Array;
  /** Seconds until `exp`; the service refuses lifetimes over JWT_MAX_LIFETIME_SECONDS (300). */
  lifetimeSeconds?: number;
  env?: Env;
}

export async function mintFastAPIToken(user: SessionUser, options: MintOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const secret = options.secret ?? fastapiSecret(env);
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ org: user.orgId, role: user.role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(user.id)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.lifetimeSeconds ?? TOKEN_LIFETIME_SECONDS))
    .setJti(crypto.randomUUID());
  if (env.FASTAPI_JWT_AUDIENCE) jwt.setAudience(env.FASTAPI_JWT_AUDIENCE);
  if (env.FASTAPI_JWT_ISSUER) jwt.setIssuer(env.FASTAPI_JWT_ISSUER);
  return jwt.sign(secret);
}

/** A fresh token for the signed-in user; throws UnauthenticatedError when there is none. */
export async function getFastAPIToken(): Promise<string> {
  const session = await getSession();
  if (!session) throw new UnauthenticatedError();
  return mintFastAPIToken(session.user);
}
