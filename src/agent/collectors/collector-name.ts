// How a collector is named: its config `name`, or its kind and position in the `collectors:` list.

import { z } from 'zod';

/** The optional `name` every collector config takes; it becomes the `collector` label of agent metrics. */
export const collectorNameSchema = z
  .string()
  .regex(/^[a-zA-Z0-9_.-]{1,63}$/, 'expected letters, digits, ".", "-" or "_" (at most 63)')
  .optional();

export function collectorName(kind: string, name: string | undefined, index: number): string {
  return name ?? `${kind}-${index}`;
}
