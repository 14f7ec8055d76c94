// A pump behind an MQTT relay: publishes ON/OFF to the seed's `gpio/pump/<id>` topic through the
// agent's Transport, and reads back the state the relay publishes on its state topic.

import { FieldmeshError, systemClock } from '../../kit/index.js';
import type { MqttPumpDriverConfig } from '../../protocol/consensus/index.js';
import type { TransportMessage } from '../../transport/index.js';
import type { PumpDriver, PumpDriverDeps, PumpReading } from './pump-driver.js';

/** How long `read` waits for the relay to report after a command (a relay on the LAN answers in tens of ms). */
export const MQTT_DRIVER_READ_TIMEOUT_MS = 2000;
/**
 * How long a command waits for the node's broker link before it fails: the link comes up a few ms after
 * the node starts, when the pump is told to stop (or resumes its run) [FM-ZONE-ACT-9], and after a reconnect.
 */
export const MQTT_DRIVER_LINK_TIMEOUT_MS = 5000;

export function createMqttPumpDriver(config: MqttPumpDriverConfig, deps: PumpDriverDeps): PumpDriver {
  const transport = deps.transport;
  if (!transport) throw new FieldmeshError('FM_CONFIG_INVALID', `pump ${deps.pump}: the mqtt driver needs the node's MQTT transport`);
  const clock = deps.clock ?? systemClock;
  // Topics and payloads come filled in by the zone configuration (gpio/pump/<id>, <topic>/state, ON, OFF);
  // the relay reports its state with the same payloads it is commanded with.
  const { topic, stateTopic, on: payloadOn, off: payloadOff } = config;
  const readTimeoutMs = deps.readTimeoutMs ?? MQTT_DRIVER_READ_TIMEOUT_MS;
  const linkTimeoutMs = deps.linkTimeoutMs ?? MQTT_DRIVER_LINK_TIMEOUT_MS;
  const decoder = new TextDecoder();
  /** The relay's last reported state, and whether it came after our last command. */
  let reported: PumpReading = 'unknown';
  let reportedSinceCommand = false;
  let waiters: (() => void)[] = [];

  const onMessage = (message: TransportMessage): void => {
    const text = decoder.decode(message.payload).trim();
    reported = text === payloadOn ? 'running' : text === payloadOff ? 'stopped' : 'unknown';
    reportedSinceCommand = true;
    const ready = waiters;
    waiters = [];
    for (const w of ready) w();
  };
  // The relay's own topic, not a fieldmesh frame: straight from the transport.
  const subscription = transport.subscribe(stateTopic, onMessage);

  /** Resolves when the link is up, or after `linkTimeoutMs` (the publish then fails: the link is down). */
  function linkUp(): Promise<void> {
    if (transport!.connected) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clock.clearTimeout(timer);
        transport!.off('connected', done);
        resolve();
      };
      const timer = clock.setTimeout(done, linkTimeoutMs);
      transport!.on('connected', done);
    });
  }

  async function send(op: 'start' | 'stop', payload: string): Promise<void> {
    await linkUp();
    // Restored before `connected` fires: a state the relay reports after the command is not missed.
    if (transport!.connected) await subscription.ready;
    reportedSinceCommand = false;
    try {
      await transport!.publish(topic, new TextEncoder().encode(payload), { qos: config.qos, retain: config.retain });
    } catch (err) {
      throw new FieldmeshError('FM_PUMP_DRIVER_FAILED', `pump ${deps.pump}: ${op} publish to ${topic} failed: ${(err as Error).message}`, {
        cause: err,
        details: { op, topic },
      });
    }
  }

  return {
    start: () => send('start', payloadOn),
    stop: () => send('stop', payloadOff),
    async read(): Promise<PumpReading> {
      if (!reportedSinceCommand) {
        // Wait for the relay's answer to our last command; without one we cannot tell.
        await new Promise<void>((resolve) => {
          const timer = clock.setTimeout(() => {
            waiters = waiters.filter((w) => w !== done);
            resolve();
          }, readTimeoutMs);
          const done = (): void => {
            clock.clearTimeout(timer);
            resolve();
          };
          waiters.push(done);
        });
        if (!reportedSinceCommand) return 'unknown';
      }
      return reported;
    },
    async close() {
      subscription.unsubscribe();
      for (const w of waiters) w();
      waiters = [];
    },
  };
}
