/**
 * The error catalog: every error the service reports, with a stable code, the Twirp code (and so the
 * HTTP status) of an RPC that fails with it, and the HTTP-style `error_code` an EgressInfo carries when
 * an egress ends with it. Codes are API: never rename one.
 */

/** Twirp error codes and the HTTP status Twirp gives each (twirp spec, "Error codes"). */
export const TWIRP_HTTP_STATUS = {
  canceled: 408,
  unknown: 500,
  invalid_argument: 400,
  malformed: 400,
  deadline_exceeded: 408,
  not_found: 404,
  bad_route: 404,
  already_exists: 409,
  permission_denied: 403,
  unauthenticated: 401,
  resource_exhausted: 429,
  failed_precondition: 412,
  aborted: 409,
  out_of_range: 400,
  unimplemented: 501,
  internal: 500,
  unavailable: 503,
  dataloss: 500,
} as const;

export type TwirpCode = keyof typeof TWIRP_HTTP_STATUS;

interface CatalogEntry {
  /** Twirp code of an RPC failing with this error. */
  twirp: TwirpCode;
  /** HTTP-style code written to EgressInfo.error_code when an egress ends with this error. */
  egressCode: number;
  /** The cause lies with the caller's destination (their URL, bucket, page), not with us. */
  destination?: boolean;
}

export const ERRORS = {
  EGR_ERR_INVALID_ARGUMENT: { twirp: 'invalid_argument', egressCode: 400 },
  EGR_ERR_MALFORMED: { twirp: 'malformed', egressCode: 400 },
  EGR_ERR_BAD_ROUTE: { twirp: 'bad_route', egressCode: 404 },
  EGR_ERR_UNAUTHENTICATED: { twirp: 'unauthenticated', egressCode: 401 },
  EGR_ERR_PERMISSION_DENIED: { twirp: 'permission_denied', egressCode: 403 },
  EGR_ERR_NOT_FOUND: { twirp: 'not_found', egressCode: 404 },
  EGR_ERR_ALREADY_EXISTS: { twirp: 'already_exists', egressCode: 409 },
  EGR_ERR_FAILED_PRECONDITION: { twirp: 'failed_precondition', egressCode: 412 },
  EGR_ERR_RATE_LIMITED: { twirp: 'resource_exhausted', egressCode: 429 },
  EGR_ERR_UNAVAILABLE: { twirp: 'unavailable', egressCode: 503 },
  EGR_ERR_INTERNAL: { twirp: 'internal', egressCode: 500 },
  /** Stopped before the recorder started. */
  EGR_ERR_ABORTED_BEFORE_START: { twirp: 'failed_precondition', egressCode: 412 },
  /** No worker could start it before its start deadline. */
  EGR_ERR_START_DEADLINE: { twirp: 'unavailable', egressCode: 503 },
  /** The page never logged START_RECORDING. */
  EGR_ERR_START_SIGNAL: { twirp: 'failed_precondition', egressCode: 412 },
  /** The request needs a part this version does not have yet. */
  EGR_ERR_NOT_SUPPORTED: { twirp: 'failed_precondition', egressCode: 501 },
  EGR_ERR_PAGE_LOAD: { twirp: 'invalid_argument', egressCode: 400, destination: true },
  EGR_ERR_BROWSER_CRASHED: { twirp: 'internal', egressCode: 500 },
  EGR_ERR_ENCODER_FAILED: { twirp: 'internal', egressCode: 500 },
  EGR_ERR_UPLOAD_FAILED: { twirp: 'invalid_argument', egressCode: 400, destination: true },
  EGR_ERR_LIMIT_REACHED: { twirp: 'resource_exhausted', egressCode: 413 },
  EGR_ERR_WORKER_LOST: { twirp: 'internal', egressCode: 500 },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorCode = keyof typeof ERRORS;

export class EgressError extends Error {
  readonly code: ErrorCode;
  readonly twirp: TwirpCode;
  readonly httpStatus: number;
  readonly egressCode: number;
  readonly destination: boolean;
  readonly meta: Record<string, string>;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; meta?: Record<string, string> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const entry: CatalogEntry = ERRORS[code];
    this.name = 'EgressError';
    this.code = code;
    this.twirp = entry.twirp;
    this.httpStatus = TWIRP_HTTP_STATUS[entry.twirp];
    this.egressCode = entry.egressCode;
    this.destination = entry.destination ?? false;
    this.meta = options.meta ?? {};
  }
}

/** LiveKit's message for a rejected request field: `request has missing or invalid field: <field>`. */
export function invalidField(field: string, detail?: string): EgressError {
  const message = `request has missing or invalid field: ${field}${detail ? ` (${detail})` : ''}`;
  return new EgressError('EGR_ERR_INVALID_ARGUMENT', message, { meta: { field } });
}

export function notFound(message: string): EgressError {
  return new EgressError('EGR_ERR_NOT_FOUND', message);
}

export function failedPrecondition(message: string): EgressError {
  return new EgressError('EGR_ERR_FAILED_PRECONDITION', message);
}

/** Any thrown value as an EgressError; unknown errors are internal. */
export function asEgressError(err: unknown): EgressError {
  if (err instanceof EgressError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new EgressError('EGR_ERR_INTERNAL', message, { cause: err });
}
