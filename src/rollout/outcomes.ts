/**
 * Whose fault a routed request's outcome is, for judging a canary:
 * - `success`;
 * - `client`: what the request itself caused, the same on any version: invalid_argument,
 *   not_found, cancelled (the client went away), payload_too_large, request_timeout (its body
 *   came too slowly), unauthenticated, forbidden. Not judged: they say nothing of the version.
 *   (A canary whose inputs differ from the primary's would refuse valid requests as
 *   invalid_argument; a rollout refuses such a target when it starts.)
 * - `neutral`: shutting_down, which every version answers while the server drains. Not judged.
 * - `fault`: everything else: internal (the model failed), overloaded (its queue was full),
 *   deadline_exceeded (it kept the request past its deadline), model_not_ready, unavailable,
 *   and any code not listed here, so that a new kind of failure counts against the canary
 *   rather than passing unseen.
 */
export type OutcomeClass = 'success' | 'client' | 'neutral' | 'fault';

const CLIENT = new Set(['invalid_argument', 'not_found', 'cancelled', 'payload_too_large', 'request_timeout', 'unauthenticated', 'forbidden']);

/** O(1), allocates nothing: called for every routed request. */
export function classifyOutcome(outcome: string): OutcomeClass {
  if (outcome === 'success') return 'success';
  if (CLIENT.has(outcome)) return 'client';
  if (outcome === 'shutting_down') return 'neutral';
  return 'fault';
}
