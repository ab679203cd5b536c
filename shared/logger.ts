/**
 * pino, configured once. Every line about an egress carries `egressId`; known secret-bearing fields are
 * censored wherever they appear, as a second line of defence behind redaction at the edge.
 */
import { pino, type Logger } from 'pino';
import type { Config } from './config/schema.ts';

export const REDACTED_LOG_PATHS = [
  'api_secret', '*.api_secret', 'secret', '*.secret', '*.*.secret', 'password', '*.password', '*.*.password',
  'accessKey', '*.accessKey', '*.*.accessKey', 'access_key', '*.access_key', 'credentials', '*.credentials',
  '*.*.credentials', 'accountKey', '*.accountKey', '*.*.accountKey', 'signingKey', '*.signingKey', 'token', '*.token',
  'authorization', '*.authorization', 'req.headers.authorization', 'sessionToken', '*.sessionToken',
];

export function createLogger(config: Pick<Config, 'logging'>, name: string): Logger {
  return pino({
    name,
    level: config.logging.level,
    redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' },
    ...(config.logging.json ? {} : { transport: { target: 'pino-pretty', options: { colorize: true } } }),
  });
}

export type { Logger };
