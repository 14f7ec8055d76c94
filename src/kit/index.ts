// The kit: small pieces every area may use and that import nothing of ours.
export * from './backoff.js';
export * from './clock.js';
export * from './config.js';
export * from './duration.js';
export * from './errors.js';
export * from './group-commit.js';
export * from './ids.js';
export * from './logger.js';
export * from './quantiles.js';
export * from './secrets.js';
export * from './seeded-random.js';
