import 'server-only';

/**
 * Who is calling, as the FastAPI service needs to know it: a user id, an organisation and a role.
 *
 * THIS IS A DEMO SESSION. It comes from environment variables so the kit runs with no sign-in:
 *
 *   DEMO_USER_ID   (default `demo-user` outside production)
 *   DEMO_ORG_ID    (default `demo-org` outside production)
 *   DEMO_ROLE      (default `analyst` outside production)
 *
 * In production all three must be set, or there is no session (every call is a 401).
 *
 * In a real app, Auth.js replaces this function. With Auth.js v5 and a session callback that
 * copies `orgId` and `role` onto `session.user`:
 *
 *   import { auth } from '@/auth';
 *
 *   export async function getSession(): Promise<Session | null> {
 *     const session = await auth();
 *     const user = session?.user;
 *     if (!user?.id || !user.orgId || !user.role) return null;
 *     return { user: { id: user.id, orgId: user.orgId, role: user.role } };
 *   }
 */
export interface SessionUser {
  id: string;
  orgId: string;
  role: string;
}

export interface Session {
  user: SessionUser;
}

/** Environment variables, as read here (process.env by default). */
export type Env = Readonly<Record<string, string | undefined>>;

const DEMO_DEFAULTS: SessionUser = { id: 'demo-user', orgId: 'demo-org', role: 'analyst' };

export async function getSession(env: Env = process.env): Promise<Session | null> {
  const production = env.NODE_ENV === 'production';
  const pick = (value: string | undefined, fallback: string): string | undefined => {
    const trimmed = value?.trim();
    if (trimmed) return trimmed;
    return production ? undefined : fallback;
  };
  const id = pick(env.DEMO_USER_ID, DEMO_DEFAULTS.id);
  const orgId = pick(env.DEMO_ORG_ID, DEMO_DEFAULTS.orgId);
  const role = pick(env.DEMO_ROLE, DEMO_DEFAULTS.role);
  if (!id || !orgId || !role) return null;
  return { user: { id, orgId, role } };
}
