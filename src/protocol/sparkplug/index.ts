export * from './payload.js';
export * from './topics.js';
