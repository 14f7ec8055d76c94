// A small typed event emitter shared by the transport implementations.

import { EventEmitter } from 'node:events';
import type { TransportEvents } from './transport.js';

export class TransportEmitter {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Many consumers (agent, hub, CLI, tests) may listen to one transport.
    this.emitter.setMaxListeners(0);
  }

  on<E extends keyof TransportEvents>(event: E, listener: (...args: TransportEvents[E]) => void): void {
    this.emitter.on(event, listener as (...args: unknown[]) => void);
  }

  off<E extends keyof TransportEvents>(event: E, listener: (...args: TransportEvents[E]) => void): void {
    this.emitter.off(event, listener as (...args: unknown[]) => void);
  }

  emit<E extends keyof TransportEvents>(event: E, ...args: TransportEvents[E]): void {
    this.emitter.emit(event, ...args);
  }
}
