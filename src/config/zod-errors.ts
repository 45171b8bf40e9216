import type { z } from 'zod';

/** One line per problem, naming the field: `dynamic_batching.max_queue_size: Too small: expected number to be >=1`. */
export function formatZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}
