/**
 * How long a recording lease lives, how often its owner renews it, and how early the owner gives up: the
 * numbers that bound both halves of a takeover (issue 16). These are the defaults of the config's
 * `takeover.lease_ttl`, `lease_renew_interval` and `lease_safety_margin` (seconds there; shared/takeover/lease-config.ts).
 *
 * Why the TTL bounds the takeover gap. A worker that dies (SIGKILL, node lost, partitioned) stops renewing;
 * Redis drops its lease at most LEASE_TTL_MS after its last renewal (PX expiry, on Redis's clock, so no
 * worker's clock is trusted), and only then can another worker be granted the egress. The gap from the kill
 * to frames flowing again is therefore at most
 *   LEASE_TTL_MS (6 s: the kill came just after a renewal)
 *   + noticing the lapse and re-queueing the egress (≈ 1 s)
 *   + a free worker picking the job and its recorder joining the room or loading the page (≈ 3–6 s),
 * which keeps within the 15 s target. A shorter TTL shortens the gap, but then any Redis hiccup longer than
 * TTL − margin (5 s here) makes a healthy owner stop and its egress be taken over, with a gap: the trade this
 * number makes.
 *
 * Why the owner stops before Redis can hand the egress over. The owner counts its lease as valid until
 * `sent + LEASE_TTL_MS − LEASE_SAFETY_MARGIN_MS`, where `sent` is when its last successful renew request left
 * (local monotonic clock): Redis applied that renewal after `sent`, so the lease cannot lapse before
 * `sent + LEASE_TTL_MS`. The margin covers what separates the two: the owner's timer firing late (a loaded
 * event loop), the time it takes to stop its recorder, and the drift between its clock rate and Redis's.
 * Renewing every TTL/3 lets one renewal fail or be slow without losing the lease: with a renewal at t = 0
 * confirmed, the one at t = 2 s may fail as long as the one at t = 4 s is confirmed before t = 5 s.
 */

/** Default lifetime of a lease in Redis, from its grant or last renewal. */
export const LEASE_TTL_MS = 6_000;

/** Default renewal period: a third of the TTL. */
export const LEASE_RENEW_EVERY_MS = 2_000;

/** Default time before the lease can lapse at which its owner stops acting as owner (self-fencing). */
export const LEASE_SAFETY_MARGIN_MS = 1_000;
