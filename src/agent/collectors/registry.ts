// The list of every collector kind: the `collectors:` config schema of node.yaml and the factory.

import { z } from 'zod';
import type { Collector } from './collector.js';
import { collectorName } from './collector-name.js';
import { createHostCollector, hostCollectorSchema } from './host.js';
import { createHttpPushCollector, httpPushCollectorSchema } from './http-push.js';
import { createInfluxCollector, influxCollectorSchema } from './influx.js';
import { createMqttCollector, mqttCollectorSchema } from './mqtt.js';
import { createPrometheusCollector, prometheusCollectorSchema } from './prometheus.js';
import { createRemoteWriteCollector, remoteWriteCollectorSchema } from './remote-write.js';
import { createSimBatteryCollector, simBatteryCollectorSchema } from './sim-battery.js';
import { createSimFireCameraCollector, simFireCameraCollectorSchema } from './sim-fire-camera.js';

export const collectorConfigSchema = z.discriminatedUnion('type', [
  prometheusCollectorSchema,
  httpPushCollectorSchema,
  influxCollectorSchema,
  remoteWriteCollectorSchema,
  mqttCollectorSchema,
  hostCollectorSchema,
  simBatteryCollectorSchema,
  simFireCameraCollectorSchema,
]);

export type CollectorConfig = z.output<typeof collectorConfigSchema>;

/**
 * The `collectors:` list: each name (given, or `<type>-<index>`) unique on the node, since the name labels
 * its metrics and identifies it when configuration layers merge lists by name (docs/config-as-code.md).
 */
export const collectorsConfigSchema = z.array(collectorConfigSchema).superRefine((list, ctx) => {
  const seen = new Map<string, number>();
  list.forEach((c, i) => {
    const name = collectorName(c.type, c.name, i);
    const first = seen.get(name);
    if (first === undefined) seen.set(name, i);
    else
      ctx.addIssue({
        code: 'custom',
        path: [i, 'name'],
        message: `collector name "${name}" is taken by collectors[${first}]; names are unique per node`,
      });
  });
});

/** Builds the collector for one `collectors:` entry; `index` is its position in the list. */
export function createCollector(config: CollectorConfig, index: number): Collector {
  switch (config.type) {
    case 'prometheus':
      return createPrometheusCollector(config, index);
    case 'http_push':
      return createHttpPushCollector(config, index);
    case 'influx':
      return createInfluxCollector(config, index);
    case 'remote_write':
      return createRemoteWriteCollector(config, index);
    case 'mqtt':
      return createMqttCollector(config, index);
    case 'host':
      return createHostCollector(config, index);
    case 'sim_battery':
      return createSimBatteryCollector(config, index);
    case 'sim_fire_camera':
      return createSimFireCameraCollector(config, index);
    default: {
      const never: never = config;
      throw new Error(`unknown collector type ${JSON.stringify((never as { type: unknown }).type)}`);
    }
  }
}
