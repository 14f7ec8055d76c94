// The collectors area: the Collector port, every collector kind and the registry that builds them.
export * from './collector.js';
export * from './collector-name.js';
export * from './exposition.js';
export * from './host.js';
export * from './http-push.js';
export * from './influx.js';
export * from './mqtt.js';
export * from './prometheus.js';
export * from './registry.js';
export * from './relabel.js';
export * from './sim-battery.js';
export * from './sim-fire-camera.js';
