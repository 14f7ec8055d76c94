// Node-only helpers shared by the processes (agent, hub, broker): things the browser-safe kit cannot hold.
export * from './boot-counter.js';
export * from './durable-file.js';
export * from './https-server.js';
export * from './push-auth.js';
export * from './push-http.js';
export * from './remote-write-support.js';
export * from './sqlite-open.js';
export * from './tls-listener.js';
