/** @module bench/baselines/redis-connection — the local Redis every BullMQ baseline uses. */
export const REDIS_HOST = "127.0.0.1";
export const REDIS_PORT = 6379;

/** Connection options BullMQ turns into its own ioredis clients. */
export const BULLMQ_CONNECTION = { host: REDIS_HOST, port: REDIS_PORT };
