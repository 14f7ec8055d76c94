// Reads a YAML config file (or none) and validates it with the environment applied; secrets' `_file` keys
// (and FIELDMESH_*_FILE variables) are read from the files they name.

import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { FieldmeshError, loadConfig } from '../kit/index.js';

export function loadConfigFile<S extends z.ZodType>(
  schema: S,
  file: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  aliases?: Readonly<Record<string, string>>,
): Readonly<z.output<S>> {
  let text: string | undefined;
  if (file !== undefined) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new FieldmeshError(
        'FM_CONFIG_UNREADABLE',
        `${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }
  return loadConfig(schema, { text, file: file ?? '(environment)', env, aliases, readFile: (path) => readFileSync(path, 'utf8') });
}
