/**
 * pino, configured once. Every line about an egress carries `egressId`; known secret-bearing fields are
 * censored wherever they appear, as a second line of defence behind redaction at the edge. JSON lines, or
 * readable lines (pino-pretty, in a worker thread: lines reach it already redacted) when `logging.json` is
 * false, which it is by default in a terminal.
 */
import { pino, type Logger } from 'pino';
import type { LoadedConfig } from './config/load.ts';
import { REDACTED } from './redact.ts';

export const REDACTED_LOG_PATHS = [
  'api_secret',
  '*.api_secret',
  'secret',
  '*.secret',
  '*.*.secret',
  'password',
  '*.password',
  '*.*.password',
  'accessKey',
  '*.accessKey',
  '*.*.accessKey',
  'access_key',
  '*.access_key',
  'credentials',
  '*.credentials',
  '*.*.credentials',
  'accountKey',
  '*.accountKey',
  '*.*.accountKey',
  'signingKey',
  '*.signingKey',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'sessionToken',
  '*.sessionToken',
  'sentinel_password',
  '*.sentinel_password',
  '*.*.sentinel_password',
  'sentinelPassword',
  '*.sentinelPassword',
  '*.*.sentinelPassword',
];

export function createLogger(config: Pick<LoadedConfig, 'logging'>, name: string): Logger {
  return pino({
    name,
    level: config.logging.level,
    redact: { paths: REDACTED_LOG_PATHS, censor: REDACTED },
    ...(config.logging.json
      ? {}
      : { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }),
  });
}

export type { Logger };
