/**
 * Issue 12, item 5, through the admin API of a real server: promote and rollback
 * of an unknown route answered 409 (rollback always, promote with an If-Match),
 * and promote gave all the traffic to the highest version number across models,
 * so a canary of another model with a higher number took the route over.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS, TEST_MODELS } from '../../src/modelgen/catalog.js';
import { adminClient, TEST_ADMIN_TOKEN } from '../helpers/admin.js';
import { writeRepository } from '../helpers/repository.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let admin: ReturnType<typeof adminClient>;

beforeAll(async () => {
  const repository = writeRepository([
    ...BUNDLED_MODELS.filter((e) => e.model === 'scorer').map((entry) => ({ entry, config: { version_policy: { all: {} } } })),
    // Another model whose only version has a higher number than any of scorer's.
    { entry: { ...TEST_MODELS.fast, version: 7 } },
  ]);
  server = await startServer(repository, [], { ADMIN_TOKEN: TEST_ADMIN_TOKEN });
  admin = adminClient(server);
});

afterAll(async () => {
  await server?.stop();
});

describe('admin edge cases', () => {
  it('promote and rollback of a route that does not exist answer 404, with or without If-Match', async () => {
    for (const route of ['nope', 'constructor', '__proto__']) {
      for (const action of ['promote', 'rollback']) {
        for (const headers of [{}, { 'if-match': '"3"' }, { 'if-match': '"0"' }] as Record<string, string>[]) {
          const answer = await admin('POST', `/admin/routes/${route}/${action}`, undefined, headers);
          expect(answer.status, `${action} ${route} ${JSON.stringify(headers)}`).toBe(404);
          expect(answer.json()['error']).toBe(`no route ${route}`);
        }
      }
    }
    expect((await admin('GET', '/admin/audit')).json()['entries']).toEqual([]);
  });

  it("promote gives all the traffic to the newest version of the primary's model, not to another model's higher version", async () => {
    const targets = [
      { model: 'scorer', version: '1', weight: 80 },
      { model: 'scorer', version: '2', weight: 10 },
      { model: 'fast', version: '7', weight: 10 },
    ];
    expect((await admin('PUT', '/admin/routes/mixed', { targets })).status).toBe(200);
    const promoted = await admin('POST', '/admin/routes/mixed/promote', undefined, { 'if-match': '"1"' });
    expect(promoted.status).toBe(200);
    expect(promoted.json()['targets']).toEqual([{ model: 'scorer', version: '2', weight: 100 }]);
    // And rollback brings the split back.
    const back = await admin('POST', '/admin/routes/mixed/rollback');
    expect(back.json()['targets']).toEqual(targets);
  });
});
