import { MemoryStore, RedisStore } from '../../src/storage/store/index.ts';
import { TEST_REDIS_URL } from '../helpers/env.ts';
import { describeStoreContract } from '../helpers/store-contract.ts';

// Redis Sentinel and Cluster run the same suite in redis-sentinel.test.ts and redis-cluster.test.ts.
describeStoreContract('RedisStore', () => RedisStore.connect(TEST_REDIS_URL));
describeStoreContract('MemoryStore', async () => new MemoryStore());
