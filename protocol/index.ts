export * from './ids.js';
export * from './topics.js';
export * from './schemas.js';
export * from './commands.js';
export * from './codec.js';
export * from './api.js';
export * from './envelope.js';
export * from './pki.js';
