// Sparkplug B topic namespace (Sparkplug 3.0 §4.1): spBv1.0/<group>/<type>/<edge node>[/<device>] and the host
// applications' spBv1.0/STATE/<host id>.

export const SPARKPLUG_NAMESPACE = 'spBv1.0';

export type SparkplugNodeMessage = 'NBIRTH' | 'NDATA' | 'NDEATH' | 'NCMD';
export type SparkplugDeviceMessage = 'DBIRTH' | 'DDATA' | 'DDEATH' | 'DCMD';

/** A Sparkplug id (group, edge node, device, host): UTF-8 without the MQTT separators and wildcards. */
export function isSparkplugId(id: string): boolean {
  return id.length > 0 && !/[/+#]/.test(id);
}

export function sparkplugNodeTopic(group: string, type: SparkplugNodeMessage, edgeNode: string): string {
  return `${SPARKPLUG_NAMESPACE}/${group}/${type}/${edgeNode}`;
}

export function sparkplugDeviceTopic(group: string, type: SparkplugDeviceMessage, edgeNode: string, device: string): string {
  return `${SPARKPLUG_NAMESPACE}/${group}/${type}/${edgeNode}/${device}`;
}

export function sparkplugStateTopic(hostId: string): string {
  return `${SPARKPLUG_NAMESPACE}/STATE/${hostId}`;
}

/** A host application's STATE (Sparkplug 3.0: retained JSON `{"online":bool,"timestamp":ms}`). */
export interface SparkplugHostState {
  readonly online: boolean;
  readonly timestamp: number;
}

/** The STATE payload, or undefined when it is not Sparkplug 3.0 JSON (say a 2.2 host's "ONLINE"). */
export function parseSparkplugHostState(bytes: Uint8Array | string): SparkplugHostState | undefined {
  try {
    const o = JSON.parse(typeof bytes === 'string' ? bytes : new TextDecoder().decode(bytes)) as unknown;
    if (typeof o !== 'object' || o === null) return undefined;
    const { online, timestamp } = o as Record<string, unknown>;
    if (typeof online !== 'boolean' || typeof timestamp !== 'number' || !Number.isFinite(timestamp)) return undefined;
    return { online, timestamp };
  } catch {
    return undefined;
  }
}
