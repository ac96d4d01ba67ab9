/**
 * S3 and the sources: credentials the AWS SDK's default chain can find, and each source —
 * named on the command line or registered in the live collection — readable the way a run
 * reads it (a prefix listed, a records file or image found, a local path present and readable).
 */
import fs from 'node:fs';
import { HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../../shared/config/index.ts';
import { describeError } from '../../shared/errors.ts';
import { createS3Client, parseSourceSpec, type SourceSpec } from '../../shared/sources/index.ts';
import { fail, ok, skip, within, type Finding } from './check.ts';

export interface SourceToCheck {
  spec: string;
  /** Where it was found: `argument` or `registered`. */
  origin: string;
}

export async function checkSources(config: Config, sources: readonly SourceToCheck[], timeoutMs: number, s3Factory: () => S3Client = () => createS3Client(config.s3)): Promise<Finding[]> {
  const findings: Finding[] = [];
  const parsed: Array<{ source: SourceToCheck; spec?: SourceSpec; error?: unknown }> = sources.map((source) => {
    try {
      return { source, spec: parseSourceSpec(source.spec) };
    } catch (error) {
      return { source, error };
    }
  });
  const usesS3 = parsed.some((p) => p.spec?.kind.startsWith('s3') || /^s3:/i.test(p.source.spec));
  let s3: S3Client | undefined;
  if (usesS3 || config.s3.endpoint) {
    s3 = s3Factory();
    try {
      const credentials = await within('the AWS credential chain', timeoutMs, s3.config.credentials());
      findings.push(ok('s3.credentials', `access key ${credentials.accessKeyId.slice(0, 4)}… from the AWS SDK's default chain${config.s3.endpoint ? `, endpoint ${config.s3.endpoint}` : ''}`));
    } catch (err) {
      findings.push(
        fail('s3.credentials', `no S3 credentials: ${describeError(err)}`, 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or give the pod/instance a role)'),
      );
      s3 = undefined;
    }
  } else {
    findings.push(skip('s3.credentials', 'no S3 source and no S3_ENDPOINT: S3 is not used'));
  }
  if (sources.length === 0) findings.push(skip('sources', 'no source named and none registered in the collection yet'));
  for (const { source, spec, error } of parsed) {
    const name = `source ${source.spec}`;
    const check = `sources.${source.origin}`;
    if (!spec) {
      findings.push(fail(check, `${name}: ${describeError(error)}`, source.origin === 'registered' ? 'restore it, or re-run `clipstream sync` with the sources that exist now' : 'fix the source argument'));
      continue;
    }
    try {
      findings.push(ok(check, `${name}: ${await probe(spec, s3, timeoutMs)}`));
    } catch (err) {
      findings.push(fail(check, `${name}: ${s3Reason(err)}`, spec.kind.startsWith('s3') ? 'check the bucket, the prefix and the credentials\' permissions (s3:ListBucket, s3:GetObject)' : 'check the path and its permissions'));
    }
  }
  return findings;
}

async function probe(spec: SourceSpec, s3: S3Client | undefined, timeoutMs: number): Promise<string> {
  switch (spec.kind) {
    case 's3-prefix': {
      if (!s3) throw new Error('not checked: no S3 credentials');
      const listed = await within(`S3 (s3://${spec.bucket})`, timeoutMs, s3.send(new ListObjectsV2Command({ Bucket: spec.bucket, Prefix: spec.prefix, MaxKeys: 1 })));
      return (listed.KeyCount ?? 0) > 0 ? 'listable' : 'listable, but empty';
    }
    case 's3-records':
    case 's3-image': {
      if (!s3) throw new Error('not checked: no S3 credentials');
      const head = await within(`S3 (s3://${spec.bucket})`, timeoutMs, s3.send(new HeadObjectCommand({ Bucket: spec.bucket, Key: spec.key })));
      return `readable (${head.ContentLength ?? 0} bytes)`;
    }
    case 'local-folder':
      fs.accessSync(spec.path, fs.constants.R_OK | fs.constants.X_OK);
      return 'a readable folder';
    case 'local-records':
    case 'local-image':
      fs.accessSync(spec.path, fs.constants.R_OK);
      return `readable (${fs.statSync(spec.path).size} bytes)`;
  }
}

/** S3 says 404 and 403 with bare error names (`NotFound`, `UnknownError`): say what they mean. */
function s3Reason(err: unknown): string {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  if (status === 404) return `not found (${e.name ?? 'NotFound'}: no such bucket or key)`;
  if (status === 403) return `access denied (${e.name ?? 'AccessDenied'}): the credentials lack s3:ListBucket / s3:GetObject here`;
  return describeError(err);
}
