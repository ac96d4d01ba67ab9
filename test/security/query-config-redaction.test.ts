/**
 * `clipstream config` masks real secrets — API keys, tokens, passwords, URL passwords — and
 * nothing else: `textMaxTokens` is a limit and is printed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { redactConfig } from '../../bin/commands/config.ts';

test('redactConfig masks secrets by key and URL passwords, and keeps limits whose names contain "Tokens"', () => {
  const shown = redactConfig({
    encoder: { textMaxTokens: 512 },
    model: { hfToken: 'hf_abc', repo: 'jinaai/jina-clip-v2' },
    server: { apiKey: 'k', host: '127.0.0.1' },
    store: { qdrantApiKey: 'q', qdrantUrl: 'https://admin:pa55@qdrant.example:6333' },
    queue: { redisUrl: 'redis://:r3dis@cache:6379/2' },
    s3: { awsSecretAccessKey: 'aws', sessionToken: 'st', password: 'p', endpoint: 'http://minio:9000' },
  });
  assert.deepEqual(shown, {
    encoder: { textMaxTokens: 512 },
    model: { hfToken: '***', repo: 'jinaai/jina-clip-v2' },
    server: { apiKey: '***', host: '127.0.0.1' },
    store: { qdrantApiKey: '***', qdrantUrl: 'https://admin:***@qdrant.example:6333' },
    queue: { redisUrl: 'redis://:***@cache:6379/2' },
    s3: { awsSecretAccessKey: '***', sessionToken: '***', password: '***', endpoint: 'http://minio:9000' },
  });
});

test('clipstream config prints textMaxTokens and no secret from the environment', () => {
  const out = execFileSync(process.execPath, ['bin/clipstream.mjs', 'config'], {
    env: {
      PATH: process.env.PATH,
      HF_TOKEN: 'hf_secret_value',
      API_KEY: 'api-secret-value',
      QDRANT_API_KEY: 'qdrant-secret-value',
      REDIS_URL: 'redis://:redis-secret-value@127.0.0.1:6379/3',
      TEXT_MAX_TOKENS: '300',
    },
    encoding: 'utf8',
  });
  const printed = JSON.parse(out) as { encoder: { textMaxTokens: unknown }; model: { hfToken: unknown }; queue: { redisUrl: string } };
  assert.equal(printed.encoder.textMaxTokens, 300);
  assert.equal(printed.model.hfToken, '***');
  assert.equal(printed.queue.redisUrl, 'redis://:***@127.0.0.1:6379/3');
  assert.doesNotMatch(out, /secret-value|hf_secret/);
});
