// For tests of zones with real agents: a collector the test drives, emitting detections as a detector would
// (excluded from the build by tsconfig.build.json's *-test-kit.ts rule).

import type { Detection } from '../../protocol/consensus/types.js';
import type { Collector, CollectorContext } from '../collectors/collector.js';
import { detectionEvent } from '../collectors/detections.js';

export type TestDetector = Collector & { see(camera: string, confidence: number): Promise<void> };

/** `see(camera, confidence)` emits a fire detection of that camera by the agent's node, at its clock's now. */
export function testDetector(): TestDetector {
  let ctx: CollectorContext | undefined;
  let n = 0;
  return {
    kind: 'detector',
    name: 'detector',
    async start(c) {
      ctx = c;
    },
    async stop() {},
    async see(camera, confidence) {
      const c = ctx as CollectorContext;
      const d: Detection = {
        id: `${c.identity.node}-${n++}`,
        camera,
        node: c.identity.node,
        class: 'fire',
        confidence,
        time: c.clock.now(),
      };
      await c.emit(detectionEvent(d));
    },
  };
}
