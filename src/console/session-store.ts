/**
 * Console sessions: a signed-in admin token becomes a random session id in an
 * HttpOnly cookie and a CSRF token the page sends back on every change. Only the
 * token's name is kept, never the token. Sessions end at a fixed expiry (not
 * extended by use) or on sign-out; the table is bounded, oldest dropped first.
 */
import { randomBytes } from 'node:crypto';

export const COOKIE_NAME = 'brisk_console';
/** Enough for every operator on a shift; a flood of sign-ins cannot grow memory past it. */
const MAX_SESSIONS = 1000;

export interface Session {
  /** The admin token's name: what the audit trail records. */
  name: string;
  csrf: string;
  expiresAtMs: number;
}

const randomId = (): string => randomBytes(32).toString('base64url');

export class SessionStore {
  // Map keeps insertion order: the first key is the oldest session.
  private readonly sessions = new Map<string, Session>();

  constructor(
    readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  create(name: string): { id: string; session: Session } {
    this.prune();
    while (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const id = randomId();
    const session: Session = { name, csrf: randomId(), expiresAtMs: this.now() + this.ttlSeconds * 1000 };
    this.sessions.set(id, session);
    return { id, session };
  }

  /** The live session a Cookie header names, or undefined (an expired one is forgotten). */
  fromCookie(cookieHeader: string): { id: string; session: Session } | undefined {
    const id = cookieValue(cookieHeader, COOKIE_NAME);
    if (!id) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    if (session.expiresAtMs <= this.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return { id, session };
  }

  end(id: string): void {
    this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }

  private prune(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) if (s.expiresAtMs <= now) this.sessions.delete(id);
  }
}

/** One cookie's value from a Cookie header; undefined when absent or not a plain token. */
export function cookieValue(header: string, name: string): string | undefined {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    return /^[A-Za-z0-9_-]{1,128}$/.test(value) ? value : undefined;
  }
  return undefined;
}

/** The Set-Cookie value for a session; Secure when the page came over TLS (a plain-HTTP browser would drop a Secure cookie). */
export function sessionCookie(id: string, ttlSeconds: number, secure: boolean): string {
  return `${COOKIE_NAME}=${id}; Path=/console; Max-Age=${ttlSeconds}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function clearedCookie(secure: boolean): string {
  return `${COOKIE_NAME}=; Path=/console; Max-Age=0; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}
