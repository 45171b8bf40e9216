import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { tempDir } from '../helpers/repository.js';

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    expect(loadConfig([], {})).toMatchObject({
      modelRepository: './models',
      host: '0.0.0.0',
      httpPort: 8000,
      grpcPort: 8001,
      adminPort: 8002,
      maxBodyBytes: 64 * 1024 * 1024,
    });
  });

  it('takes the file, then the environment, then flags, the last winning', () => {
    const file = path.join(tempDir('config'), 'server.json');
    writeFileSync(file, JSON.stringify({ httpPort: 9000, grpcPort: 9001, host: '127.0.0.1' }));
    const config = loadConfig(['--config', file, '--http-port', '9100'], { BRISK_HTTP_PORT: '9050', BRISK_GRPC_PORT: '9051' });
    expect(config).toMatchObject({ httpPort: 9100, grpcPort: 9051, host: '127.0.0.1' });
  });

  it('is frozen', () => {
    expect(Object.isFrozen(loadConfig([], {}))).toBe(true);
  });

  it.each([
    [['--http-port', '70000'], /httpPort \(--http-port \/ BRISK_HTTP_PORT\): .*65535/],
    [['--http-port', 'eighty'], /httpPort/],
    [['--grpc-port', '8000'], /grpcPort .*same port as httpPort/],
    [['--log-level', 'loud'], /logLevel/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['--config', '/nonexistent/brisk.json'], /cannot read config file \/nonexistent\/brisk.json: ENOENT/],
  ])('refuses %j with one line naming it', (argv, message) => {
    let error: unknown;
    try {
      loadConfig(argv, {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });

  it('names a config file key it does not know', () => {
    const file = path.join(tempDir('config'), 'server.json');
    writeFileSync(file, JSON.stringify({ httpport: 1 }));
    expect(() => loadConfig(['--config', file], {})).toThrow(/httpport/);
  });
});
