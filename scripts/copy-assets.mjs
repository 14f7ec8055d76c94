#!/usr/bin/env node
// Copies what the build needs besides compiled TypeScript into dist/: the simulator's built-in scenarios.
import { cpSync } from 'node:fs';

cpSync('src/sim/scenarios', 'dist/sim/scenarios', { recursive: true });
