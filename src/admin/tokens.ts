/**
 * Admin bearer tokens, each with a name for the audit trail. Comparison is in
 * constant time: every configured token is compared, by digests of equal length.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface AdminToken {
  name: string;
  digest: Buffer;
}

const digest = (token: string): Buffer => createHash('sha256').update(token).digest();

/** Tokens from ADMIN_TOKEN (named "ADMIN_TOKEN") and from the token file ("<name> <token>" or "<token>" per line). */
export function loadAdminTokens(envToken: string | undefined, tokenFile: string | undefined): AdminToken[] {
  const tokens: AdminToken[] = [];
  if (envToken) tokens.push({ name: 'ADMIN_TOKEN', digest: digest(envToken) });
  if (tokenFile) {
    readFileSync(tokenFile, 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'))
      .forEach((line, i) => {
        const parts = line.split(/\s+/);
        const [name, token] = parts.length > 1 ? [parts[0]!, parts[1]!] : [`token-file line ${i + 1}`, parts[0]!];
        if (token.length < 16) throw new Error(`admin token "${name}" in ${tokenFile} is shorter than 16 characters`);
        tokens.push({ name, digest: digest(token) });
      });
  }
  return tokens;
}

/** The name of the token in an `Authorization: Bearer …` header, or undefined. */
export function authenticate(header: string, tokens: readonly AdminToken[]): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  const given = digest(match?.[1] ?? '');
  let name: string | undefined;
  for (const token of tokens) {
    if (timingSafeEqual(given, token.digest) && match) name ??= token.name;
  }
  return name;
}
